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

Implementation (the same iterates, fewer passes over memory):

- the SVT goes through the n x n Gram matrix (:func:`bgsub.prox.svt_weights`): ``L = M W`` with
  ``M = D - S + Y/mu``, and L is never formed inside the loop: one GEMM with a fused epilogue gives
  ``U = L - Y/mu``, and ``T = D + Y/mu - L = D - U``;
- ``S_new = soft(T, lam/mu) = T - C`` with ``C = clamp(T, -lam/mu, lam/mu)``, and the new multiplier is
  ``Y_new / mu = Y/mu + D - L - S_new = C`` exactly, so Y is stored as C and a scalar, S is not stored at all,
  and the next ``M = D - S_new + Y_new/mu_new = U + (1 + mu/mu_new) C``;
- the residual ``D - L - S_new = C - Y/mu`` is a difference of two small quantities, accurate in float32;
- five passes over m x n arrays and two GEMMs per iteration (three once the rotated Gram path is on), all
  buffers allocated once (five or six m x n arrays besides D).
"""

from __future__ import annotations

from typing import Optional

import torch

from bgsub.errors import BgsubError
from bgsub.prox import spectral_norm, svt_parts
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
    record the objective ``||L||_* + lam ||S||_1`` per iteration (two extra passes per iteration).

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
    lo, hi = torch.aminmax(D)
    norm_inf = max(-float(lo), float(hi)) / lam  # largest absolute entry / lam (one pass, no temporary)
    mu = 1.25 / norm_two if mu is None else float(mu)
    mu_max = mu * 1e7 if mu_max is None else float(mu_max)

    Y, y_scale = D, 1.0 / (max(norm_two, norm_inf) * mu)  # Y/mu = y_scale * Y (Y0 = D / J(D), no copy)
    M = torch.mul(D, 1.0 + y_scale)  # D - S + Y/mu, the matrix whose SVT is L (S0 = 0)
    U = torch.empty_like(D)  # L - Y/mu
    T = torch.empty_like(D)  # D + Y/mu - L = D - U (S_new = soft(T, lam/mu)), then D - L - S_new = C - Y/mu
    C = torch.empty_like(D)  # clamp(T, -lam/mu, lam/mu) = T - S_new = Y_new / mu
    basis, B = None, None  # basis: V of the last iteration, once the plain Gram path struggles; B = M @ basis
    for it in range(1, max_iter + 1):
        tau = 1.0 / mu
        if basis is not None and B is None:
            B = torch.empty_like(D)
        parts = svt_parts(M, tau, method=svd, basis=basis, out=B)
        sig, rank = parts.sigma, parts.rank
        torch.addmm(Y, parts.B, parts.K, beta=-y_scale, out=U)  # U = L - Y/mu, L = svt(M, 1/mu) = B K
        basis = parts.V if parts.hard else None  # late iterations: rotate by the last V (see bgsub.prox)
        torch.sub(D, U, out=T)
        t = lam / mu
        torch.clamp(T, -t, t, out=C)
        if trace:
            l1 = float(torch.sub(T, C).abs_().sum())  # ||S_new||_1
            info.objective.append(float((sig - tau).clamp(min=0).sum()) + lam * l1)
        torch.sub(C, Y, alpha=y_scale, out=T)  # T is free now: Z = D - L - S_new
        res = float(torch.linalg.vector_norm(T)) / d_norm
        info.iterations, info.residual = it, res
        if trace:
            info.residuals.append(res)
        if res < tol or it == max_iter:
            break
        mu_new = min(mu * rho, mu_max)
        y_new = mu / mu_new  # Y_new = Y + mu (D - L - S_new)  =>  Y_new / mu_new = C * mu / mu_new
        torch.add(U, C, alpha=1.0 + y_new, out=M)  # D - S_new + Y_new/mu_new = U + (1 + y_new) C
        if Y is D:
            Y = torch.empty_like(D)
        Y, C = C, Y
        y_scale, mu = y_new, mu_new
    info.rank = rank  # the singular values the last SVT kept (not those svd="gram" dropped as unresolved)
    S = torch.sub(D, U, out=T).sub_(C)  # S_new = T - C = D - U - C
    L = torch.add(U, Y, alpha=y_scale, out=M)
    return L, S, finish(info, clock)
