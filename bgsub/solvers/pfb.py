"""The paper's baseline: proximal forward-backward splitting on Eq. 1 (Sakai, Eqs. 3-5), kept faithful.

Eq. 1:  ``min_{L,S}  1/2 ||D - L - S||_F^2 + lam_star ||L||_* + lam ||S||_1``.
With ``X = [L; S]`` and ``A = [I, I]`` (so ``||A||_2^2 = 2``), Eq. 3 is one proximal gradient step of size alpha
(``0 < alpha <= 1/2``); written out (Eqs. 4 and 5), both blocks use the residual of the *current* iterate:

    R   = D - L_k - S_k
    L_k+1 = svt(L_k + alpha R, alpha lam_star)
    S_k+1 = soft(S_k + alpha R, alpha lam)

Start: L = S = 0. The paper's defaults: lam_star = 1, alpha = 1/2, lam = 5e-3 (or 1/sqrt(max(m, n)), the default
here). Because the data term is a penalty, L + S != D at the optimum; the residual of the stopping rule is the
relative change of the iterate ``||X_k+1 - X_k||_F / ||X_k+1||_F``. The objective trace is Eq. 1 at each iterate.
"""

from __future__ import annotations

from typing import Optional

import torch

from bgsub.solvers.common import (
    Clock,
    SolverInfo,
    check_matrix,
    check_options,
    default_lam,
    finish,
    zero_matrix_result,
)
from bgsub.errors import BgsubError
from bgsub.prox import kept, svt_weights

RESIDUAL_KIND = "||X_k+1 - X_k||_F / ||X_k+1||_F, X = [L; S]"


def check_eq1(lam_star: float, lam: float, alpha: float) -> None:
    if not lam_star > 0:
        raise BgsubError(f"lam_star must be > 0, got {lam_star}")
    if not lam > 0:
        raise BgsubError(f"lam must be > 0, got {lam}")
    if not 0 < alpha <= 0.5:
        raise BgsubError(f"alpha must be in (0, 1/2] (1/||A||^2 with A = [I, I]), got {alpha}")


def prox_step(
    YL: torch.Tensor, YS: torch.Tensor, D: torch.Tensor, *, alpha: float, lam_star: float, lam: float,
    L_out: torch.Tensor, S_out: torch.Tensor, R: torch.Tensor, svd: str,
) -> tuple[float, int]:
    """One step of Eq. 3 from the point (YL, YS): writes L_out, S_out; R is scratch. Returns
    (||L_out||_*, rank of L_out)."""
    torch.sub(D, YL, out=R)
    R.sub_(YS)  # R = D - YL - YS
    torch.add(YS, R, alpha=alpha, out=S_out)  # forward step for S
    torch.add(YL, R, alpha=alpha, out=R)  # forward step for L (R is free after this)
    tau = alpha * lam_star
    W, sig = svt_weights(R, tau, method=svd)
    torch.mm(R, W, out=L_out)  # L = svt(YL + alpha R, alpha lam_star)
    t = alpha * lam
    torch.clamp(S_out, -t, t, out=R)
    S_out.sub_(R)  # S = soft(YS + alpha R, alpha lam)
    keep = kept(sig, tau, method=svd, dtype=R.dtype)  # svd="gram" drops what it cannot resolve
    return float((sig - tau)[keep].sum()), int(keep.sum())


def eq1_objective(D, L, S, nuc: float, *, lam_star: float, lam: float, R: torch.Tensor) -> float:
    """Eq. 1 at (L, S) given ||L||_* (R is scratch)."""
    torch.sub(D, L, out=R)
    R.sub_(S)
    data = 0.5 * float(torch.linalg.vector_norm(R)) ** 2
    return data + lam_star * nuc + lam * float(torch.abs(S, out=R).sum())


def change(L1, S1, L0, S0, R: torch.Tensor) -> float:
    """||[L1; S1] - [L0; S0]||_F / ||[L1; S1]||_F (R is scratch)."""
    dl = float(torch.linalg.vector_norm(torch.sub(L1, L0, out=R)))
    ds = float(torch.linalg.vector_norm(torch.sub(S1, S0, out=R)))
    nx = (float(torch.linalg.vector_norm(L1)) ** 2 + float(torch.linalg.vector_norm(S1)) ** 2) ** 0.5
    return (dl * dl + ds * ds) ** 0.5 / nx if nx > 0 else 0.0


def pfb(
    D: torch.Tensor,
    *,
    lam: Optional[float] = None,
    lam_star: float = 1.0,
    alpha: float = 0.5,
    tol: float = 1e-7,
    max_iter: int = 1000,
    svd: str = "auto",
    trace: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, SolverInfo]:
    """Eq. 1 by proximal forward-backward splitting (Eqs. 3-5).

    D: (m, n) float32 or float64 on any device. lam: lambda_1 (None = lam_star / sqrt(max(m, n)), the balance
    of principal component pursuit; with the paper's lam_star = 1 that is 1/sqrt(max(m, n))); lam_star:
    lambda_*; alpha: step size, 0 < alpha <= 1/2. tol, max_iter: the stopping rule on the relative change of
    X. svd: see :mod:`bgsub.prox`. trace: record Eq. 1 per iteration. Returns ``(L, S, info)``.
    """
    D = check_matrix(D)
    check_options(tol, max_iter)
    m, n = D.shape
    lam = lam_star * default_lam(m, n) if lam is None else float(lam)
    check_eq1(lam_star, lam, alpha)
    if m < n:
        L, S, info = pfb(D.mT.contiguous(), lam=lam, lam_star=lam_star, alpha=alpha, tol=tol, max_iter=max_iter,
                         svd=svd, trace=trace)
        return L.mT.contiguous(), S.mT.contiguous(), info
    info = SolverInfo("pfb", tol=tol, max_iter=max_iter, lam=lam, residual_kind=RESIDUAL_KIND)
    clock = Clock(D)
    if not bool(D.any()):
        return zero_matrix_result(D, info)
    L, S = torch.zeros_like(D), torch.zeros_like(D)
    L1, S1, R = torch.empty_like(D), torch.empty_like(D), torch.empty_like(D)
    for it in range(1, max_iter + 1):
        nuc, rank = prox_step(L, S, D, alpha=alpha, lam_star=lam_star, lam=lam, L_out=L1, S_out=S1, R=R, svd=svd)
        res = change(L1, S1, L, S, R)
        L, L1, S, S1 = L1, L, S1, S
        info.iterations, info.residual, info.rank = it, res, rank
        if trace:
            info.residuals.append(res)
            info.objective.append(eq1_objective(D, L, S, nuc, lam_star=lam_star, lam=lam, R=R))
        if res < tol:
            break
    return L, S, finish(info, clock)
