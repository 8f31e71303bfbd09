"""Losses of the low-rank + sparse U-Net: nuclear norm, l1 norm, the training loss (Eq. 6) and the polishing
loss (Eq. 7) with its proximal-gradient autograd functions.

Shapes: a stack of N frames (N, C, H, W) is arranged as the matrix (m, N) with m = C*H*W pixels per column
(:func:`as_matrix`), as in the paper. Video matrices are tall (m >> N), so every SVD here goes through the small
N x N Gram matrix X^T X, formed and eigendecomposed in float64 (cost m N^2 + N^3, no m x m work).

Nuclear norm backward (:class:`NuclearNorm`): the gradient of ||X||_* is U V^T = X V diag(1/sigma) V^T. It is
well defined for repeated singular values (no 1/(sigma_i^2 - sigma_j^2) terms, unlike a full SVD backward). For
(numerically) zero singular values the norm is not differentiable; the backward returns the minimum-norm
subgradient U_r V_r^T over the singular values above ``rtol * sigma_max`` (rtol 1e-6 by default; with the float64
Gram, singular values are resolved down to about 1e-8 sigma_max), never inf/NaN.

Proximal-gradient functions (:class:`ProxNuclear`, :class:`ProxL1`, used by Eq. 7): the backward pass returns
exactly ``Q - svt(Q, tau)`` and ``Q - soft(Q, tau)`` (the operators of :mod:`bgsub.prox`). So that this backward is
the true gradient of the forward value (and gradcheck holds), the forward value is the envelope
``e(Q) = min_X tau ||X|| + 1/2 ||X - Q||_F^2`` (tau times the Moreau envelope of the norm), whose gradient is
``Q - prox_{tau ||.||}(Q)``. e(Q) is a smoothed norm: ``tau * (|q| - tau/2)`` per entry (per singular value)
above tau, ``q^2 / 2`` below. The polishing step therefore descends a Huber-smoothed Eq. 7. The plain
Eq. 7 value (with the true norms) is reported beside it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import torch

from bgsub.prox import soft, svt

if TYPE_CHECKING:
    from bgsub.config import Config

__all__ = [
    "as_matrix", "nuclear_norm", "l1_norm", "default_lam_1", "lam_1_for", "lowrank_sparse_loss", "ProxNuclear",
    "ProxL1", "prox_nuclear", "prox_l1", "polish_loss", "support_energy",
]


def as_matrix(stack: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (m, N) with m = C*H*W: one column per frame (the paper's D and S_theta(D))."""
    return stack.reshape(stack.shape[0], -1).mT


def _gram_svd(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tall X (m, n), m >= n: singular values (n,) descending, float64, and right singular vectors V (n, n),
    float64, from the eigendecomposition of the float64 Gram matrix X^T X."""
    Xd = X.detach().double()
    w, V = torch.linalg.eigh(Xd.mT @ Xd)
    return w.flip(-1).clamp(min=0).sqrt(), V.flip(-1)


class NuclearNorm(torch.autograd.Function):
    """||X||_* of a (m, n) matrix with the backward U V^T (see the module docstring). Use :func:`nuclear_norm`."""

    @staticmethod
    def forward(ctx, X: torch.Tensor, rtol: float = 1e-6):  # type: ignore[override]
        transpose = X.shape[0] < X.shape[1]
        Xt = X.mT if transpose else X
        sigma, V = _gram_svd(Xt)
        ctx.save_for_backward(X, sigma, V)
        ctx.rtol = rtol
        ctx.transpose = transpose
        return sigma.sum().to(X.dtype)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        X, sigma, V = ctx.saved_tensors
        Xt = X.mT if ctx.transpose else X
        keep = sigma > ctx.rtol * sigma[:1].clamp(min=torch.finfo(torch.float64).tiny)
        inv = torch.where(keep, 1.0 / sigma.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
        M = (V * inv) @ V.mT  # V diag(1/sigma) V^T restricted to the kept directions, (n, n)
        G = Xt.double() @ M  # = U V^T
        G = G.mT if ctx.transpose else G
        return (g.double() * G).to(X.dtype), None


def nuclear_norm(X: torch.Tensor, *, rtol: float = 1e-6) -> torch.Tensor:
    """||X||_* = sum of singular values of X (m, n), differentiable with gradient U V^T; cheap for tall X.

    >>> nuclear_norm(torch.eye(3, dtype=torch.float64)).item()
    3.0
    """
    if X.ndim != 2:
        raise ValueError(f"nuclear_norm expects a matrix, got shape {tuple(X.shape)}")
    return NuclearNorm.apply(X, rtol)


def l1_norm(X: torch.Tensor) -> torch.Tensor:
    """Sum of absolute values (any shape); torch's subgradient sign(X) (0 at 0)."""
    return X.abs().sum()


def default_lam_1(m: int, n: int) -> float:
    """The robust-PCA default lambda_1 = 1/sqrt(max(m, n)) for an m x n matrix."""
    return 1.0 / math.sqrt(max(m, n))


def lam_1_for(cfg: Config, m: int, n: int) -> float:
    """lambda_1 of Eq. 6 and Eq. 7 for an m x n training matrix: ``train.lam_1``, or ``train.lam_1_scale`` times
    :func:`default_lam_1`."""
    tc = cfg.train
    return tc.lam_1 if tc.lam_1 is not None else tc.lam_1_scale * default_lam_1(m, n)


def lowrank_sparse_loss(
    D: torch.Tensor, S: torch.Tensor, *, lam_star: float = 1.0, lam_1: Optional[float] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 6: ``lam_star * ||D - S||_* + lam_1 * ||S||_1``.

    D, S: (N, C, H, W) input frames and network output (S is computed in float32 even under autocast).
    lam_1: None = 1/sqrt(max(m, N)), m = C*H*W. Returns (loss, nuclear term, l1 term), the terms weighted.
    """
    Dm, Sm = as_matrix(D.float()), as_matrix(S.float())
    if lam_1 is None:
        lam_1 = default_lam_1(*Dm.shape)
    nuc = lam_star * nuclear_norm(Dm - Sm)
    l1 = lam_1 * l1_norm(Sm)
    return nuc + l1, nuc, l1


# ---- Eq. 7: proximal-gradient autograd functions -------------------------------------------------------------


def support_energy(
    logits: torch.Tensor, z: torch.Tensor, *, k: float = 6.0, tv: float = 1.0, cap: float = 16.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The low-rank + sparse *support* energy of DECOLOR (Zhou, Yang & Yu, TPAMI 2013) with the low-rank
    background fixed to the reference, relaxed to a soft mask: the default U-Net's training loss.

    logits: (B, 1, H, W) the network's foreground logits, m = sigmoid(logits); z: (B, C, H, W) >= 0 the residual
    to the background reference in noise levels (:func:`bgsub.background.residual`). Per pixel, with the group
    residual r = max_c z_c (a pixel is foreground in all channels together)::

        E = mean[ (1 - m) * min((r / k)^2, cap) + m ] + tv * mean(|m(x+1) - m(x)| + |m(y+1) - m(y)|)

    DECOLOR's energy 1/2 ||(1 - m) (D - L)||^2 + beta ||m||_1 + gamma ||grad m||_1, in noise units and divided by
    beta = k^2 / 2: a background pixel costs its squared residual, a foreground pixel costs 1, the boundary costs
    ``tv`` per pixel of length (the MRF/TV coherence prior: isolated specks and holes cost more than they
    explain). Without ``tv`` the minimiser is the reference thresholded at z > k; ``cap`` truncates the
    background cost (a robust data term: a single wild pixel cannot outvote its neighbourhood's boundary cost).
    Returns (energy, {"data", "tv", "fg"}: the data term, the TV term and the mean of m, detached).
    """
    if logits.ndim != 4 or logits.shape[1] != 1 or z.ndim != 4 or z.shape[0] != logits.shape[0] or \
            z.shape[-2:] != logits.shape[-2:]:
        raise ValueError(f"support_energy: logits (B, 1, H, W) and z (B, C, H, W) expected, got "
                         f"{tuple(logits.shape)} and {tuple(z.shape)}")
    dt = torch.promote_types(logits.dtype, torch.float32)  # float32 at least (bf16 logits), float64 kept
    m = torch.sigmoid(logits.to(dt))
    r = (z.to(dt).amax(dim=1, keepdim=True) / k).square().clamp(max=cap)
    data = ((1 - m) * r + m).mean()
    grad = (m[..., 1:, :] - m[..., :-1, :]).abs().mean() + (m[..., :, 1:] - m[..., :, :-1]).abs().mean()
    energy = data + tv * grad
    return energy, {"data": data.detach(), "tv": grad.detach(), "fg": m.mean().detach()}


class ProxNuclear(torch.autograd.Function):
    """Forward: the Moreau envelope ``min_X tau ||X||_* + 1/2 ||X - Q||^2`` of Q (m, n); backward: exactly
    ``Q - svt(Q, tau)`` (times the incoming gradient). Use :func:`prox_nuclear`."""

    @staticmethod
    def forward(ctx, Q: torch.Tensor, tau: float):  # type: ignore[override]
        P = svt(Q, tau)
        R = Q - P
        sigma = torch.linalg.svdvals(P.double()) if P.shape[0] * P.shape[1] <= 4096 else None
        if sigma is None:
            tall = P if P.shape[0] >= P.shape[1] else P.mT
            sigma, _ = _gram_svd(tall)
        ctx.save_for_backward(R)
        return (tau * sigma.sum() + 0.5 * (R.double() ** 2).sum()).to(Q.dtype)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        (R,) = ctx.saved_tensors
        return g * R, None


class ProxL1(torch.autograd.Function):
    """Forward: the Moreau envelope (Huber function) ``sum min_x tau |x| + 1/2 (x - q)^2``; backward: exactly
    ``Q - soft(Q, tau)``. Use :func:`prox_l1`."""

    @staticmethod
    def forward(ctx, Q: torch.Tensor, tau: float):  # type: ignore[override]
        P = soft(Q, tau)
        R = Q - P
        ctx.save_for_backward(R)
        return tau * P.abs().sum() + 0.5 * (R**2).sum()

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        (R,) = ctx.saved_tensors
        return g * R, None


def prox_nuclear(Q: torch.Tensor, tau: float) -> torch.Tensor:
    """Smoothed nuclear norm of Q (m, n) whose gradient is exactly ``Q - svt(Q, tau)``."""
    if Q.ndim != 2:
        raise ValueError(f"prox_nuclear expects a matrix, got shape {tuple(Q.shape)}")
    return ProxNuclear.apply(Q, float(tau))


def prox_l1(Q: torch.Tensor, tau: float) -> torch.Tensor:
    """Smoothed l1 norm of Q (any shape) whose gradient is exactly ``Q - soft(Q, tau)``."""
    return ProxL1.apply(Q, float(tau))


def polish_loss(
    D: torch.Tensor,
    S_theta: torch.Tensor,
    L: torch.Tensor,
    S: torch.Tensor,
    *,
    alpha: float = 0.5,
    lam_star: float = 1.0,
    lam_1: Optional[float] = None,
    tau_star: Optional[float] = None,
    tau_1: Optional[float] = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 7: ``lam_star ||L + alpha (S - S_theta)||_* + lam_1 ||S_theta + alpha (S - S_theta)||_1`` with the
    proximal-gradient backward.

    D, S_theta: (N, C, H, W) input and the network output (with grad); L, S: detached copies taken before the step
    (L = D - S_theta, S = S_theta). Thresholds (defaults, and why): ``tau_star = alpha * lam_star`` and
    ``tau_1 = alpha * lam_1``, those of the proximal forward-backward steps Eqs. 4-5 with step alpha; with them
    ``Q - svt(Q, tau)`` is the move from Q to the next iterate of Eq. 4 (and likewise for Eq. 5), so one gradient
    step pulls S_theta towards the next RPCA iterate. Returns (loss for backward, {"nuclear", "l1", "loss"}: the
    weighted true norms of Eq. 7, for logging).
    """
    Dm, Stm = as_matrix(D.float()), as_matrix(S_theta.float())
    Lm, Sm = as_matrix(L.float()), as_matrix(S.float())
    if lam_1 is None:
        lam_1 = default_lam_1(*Dm.shape)
    tau_star = alpha * lam_star if tau_star is None else tau_star
    tau_1 = alpha * lam_1 if tau_1 is None else tau_1
    Qn = Lm + alpha * (Sm - Stm)
    Q1 = Stm + alpha * (Sm - Stm)
    loss = lam_star * prox_nuclear(Qn, tau_star) + lam_1 * prox_l1(Q1, tau_1)
    with torch.no_grad():
        nuc = lam_star * float(_gram_svd(Qn if Qn.shape[0] >= Qn.shape[1] else Qn.mT)[0].sum())
        l1 = lam_1 * float(Q1.abs().sum())
    return loss, {"nuclear": nuc, "l1": l1, "loss": nuc + l1}


# ---------------------------------------------------------------------------------------------------------------
# Sparse-coding losses (issue 10): Koch & Corso's unsupervised loss (Eq. 12), the semi-supervised combination
# (Eq. 14) with its step-down schedule for mu, and a supervised term for a few labelled frames.
# ---------------------------------------------------------------------------------------------------------------

MU_STEPS = (0.8, 0.5, 0.3, 0.0)


def elastic_net_loss(
    X: torch.Tensor, P: torch.Tensor, A: torch.Tensor, lam1: float, lam2: float = 0.0, *, reduction: str = "mean",
) -> torch.Tensor:
    """Koch & Corso Eq. 12: ``1/2 ||x - P a*||^2 + lam1 ||a*||_1 + lam2/2 ||a*||^2`` per signal.

    X: (N, m) the signals a sparse-factorization layer factorized (for a CSF layer: its patches, one row each,
    from ``layer.patches(x)``); P: (m, K) the layer's dictionary; A: (N, K) its codes a* (the layer's output; for
    a CSF layer ``ConvSparseFactorization.codes_as_rows(out)``). A is detached here: a* is the minimiser, so by
    the envelope theorem the gradients are exactly Eq. 13, ``dL/dP = -(x - P a*) a*^T``, and Eq. 15,
    ``dL/dx = x - P a*`` (the latter flows on into the layers below). reduction: "mean" over the N signals (the
    default: for a CSF layer the per-patch mean, so the scale does not grow with the image size) or "sum".
    Returns a scalar.
    """
    A = A.detach()
    per = 0.5 * ((X - A @ P.mT) ** 2).sum(dim=1) + lam1 * A.abs().sum(dim=1) + 0.5 * lam2 * (A**2).sum(dim=1)
    if reduction == "mean":
        return per.mean()
    if reduction == "sum":
        return per.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def sparse_layer_loss(layer, x: torch.Tensor, out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Eq. 12 for one SF or CSF layer (duck-typed: ``layer.patches``, ``layer.dictionary``, ``lam1``, ``lam2``):
    x is the layer's input, out its output ``layer(x)``. SF: x (B, m), out (B, K); CSF: x (B, C, H, W),
    out (B, K, H', W')."""
    codes = out if out.ndim == 2 else out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])
    return elastic_net_loss(layer.patches(x), layer.dictionary, codes, layer.lam1, layer.lam2, reduction=reduction)


def mu_schedule(step: int, total_steps: int, values=MU_STEPS) -> float:
    """Koch & Corso's step-down schedule for mu: ``values`` (default 0.8, 0.5, 0.3, 0.0) for equal consecutive
    shares of ``total_steps``; step counts from 0 (steps past the end get the last value)."""
    if total_steps <= 0 or not values:
        raise ValueError(f"need total_steps > 0 and at least one value, got {total_steps}, {values}")
    idx = min(len(values) - 1, max(0, step) * len(values) // total_steps)
    return float(values[idx])


def semi_supervised_loss(supervised: torch.Tensor, unsupervised: torch.Tensor, mu: float) -> torch.Tensor:
    """Koch & Corso Eq. 14 as a loss: ``(1 - mu) * supervised + mu * unsupervised``, 0 <= mu <= 1. Its gradient
    on every parameter is the convex combination of the two gradients (Eq. 14 states it for the dictionary).
    The unsupervised term may come from other (unlabelled) samples than the supervised one."""
    if not 0.0 <= mu <= 1.0:
        raise ValueError(f"mu must be in [0, 1], got {mu}")
    return (1.0 - mu) * supervised + mu * unsupervised


def masked_bce(
    scores: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor] = None, *, logits: bool = True,
    pos_weight: Optional[float] = None,
) -> torch.Tensor:
    """Binary cross-entropy of a predicted foreground against ground-truth masks, over valid pixels only.

    scores: (N, 1, H, W) (any shape) foreground logits (``logits=True``) or probabilities in [0, 1]; target: same
    shape, bool or {0, 1} (1 = foreground); valid: same shape, bool, False = ignored (CDnet 85/170, outside the
    ROI), None = all valid. pos_weight: weight of the positive pixels (foreground is rare; None = 1). Returns the
    mean over valid pixels (0, with a gradient of zeros, when no pixel is valid).
    """
    target = target.to(scores.dtype)
    w = torch.ones_like(scores) if valid is None else valid.to(scores.dtype)
    if pos_weight is not None:
        w = w * (1.0 + (float(pos_weight) - 1.0) * target)
    if logits:
        per = torch.nn.functional.binary_cross_entropy_with_logits(scores, target, reduction="none")
    else:
        per = torch.nn.functional.binary_cross_entropy(scores.clamp(1e-7, 1 - 1e-7), target, reduction="none")
    n = (w > 0).sum()
    return (per * w).sum() / n.clamp(min=1)


def foreground_logits(S: torch.Tensor, *, tau: float, temperature: float) -> torch.Tensor:
    """Foreground logits from a sparse part, for :func:`masked_bce`: ``(mean_c |S| - tau) / temperature``.

    S: (N, C, H, W), the sparse part (foreground) of a decomposition; returns (N, 1, H, W). tau: the |S| level
    that counts as an even chance (e.g. a typical Otsu threshold of |S|, about 0.1 for frames in [0, 1]);
    temperature > 0: how sharply the logit turns with |S| (smaller = sharper).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return (S.abs().mean(dim=1, keepdim=True) - tau) / temperature
