"""Principal component pursuit by the inexact augmented Lagrangian method (Lin, Chen, Ma 2010, Algorithm 5).

Solves ``min ||L||_* + lam ||S||_1  subject to  D = L + S`` with the augmented Lagrangian
``||L||_* + lam ||S||_1 + <Y, D - L - S> + mu/2 ||D - L - S||_F^2`` and one pass of alternating minimisation per
multiplier update (the "inexact" ALM):

    L   = svt(D - S + Y/mu, 1/mu)
    S   = soft(D - L + Y/mu, lam/mu)
    Y   = Y + mu (D - L - S);   mu = min(rho mu, mu_max)

Defaults are those of the authors' reference code: ``Y0 = D / max(||D||_2, ||D||_inf / lam)`` (``||D||_inf`` the
largest absolute entry), ``mu0 = 1.25 / ||D||_2``, ``rho = 1.5``, ``mu_max = 1e7 mu0``, ``lam = 1/sqrt(max(m, n))``.
Residual (the stopping rule): ``||D - L - S||_F / ||D||_F``.

Implementation (same iterates, fewer passes over memory):

- the SVT goes through the n x n Gram matrix (:func:`bgsub.prox.svt_weights`), and L is never formed inside
  the loop: ``T = D + Y/mu - L = M (I - W) + S`` with ``M = D - S + Y/mu`` is one fused GEMM (addmm);
- ``S_new = soft(T, lam/mu) = T - C`` with ``C = clamp(T, -lam/mu, lam/mu)``, and the new multiplier is
  ``Y_new / mu = C`` exactly (``Y/mu + D - L - S_new = T - S_new``), so Y is stored as C and a scalar;
- the residual ``D - L - S_new = C - Y/mu`` is a difference of two small quantities, accurate in float32;
- all buffers are allocated once; L is formed once at the end, as ``M W``.
"""

from __future__ import annotations

from typing import Optional

import torch

from bgsub.errors import BgsubError
from bgsub.prox import spectral_norm, svt_weights
from bgsub.solvers.common import (
    Clock,
    SolverInfo,
    check_matrix,
    check_options,
    default_lam,
    finish,
    zero_matrix_result,
)


def ialm(
    D: torch.Tensor,
    *,
    lam: Optional[float] = None,
    tol: float = 1e-7,
    max_iter: int = 1000,
    mu: Optional[float] = None,
    rho: float = 1.5,
    mu_max: Optional[float] = None,
    svd: str = "auto",
    trace: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, SolverInfo]:
    """Robust PCA (PCP) of ``D`` by inexact ALM.

    D: (m, n) float32 or float64, on any device (the work happens there, in D's dtype). lam: weight of the l1
    term (None = 1/sqrt(max(m, n))). tol: stop when ``||D - L - S||_F / ||D||_F < tol``. mu, rho, mu_max: the
    penalty schedule (None = the reference code's defaults). svd: how the SVT computes its SVD (see
    :mod:`bgsub.prox`; ``"auto"``, the default, is the Gram-matrix path with its accuracy check). trace:
    record the objective ``||L||_* + lam ||S||_1`` per iteration (two extra passes over S per iteration).

    Returns ``(L, S, info)``: L (m, n) low rank, S (m, n) sparse, same dtype and device as D, and a
    :class:`~bgsub.solvers.common.SolverInfo`.
    """
    D = check_matrix(D)
    check_options(tol, max_iter)
    if rho < 1:
        raise BgsubError(f"rho must be >= 1, got {rho}")
    m, n = D.shape
    if m < n:  # PCP is transpose-invariant; work on the tall side
        L, S, info = ialm(D.mT.contiguous(), lam=lam if lam is not None else default_lam(m, n), tol=tol,
                          max_iter=max_iter, mu=mu, rho=rho, mu_max=mu_max, svd=svd, trace=trace)
        return L.mT.contiguous(), S.mT.contiguous(), info
    lam = default_lam(m, n) if lam is None else float(lam)
    if not lam > 0:
        raise BgsubError(f"lam must be > 0, got {lam}")
    info = SolverInfo("ialm", tol=tol, max_iter=max_iter, lam=lam, residual_kind="||D - L - S||_F / ||D||_F")
    clock = Clock(D)
    d_norm = float(torch.linalg.vector_norm(D))
    if d_norm == 0:
        return zero_matrix_result(D, info)
    norm_two = spectral_norm(D)
    norm_inf = float(D.abs().max()) / lam
    mu = 1.25 / norm_two if mu is None else float(mu)
    mu_max = mu * 1e7 if mu_max is None else float(mu_max)

    eye = torch.eye(n, dtype=D.dtype, device=D.device)
    M = torch.empty_like(D)  # D - S + Y/mu, the matrix whose SVT is L
    S = torch.zeros_like(D)  # S, overwritten in place by T = D + Y/mu - L, then by S_new = soft(T)
    C = torch.empty_like(D)  # clamp(T, -lam/mu, lam/mu) = Y_new / mu
    Z = torch.empty_like(D)  # D - L - S_new, then scratch
    Y, y_scale = D, 1.0 / (max(norm_two, norm_inf) * mu)  # Y/mu = y_scale * Y (Y0 = D / J(D), no copy)
    W, tau = eye, 0.0
    for it in range(1, max_iter + 1):
        tau = 1.0 / mu
        torch.add(D, Y, alpha=y_scale, out=M)
        if it > 1:
            M.sub_(S)
        W, sig = svt_weights(M, tau, method=svd)
        S.addmm_(M, eye - W)  # T = S + M - L
        t = lam / mu
        torch.clamp(S, -t, t, out=C)
        S.sub_(C)  # S_new = soft(T, t) = T - C
        torch.add(C, Y, alpha=-y_scale, out=Z)  # D - L - S_new = C - Y/mu
        res = float(torch.linalg.vector_norm(Z)) / d_norm
        info.iterations = it
        info.residual = res
        if trace:
            info.residuals.append(res)
            nuc = float((sig - tau).clamp(min=0).sum())
            info.objective.append(nuc + lam * float(torch.abs(S, out=Z).sum()))
        if res < tol:
            break
        mu_new = min(mu * rho, mu_max)
        # Y_new = Y + mu (D - L - S_new)  =>  Y_new / mu_new = C * mu / mu_new
        if Y is D:
            Y = torch.empty_like(D)
        Y, C = C, Y
        y_scale = mu / mu_new
        mu = mu_new
    info.rank = int((sig > tau).sum())
    L = torch.mm(M, W, out=Z)
    return L, S, finish(info, clock)
