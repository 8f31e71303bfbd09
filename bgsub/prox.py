"""Proximal operators of the l1 and nuclear norms (plain functions, torch, CPU or CUDA).

Video matrices are tall and thin (pixels x frames, e.g. 76800 x 50), so the SVD goes through the small n x n
Gram matrix Q^T Q (one GEMM plus an n x n eigendecomposition in float64). Squaring the matrix loses the singular
values below about sqrt(eps) * sigma_max; when the threshold tau would keep any of those, the accurate path
(QR first, then the SVD of the n x n factor R) is used instead.
"""

from __future__ import annotations

import torch

# Relative size (to sigma_max) below which singular values from the Gram path are not trusted, per dtype.
_GRAM_TRUST = {torch.float32: 1e-3, torch.float64: 1e-7}


def soft(q: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """Soft thresholding, element-wise: sign(q) * max(|q| - tau, 0). Any shape; tau a scalar or broadcastable."""
    return torch.sign(q) * torch.clamp(q.abs() - tau, min=0)


def _svd_small_side(Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For tall Q (m x n, m >= n): singular values (n,) descending and right vectors V (n x n), via the Gram."""
    G = (Q.mT @ Q).double()
    w, V = torch.linalg.eigh(G)  # ascending
    w = w.flip(-1).clamp(min=0)
    V = V.flip(-1)
    return w.sqrt(), V


def svt(Q: torch.Tensor, tau: float) -> torch.Tensor:
    """Singular value thresholding: U diag(max(sigma - tau, 0)) V^T where Q = U diag(sigma) V^T.

    Q: (m, n) or batched (..., m, n), any aspect ratio, float32 or float64, CPU or CUDA. Returns the same shape
    and dtype. The prox of tau * ||.||_*.
    """
    if Q.shape[-2] < Q.shape[-1]:
        return svt(Q.mT, tau).mT
    if tau <= 0:
        return Q.clone()
    sigma, V = _svd_small_side(Q)
    smax = sigma[..., :1].clamp(min=torch.finfo(torch.float64).tiny)
    trust = _GRAM_TRUST.get(Q.dtype, 1e-3)
    # Kept singular values that the Gram path cannot resolve -> accurate path.
    if bool(((sigma > tau) & (sigma < trust * smax)).any()):
        return _svt_qr(Q, tau)
    scale = torch.where(sigma > tau, (sigma - tau) / sigma.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
    M = (V * scale.unsqueeze(-2)) @ V.mT  # n x n: V diag(scale) V^T
    return Q @ M.to(Q.dtype)


def _svt_qr(Q: torch.Tensor, tau: float) -> torch.Tensor:
    Qf, R = torch.linalg.qr(Q.double())
    U, s, Vh = torch.linalg.svd(R)
    s = (s - tau).clamp(min=0)
    return (Qf @ (U * s.unsqueeze(-2)) @ Vh).to(Q.dtype)


def singular_values(Q: torch.Tensor) -> torch.Tensor:
    """Singular values of Q (..., m, n), descending (no gradient)."""
    return torch.linalg.svdvals(Q.detach())


def nuclear_norm(Q: torch.Tensor) -> torch.Tensor:
    """||Q||_* = sum of singular values, differentiable (torch's SVD backward). Q: (m, n) or (..., m, n)."""
    return torch.linalg.svdvals(Q).sum(-1)
