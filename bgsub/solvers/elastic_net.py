"""Batched elastic net (Koch & Corso Eq. 4/5), the forward pass of the sparse-factorization layers.

For each row x of X (B, m) and one dictionary P (m, K):

    a*(x, P) = argmin_a  1/2 ||x - P a||^2 + lam1 ||a||_1 + lam2/2 ||a||^2

Solver: FISTA on the K-dimensional problem written with the Gram matrix G = P^T P (K, K) and c = P^T x, step
1 / (||G||_2 + lam2), with an *active-set finish*: every ``check_every`` iterations, for the rows not yet
converged, the linear system of the current support S and signs s, ``(G_SS + lam2 I) a_S = c_S - lam1 s_S``, is
solved exactly (one batched solve); the candidate replaces the FISTA iterate where it meets the tolerance
(accepting mere improvements could cycle between FISTA and a singular support's pseudo-inverse point).
Once FISTA has found the support this lands on the exact solution (what LARS, the paper's solver, returns), so
the stopping tolerance is reached in tens of iterations instead of thousands.

Exact screening first: a row with ``||P^T x||_inf <= lam1`` has the code 0 (0 satisfies the KKT conditions), so
it is never iterated (most background patches of a CSF layer); rows that have converged leave the working set.

Stopping rule (a stated accuracy, not an iteration count): the KKT violation of row b,

    kkt_b = max_j  |g_j + lam1 sign(a_j)|   if a_j != 0,     max(|g_j| - lam1, 0)   if a_j == 0,

with g = G a - c + lam2 a the gradient of the smooth part, is the distance of 0 from the subdifferential in the
max norm (0 exactly at the optimum). A row has converged when ``kkt_b <= tol * (1 + max_j |c_j|)``; the solve
stops when all rows have. Default tol: 1e-5 in float32 (the gradient itself carries rounding of order 1e-7 |c|),
1e-10 in float64. If max_iter is reached first, a warning goes to the ``bgsub`` logger and ``info.converged`` is
False.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional

import torch

from bgsub.errors import BgsubError
from bgsub.prox import soft

log = logging.getLogger("bgsub")

DEFAULT_TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@dataclass
class ElasticNetInfo:
    """iterations: FISTA iterations run; kkt: the largest scaled KKT violation over the batch at the end;
    converged: every row met tol; tol: the tolerance used; seconds: wall time."""

    iterations: int = 0
    kkt: float = float("inf")
    converged: bool = False
    tol: float = 0.0
    seconds: float = 0.0


def kkt_violation(A: torch.Tensor, G: torch.Tensor, C: torch.Tensor, lam1: float, lam2: float) -> torch.Tensor:
    """Per-row KKT violation (B,) of codes A (B, K) for Gram G (K, K), correlations C = X P (B, K)."""
    g = A @ G - C + lam2 * A
    on = A != 0
    v = torch.where(on, (g + lam1 * torch.sign(A)).abs(), (g.abs() - lam1).clamp(min=0))
    return v.amax(dim=1) if v.shape[1] else v.new_zeros(v.shape[0])


def _support_solve(A: torch.Tensor, G: torch.Tensor, C: torch.Tensor, lam1: float, lam2: float) -> torch.Tensor:
    """Exact elastic-net solution on each row's current support and signs (rows with a singular system are
    returned unchanged)."""
    K = G.shape[0]
    on = (A != 0).to(A.dtype)
    eye = torch.eye(K, dtype=A.dtype, device=A.device)
    sol = _masked_solve(G + lam2 * eye, on, (C - lam1 * torch.sign(A)) * on)
    bad = ~torch.isfinite(sol).all(dim=1)
    return torch.where(bad.unsqueeze(1), A, sol)


def _masked_solve(M: torch.Tensor, on: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """For each row n: x_S = M_SS^{-1} rhs_S on its support S = {j : on[n, j] = 1}, x = 0 off S. M (K, K)
    symmetric positive semi-definite, on and rhs (N, K).

    Rows share supports (a CSF layer's many patches use a few hundred of the 2^K patterns): when they share
    enough, each distinct support's system is factorised once and its inverse applied to all its rows, about 4x
    faster than one Cholesky per row; otherwise one batched Cholesky per row."""
    N, K = on.shape
    if N == 0:
        return rhs.clone()
    if K <= 60:
        weights = torch.pow(2, torch.arange(K, device=on.device, dtype=torch.int64))
        keys = (on.to(torch.int64) * weights).sum(dim=1)
        patterns, inverse = torch.unique(keys, return_inverse=True)
        bits = ((patterns.unsqueeze(1) >> torch.arange(K, device=on.device)) & 1).to(rhs.dtype)  # (U, K)
    else:
        bits, inverse = torch.unique(on, dim=0, return_inverse=True)
    if 4 * bits.shape[0] > N:  # little sharing: one system per row
        Ms = M * (on.unsqueeze(2) * on.unsqueeze(1)) + torch.diag_embed(1 - on)
        return _spd_solve(Ms, rhs.unsqueeze(2)).squeeze(2) * on
    mask = bits.unsqueeze(2) * bits.unsqueeze(1)
    Ms = M * mask + torch.diag_embed(1 - bits)  # (U, K, K)
    eye = torch.eye(K, dtype=rhs.dtype, device=rhs.device).expand_as(Ms)
    inv = _spd_solve(Ms, eye) * mask  # the inverse on the support, zero elsewhere
    return torch.bmm(inv[inverse], rhs.unsqueeze(2)).squeeze(2)


def _spd_solve(M: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Batched solve of M (N, K, K) x = rhs (N, K, 1), M symmetric positive semi-definite: Cholesky (about 3x
    faster than LU for many small systems), pseudo-inverse for the systems where it fails (singular)."""
    L, info = torch.linalg.cholesky_ex(M)
    x = torch.cholesky_solve(rhs, L)
    bad = (info != 0) | ~torch.isfinite(x).flatten(1).all(dim=1)
    if bool(bad.any()):
        x[bad] = torch.linalg.pinv(M[bad], hermitian=True) @ rhs[bad]
    return x


def elastic_net(
    X: torch.Tensor,
    P: torch.Tensor,
    lam1: float,
    lam2: float = 0.0,
    *,
    tol: Optional[float] = None,
    max_iter: int = 2000,
    check_every: int = 10,
    finish: bool = True,
) -> tuple[torch.Tensor, ElasticNetInfo]:
    """Elastic-net codes of the rows of X over the columns of P (see the module docstring).

    X: (B, m); P: (m, K); same float dtype (float32 or float64) and device. lam1 > 0, lam2 >= 0. tol: KKT
    tolerance (None = the dtype's default). Returns ``(A, info)`` with A (B, K), the codes (exact zeros off the
    support), computed without autograd.
    """
    if X.ndim != 2 or P.ndim != 2 or X.shape[1] != P.shape[0]:
        raise BgsubError(f"elastic_net: X (B, m) and P (m, K) expected, got {tuple(X.shape)} and {tuple(P.shape)}")
    if X.dtype != P.dtype or X.device != P.device:
        raise BgsubError(f"elastic_net: X and P differ in dtype/device ({X.dtype}/{X.device} vs {P.dtype}/{P.device})")
    if not lam1 > 0 or lam2 < 0:
        raise BgsubError(f"elastic_net: need lam1 > 0 and lam2 >= 0, got {lam1}, {lam2}")
    lam1, lam2 = float(lam1), float(lam2)
    tol = DEFAULT_TOL.get(X.dtype, 1e-5) if tol is None else float(tol)
    t0 = time.perf_counter()
    with torch.no_grad():
        G = P.mT @ P
        C = X @ P
        A = torch.zeros_like(C)
        # exact screening: a* = 0 iff ||P^T x||_inf <= lam1 (0 is then a KKT point); only the rest is iterated
        live = (C.abs() > lam1).any(dim=1).nonzero().squeeze(1)
        it, worst, ok = 0, 0.0, True
        if live.numel():
            A_live, it, worst, ok = _fista(G, C[live], lam1, lam2, tol, max_iter, check_every, finish)
            A[live] = A_live
    info = ElasticNetInfo(iterations=it, kkt=worst, converged=ok, tol=tol, seconds=time.perf_counter() - t0)
    if not info.converged:
        log.warning("elastic_net: rows above the KKT tolerance %.1e after %d iterations (worst %.2e)", tol, it, worst)
    return A, info


def _fista(G, C, lam1, lam2, tol, max_iter, check_every, finish):
    """FISTA + active-set finish on the rows of C; converged rows leave the working set at each check.
    Returns (A, iterations, worst scaled KKT, all converged)."""
    step = 1.0 / (float(torch.linalg.matrix_norm(G, ord=2)) + lam2 + 1e-30)
    out = torch.zeros_like(C)
    rows = torch.arange(C.shape[0], device=C.device)
    worst = 0.0
    scale = tol * (1 + C.abs().amax(dim=1))
    A = soft(C * step, lam1 * step)  # one ISTA step from 0
    Y, A_prev, t = A.clone(), A.clone(), 1.0
    it = 0
    while True:
        kkt = kkt_violation(A, G, C, lam1, lam2)
        if finish and it > 0:  # after the first ISTA step the support is still a guess: do not pay for a solve
            todo = kkt > scale
            if bool(todo.any()):
                idx = todo.nonzero().squeeze(1)
                cand = _support_solve(A[idx], G, C[idx], lam1, lam2)
                k_c = kkt_violation(cand, G, C[idx], lam1, lam2)
                good = k_c <= scale[idx]  # only exact finishes (partial ones could cycle)
                A[idx[good]] = cand[good]
                kkt[idx[good]] = k_c[good]
        done = kkt <= scale
        out[rows[done]] = A[done]
        if bool(done.all()) or it >= max_iter:
            break
        keep = ~done
        rows, C, scale, A, Y, A_prev = rows[keep], C[keep], scale[keep], A[keep], Y[keep], A_prev[keep]
        for _ in range(check_every):
            A = soft(Y - step * (Y @ G - C + lam2 * Y), lam1 * step)
            t_next = 0.5 * (1 + (1 + 4 * t * t) ** 0.5)
            Y = A + ((t - 1) / t_next) * (A - A_prev)
            A_prev, t = A, t_next
            it += 1
    left = ~done
    if bool(left.any()):
        out[rows[left]] = A[left]
        worst = float((kkt[left] / scale[left] * tol).max())
    return out, it, worst, not bool(left.any())


def implicit_backward(
    grad_A: torch.Tensor, X: torch.Tensor, P: torch.Tensor, A: torch.Tensor, lam2: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The implicit gradients of Koch & Corso Eqs. 6-8 (Mairal et al. 2012), batched.

    grad_A, A: (B, K); X: (B, m); P: (m, K). On each row's active set L = {j : a_j != 0}:

        b_L = (P_L^T P_L + lam2 I)^{-1} grad_A[L],   b = 0 off L                                    (Eq. 6)
        grad_P = sum_rows  -P b a^T + (x - P a) b^T                                                (Eq. 7)
        grad_X = P b  (one row per sample)                                                          (Eq. 8)

    Returns ``(grad_X (B, m), grad_P (m, K))``. A singular active-set system (lam2 = 0 and dependent active
    columns) is solved in the least-squares sense (pseudo-inverse).
    """
    K = P.shape[1]
    b = torch.zeros_like(A)
    live = (A != 0).any(dim=1).nonzero().squeeze(1)  # rows with an empty active set have b = 0
    if live.numel():
        on = (A[live] != 0).to(A.dtype)
        G = P.mT @ P + lam2 * torch.eye(K, dtype=P.dtype, device=P.device)
        b[live] = _masked_solve(G, on, grad_A[live] * on)
    grad_X = b @ P.mT
    R = X - A @ P.mT
    grad_P = -P @ (b.mT @ A) + R.mT @ b
    return grad_X, grad_P


class ElasticNetFunction(torch.autograd.Function):
    """A = elastic_net(X, P) with the implicit backward (no unrolling). Use :func:`sparse_factorize`."""

    @staticmethod
    def forward(ctx, X, P, lam1, lam2, tol, max_iter):  # type: ignore[override]
        A, info = elastic_net(X.detach(), P.detach(), lam1, lam2, tol=tol, max_iter=max_iter)
        ctx.save_for_backward(X, P, A)
        ctx.lam2 = lam2
        ctx.info = info
        return A

    @staticmethod
    def backward(ctx, grad_A):  # type: ignore[override]
        X, P, A = ctx.saved_tensors
        grad_X, grad_P = implicit_backward(grad_A, X, P, A, ctx.lam2)
        return (grad_X if ctx.needs_input_grad[0] else None, grad_P if ctx.needs_input_grad[1] else None,
                None, None, None, None)


def sparse_factorize(
    X: torch.Tensor, P: torch.Tensor, lam1: float, lam2: float = 0.0, *, tol: Optional[float] = None,
    max_iter: int = 2000,
) -> torch.Tensor:
    """Differentiable elastic-net codes A (B, K) of X (B, m) over P (m, K) (forward: :func:`elastic_net`;
    backward: :func:`implicit_backward`, Eqs. 6-8)."""
    return ElasticNetFunction.apply(X, P, float(lam1), float(lam2), tol, int(max_iter))
