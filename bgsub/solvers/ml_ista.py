"""Multi-layer basis pursuit (Sulam, Aberdam, Beck, Elad, TPAMI 2019; the IPAM 2019 slides): ML-ISTA and ML-FISTA.

For L dictionaries D_1 (n_0, n_1), ..., D_L (n_{L-1}, n_L) and a signal y (n_0), with D_(i,L) = D_i ... D_L,

    (P)   min_{g_L}  F(g_L) = 1/2 ||y - D_(1,L) g_L||^2 + sum_{i<L} lam_i ||D_(i+1,L) g_L||_1 + lam_L ||g_L||_1.

ML-ISTA (nested proximal-gradient updates). With g_hat_i = D_(i+1,L) g_L^k (g_hat_L = g_L^k), g_0^{k+1} = y,
mu_0 = 1, for i = 1..L:

    g_i^{k+1} = soft( g_hat_i - mu_i D_i^T (g_hat_{i-1} - g_{i-1}^{k+1}) / mu_{i-1},  mu_i lam_i ).

``(g_hat_{i-1} - g_{i-1}^{k+1}) / mu_{i-1}`` is the proximal gradient mapping of the layers below i (for i = 1 it
is the plain gradient D_1 g_hat_1 - y), so for L = 2 this is the slides' update with mu = mu_1 and t = mu_2; the
slides' algorithm box writes the step of layer i as the ratio mu_i / mu_{i-1} (here the steps are absolute so
that each threshold mu_i lam_i is the one of the theorem). Defaults: mu_1 = 1 / ||D_1||_2^2 and
mu_i = mu_{i-1} / ||D_i||_2^2, inside the theorem's range (mu < 1/||D_1||^2, t < 4 mu / (3 ||D_2||^2)).

Note (the theorem): ML-ISTA's limit is within O(mu_1) of F_opt, not at it: F(g^{k+1}) - F_opt <= eta eps +
(beta + kappa t) mu. A smaller mu_1 gets closer and converges more slowly. ML-FISTA adds FISTA momentum on g_L:
z = g_L^{k+1} + rho_k (g_L^{k+1} - g_L^k), rho_k = (t_k - 1) / t_{k+1}.

:func:`ml_bp_primal_dual` solves (P) itself to high accuracy (Condat-Vu primal-dual splitting, one dual
variable per analysis term); it gives F_opt for plots and comparisons.

Shapes: y (B, n_0) (a batch, the objective is summed over it) or (n_0,); dictionaries as matrices. Returns the
codes of all layers ``[g_1, ..., g_L]`` with g_i = D_(i+1,L) g_L (so they satisfy the model exactly), and a
:class:`~bgsub.solvers.common.SolverInfo` whose ``objective`` holds F after every iteration and ``residuals``
the relative change ||g_L^{k+1} - g_L^k|| / ||g_L^{k+1}||.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from bgsub.errors import BgsubError
from bgsub.prox import soft
from bgsub.solvers.common import Clock, SolverInfo, finish

__all__ = ["ml_ista", "ml_fista", "ml_objective", "ml_bp_primal_dual", "default_steps"]


def _check(y: torch.Tensor, Ds: Sequence[torch.Tensor], lams: Sequence[float]) -> tuple[torch.Tensor, bool]:
    if len(Ds) == 0 or len(Ds) != len(lams):
        raise BgsubError(f"ml_ista: need as many lambdas as dictionaries (>= 1), got {len(lams)} and {len(Ds)}")
    squeeze = y.ndim == 1
    y = y.unsqueeze(0) if squeeze else y
    if y.ndim != 2 or y.shape[1] != Ds[0].shape[0]:
        raise BgsubError(f"ml_ista: y must be (B, {Ds[0].shape[0]}) or ({Ds[0].shape[0]},), got {tuple(y.shape)}")
    for i in range(1, len(Ds)):
        if Ds[i].shape[0] != Ds[i - 1].shape[1]:
            raise BgsubError(f"ml_ista: D_{i + 1} has {Ds[i].shape[0]} rows, D_{i} has {Ds[i - 1].shape[1]} columns")
    if any(not lam >= 0 for lam in lams):
        raise BgsubError(f"ml_ista: lambdas must be >= 0, got {list(lams)}")
    return y, squeeze


def _chain(gL: torch.Tensor, Ds: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """[g_0, g_1, ..., g_L] with g_{i-1} = D_i g_i (row convention: g_{i-1} = g_i @ D_i^T)."""
    out = [gL]
    for D in reversed(Ds):
        out.append(out[-1] @ D.mT)
    return out[::-1]


def ml_objective(gL: torch.Tensor, y: torch.Tensor, Ds: Sequence[torch.Tensor], lams: Sequence[float]) -> float:
    """F(g_L) of (P), summed over the batch. gL (B, n_L), y (B, n_0)."""
    g = _chain(gL, Ds)
    val = 0.5 * float(((y - g[0]) ** 2).sum())
    for i, lam in enumerate(lams, start=1):
        val += lam * float(g[i].abs().sum())
    return val


def default_steps(Ds: Sequence[torch.Tensor]) -> list[float]:
    """mu_1 = 1/||D_1||^2, mu_i = mu_{i-1}/||D_i||^2 (spectral norms)."""
    steps, mu = [], 1.0
    for D in Ds:
        mu = mu / float(torch.linalg.matrix_norm(D.double(), ord=2)) ** 2
        steps.append(mu)
    return steps


def _run(y, Ds, lams, steps, max_iter, tol, momentum, trace, name, init):
    y, squeeze = _check(y, Ds, lams)
    Ds = [D.to(y.dtype) for D in Ds]
    steps = default_steps(Ds) if steps is None else [float(s) for s in steps]
    if len(steps) != len(Ds) or any(not s > 0 for s in steps):
        raise BgsubError(f"ml_ista: need one positive step per layer, got {steps}")
    clock = Clock(y)
    info = SolverInfo(solver=name, tol=tol, max_iter=max_iter, lam=float(lams[-1]), residual_kind="relative change of g_L")
    gL = y.new_zeros(y.shape[0], Ds[-1].shape[1]) if init is None else init.to(y).reshape(y.shape[0], -1).clone()
    z, t = gL, 1.0
    with torch.no_grad():
        for k in range(max_iter):
            hats = _chain(z, Ds)
            prev, mu_prev = y, 1.0
            for i, (D, lam, mu) in enumerate(zip(Ds, lams, steps), start=1):
                grad_map = (hats[i - 1] - prev) / mu_prev
                prev = soft(hats[i] - mu * (grad_map @ D), mu * lam)
                mu_prev = mu
            new = prev
            change = float((new - gL).norm()) / max(float(new.norm()), 1e-30)
            if momentum:
                t_next = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
                z = new + ((t - 1) / t_next) * (new - gL)
                t = t_next
            else:
                z = new
            gL = new
            info.iterations = k + 1
            info.residuals.append(change)
            if trace:
                info.objective.append(ml_objective(gL, y, Ds, lams))
            info.residual = change
            if change < tol:
                info.converged = True
                break
    gammas = _chain(gL, Ds)[1:]
    if squeeze:
        gammas = [g.squeeze(0) for g in gammas]
    info.seconds = clock.seconds()  # a fixed iteration budget (tol = 0) is a normal use here: no warning
    return gammas, info


def ml_ista(
    y: torch.Tensor, dictionaries: Sequence[torch.Tensor], lams: Sequence[float], *,
    steps: Optional[Sequence[float]] = None, max_iter: int = 500, tol: float = 0.0, trace: bool = True,
    init: Optional[torch.Tensor] = None,
) -> tuple[list[torch.Tensor], SolverInfo]:
    """ML-ISTA for (P) (see the module docstring). y: (B, n_0) or (n_0,); dictionaries: [D_1 (n_0, n_1), ...];
    lams: [lam_1, ..., lam_L]; steps: [mu_1, ..., mu_L] (None = :func:`default_steps`). Stops after max_iter
    iterations or when the relative change of g_L falls below tol (0 = never). Returns ([g_1, ..., g_L], info)."""
    return _run(y, dictionaries, lams, steps, max_iter, tol, False, trace, "ml-ista", init)


def ml_fista(
    y: torch.Tensor, dictionaries: Sequence[torch.Tensor], lams: Sequence[float], *,
    steps: Optional[Sequence[float]] = None, max_iter: int = 500, tol: float = 0.0, trace: bool = True,
    init: Optional[torch.Tensor] = None,
) -> tuple[list[torch.Tensor], SolverInfo]:
    """ML-FISTA: :func:`ml_ista` with FISTA momentum on g_L. Same arguments and returns."""
    return _run(y, dictionaries, lams, steps, max_iter, tol, True, trace, "ml-fista", init)


def ml_bp_primal_dual(
    y: torch.Tensor, dictionaries: Sequence[torch.Tensor], lams: Sequence[float], *, max_iter: int = 20000,
    tol: float = 1e-12,
) -> tuple[torch.Tensor, SolverInfo]:
    """(P) solved to high accuracy by Condat-Vu primal-dual splitting (float64 inside).

    f(x) = 1/2 ||y - A x||^2 with A = D_(1,L); h = lam_L ||.||_1 (its prox); g_i = lam_i ||.||_1 composed with
    B_i = D_(i+1,L) through dual variables u_i (projection onto [-lam_i, lam_i]). Steps: sigma = 1/||B||,
    tau = 0.99 / (||A||^2/2 + sigma ||B||^2) with ||B||^2 = ||sum B_i^T B_i||, which satisfies the convergence
    condition 1/tau - sigma ||B||^2 >= ||A||^2 / 2. Stops when the relative change of (x, u) < tol.
    Returns (g_L (B, n_L) in y's dtype, info with the objective trace).
    """
    y, squeeze = _check(y, dictionaries, lams)
    dtype = y.dtype
    Ds = [D.double() for D in dictionaries]
    yd = y.double()
    L = len(Ds)
    Bs = []  # B_i = D_(i+1,L) for i = 1..L-1, as (n_i, n_L)
    prod = torch.eye(Ds[-1].shape[1], dtype=torch.float64, device=y.device)
    for i in range(L - 1, 0, -1):
        prod = Ds[i] @ prod
        Bs.insert(0, prod)
    A = Ds[0] @ (Bs[0] if Bs else torch.eye(Ds[0].shape[1], dtype=torch.float64, device=y.device))
    LA = float(torch.linalg.matrix_norm(A, ord=2)) ** 2
    BtB = sum((B.mT @ B for B in Bs), torch.zeros(A.shape[1], A.shape[1], dtype=torch.float64, device=y.device))
    nB2 = float(torch.linalg.matrix_norm(BtB, ord=2)) if Bs else 0.0
    sigma = 1.0 / math.sqrt(nB2) if nB2 > 0 else 1.0
    tau = 0.99 / (LA / 2 + sigma * nB2)
    x = yd.new_zeros(yd.shape[0], A.shape[1])
    us = [yd.new_zeros(yd.shape[0], B.shape[0]) for B in Bs]
    clock = Clock(y)
    info = SolverInfo(solver="ml-bp-primal-dual", tol=tol, max_iter=max_iter, lam=float(lams[-1]),
                      residual_kind="relative change of (x, u)")
    for k in range(max_iter):
        grad = (x @ A.mT - yd) @ A
        for B, u in zip(Bs, us):
            grad = grad + u @ B
        x_new = soft(x - tau * grad, tau * lams[-1])
        xb = 2 * x_new - x
        us_new = [torch.clamp(u + sigma * (xb @ B.mT), -lam, lam) for B, u, lam in zip(Bs, us, lams[:-1])]
        num = float((x_new - x).norm() ** 2) + sum(float((a - b).norm() ** 2) for a, b in zip(us_new, us))
        den = float(x_new.norm() ** 2) + sum(float(a.norm() ** 2) for a in us_new)
        x, us = x_new, us_new
        info.iterations = k + 1
        info.residual = math.sqrt(num / max(den, 1e-300))
        if info.residual < tol:
            info.converged = True
            break
    info.objective.append(ml_objective(x, yd, Ds, lams))
    x = x.to(dtype)
    return (x.squeeze(0) if squeeze else x), finish(info, clock)
