"""Eq. 1 with Nesterov/FISTA momentum: the accelerated proximal gradient method (Beck and Teboulle's FISTA, the
acceleration of ISTA shown in the ML-FISTA slides), applied to the same objective and the same prox step as
:mod:`bgsub.solvers.pfb`:

    X_k+1 = prox_{alpha g}(Y_k + alpha A^T (D - A Y_k))            (the pfb step, from Y instead of X)
    t_k+1 = (1 + sqrt(1 + 4 t_k^2)) / 2
    Y_k+1 = X_k+1 + ((t_k - 1) / t_k+1) (X_k+1 - X_k)

with ``t_1 = 1`` and ``Y_1 = X_0 = 0``. ``restart=True`` (default) adds the gradient-based adaptive restart of
O'Donoghue and Candes (2015): the momentum is reset (t = 1) whenever ``<Y_k - X_k+1, X_k+1 - X_k> > 0``, i.e. when
it points uphill; it keeps FISTA's rate and removes its oscillations. Residual: the relative change of X, as pfb.
"""

from __future__ import annotations

import math
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
from bgsub.solvers.pfb import RESIDUAL_KIND, change, check_eq1, eq1_objective, prox_step


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a.reshape(-1), b.reshape(-1)))


def apg(
    D: torch.Tensor,
    *,
    lam: Optional[float] = None,
    lam_star: float = 1.0,
    alpha: float = 0.5,
    tol: float = 1e-7,
    max_iter: int = 1000,
    restart: bool = True,
    svd: str = "auto",
    trace: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, SolverInfo]:
    """Eq. 1 by FISTA. Arguments as :func:`bgsub.solvers.pfb.pfb`, plus ``restart`` (adaptive momentum restart).
    Returns ``(L, S, info)``."""
    D = check_matrix(D)
    check_options(tol, max_iter)
    m, n = D.shape
    lam = lam_star * default_lam(m, n) if lam is None else float(lam)
    check_eq1(lam_star, lam, alpha)
    if m < n:
        L, S, info = apg(D.mT.contiguous(), lam=lam, lam_star=lam_star, alpha=alpha, tol=tol, max_iter=max_iter,
                         restart=restart, svd=svd, trace=trace)
        return L.mT.contiguous(), S.mT.contiguous(), info
    info = SolverInfo("apg", tol=tol, max_iter=max_iter, lam=lam, residual_kind=RESIDUAL_KIND)
    clock = Clock(D)
    if not bool(D.any()):
        return zero_matrix_result(D, info)
    L, S = torch.zeros_like(D), torch.zeros_like(D)  # X_k
    YL, YS = torch.zeros_like(D), torch.zeros_like(D)  # Y_k
    L1, S1, R = torch.empty_like(D), torch.empty_like(D), torch.empty_like(D)  # X_k+1, scratch
    t = 1.0
    for it in range(1, max_iter + 1):
        nuc, rank = prox_step(YL, YS, D, alpha=alpha, lam_star=lam_star, lam=lam, L_out=L1, S_out=S1, R=R, svd=svd)
        res = change(L1, S1, L, S, R)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / t_new
        if restart and it > 1:
            # <Y - X1, X1 - X> over both blocks; YL, YS are free after this, R is scratch
            up = _dot(YL.sub_(L1), torch.sub(L1, L, out=R)) + _dot(YS.sub_(S1), torch.sub(S1, S, out=R))
            if up > 0:
                t_new, beta = 1.0, 0.0
        # Y = X1 + beta (X1 - X)
        torch.sub(L1, L, out=YL).mul_(beta).add_(L1)
        torch.sub(S1, S, out=YS).mul_(beta).add_(S1)
        t = t_new
        L, L1, S, S1 = L1, L, S1, S
        info.iterations, info.residual, info.rank = it, res, rank
        if trace:
            info.residuals.append(res)
            info.objective.append(eq1_objective(D, L, S, nuc, lam_star=lam_star, lam=lam, R=R))
        if res < tol:
            break
    return L, S, finish(info, clock)
