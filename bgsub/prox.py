"""Proximal operators of the l1 and nuclear norms (plain functions, torch, CPU or CUDA, float32 or float64).

- :func:`soft` ``(q, tau)``: the prox of ``tau * ||.||_1``, element-wise.
- :func:`svt` ``(Q, tau)``: the prox of ``tau * ||.||_*`` (singular value thresholding), any shape, batched.
- :func:`svt_weights` ``(Q, tau)``: the n x n matrix W with ``svt(Q, tau) = Q @ W`` for a tall Q.
- :func:`svt_parts` ``(Q, tau, basis=P)``: ``svt(Q, tau) = B @ K`` plus the SVD it found, for iterative solvers
  (the product is fused with other terms in one GEMM, and the next call can reuse V as its basis).

Video matrices are tall and thin (pixels x frames, e.g. 76800 x 50), so the SVD goes through the small n x n
Gram matrix ``Q^T Q``: one GEMM in the input's dtype, then an n x n eigendecomposition in float64. Then
``svt(Q, tau) = Q V diag(max(sigma - tau, 0) / sigma) V^T``: only the right singular vectors V and the
singular values sigma are needed, and ``Q @ W`` is accurate to working precision once they are.

Squaring the matrix loses the singular values below about ``sqrt(eps) * sigma_max`` (float32: ~3e-4 relative,
float64: ~1e-8). ``method="auto"`` (the default) checks whether tau keeps any singular value in that untrusted
band and only then takes a more accurate path: for float32 input, a second Gram matrix of ``Q V_small`` (the
directions of the small singular values, which are then no longer dwarfed by sigma_max) resolves them to the
precision of Q itself (batched float32 input: the Gram matrix is recomputed in float64); for float64 input it
falls back to QR first and the SVD of the n x n factor R (a full, accurate SVD). ``method="gram"`` never falls
back and treats the singular values in the untrusted band as zero (fastest; each dropped one is below
``trust * sigma_max``, so the error is bounded by the band: ~1e-3 sigma_max in float32, ~1e-7 in float64; it
also keeps the rank from filling up with the Gram matrix's rounding noise). ``method="full"`` always uses
:func:`torch.linalg.svd` (the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

SVD_METHODS = ("auto", "gram", "full")

# Singular values below trust * sigma_max are not resolved by a Gram matrix formed in that dtype.
_GRAM_TRUST = {torch.float16: 3e-2, torch.bfloat16: 1e-1, torch.float32: 1e-3, torch.float64: 1e-7}
# Band (relative to sigma_max) refined by a second, rotated Gram matrix for inputs below float64.
_REFINE_BAND = {torch.float16: 0.3, torch.bfloat16: 0.5, torch.float32: 1e-2}
_TINY = torch.finfo(torch.float64).tiny


def soft(q: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """Soft thresholding, element-wise: ``sign(q) * max(|q| - tau, 0)``, the prox of ``tau * ||.||_1``.

    q: any shape, any float dtype, any device. tau: a scalar >= 0, or a tensor broadcastable to q. Returns a new
    tensor of q's shape and dtype (computed as ``q - clamp(q, -tau, tau)``, exact in floating point).

    >>> soft(torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0]), 1.0)
    tensor([-1.,  0.,  0.,  0.,  1.])
    """
    if isinstance(tau, torch.Tensor):
        tau = tau.to(q.dtype)
        return q - torch.clamp(q, min=-tau, max=tau)
    if tau < 0:
        raise ValueError(f"soft: tau must be >= 0, got {tau}")
    return q - torch.clamp(q, min=-tau, max=tau)


def _gram_eig(Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tall Q (..., m, n): singular values (..., n) descending and right singular vectors V (..., n, n), both
    float64, through the Gram matrix Q^T Q formed in Q's dtype."""
    G = (Q.mT @ Q).double()
    w, V = torch.linalg.eigh(G)  # ascending
    return w.flip(-1).clamp(min=0).sqrt(), V.flip(-1)


def _exact_eig(Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Same as :func:`_gram_eig` but accurate: QR of Q in float64, then the SVD of the n x n factor R."""
    Qd = Q.double()
    if Q.shape[-2] > 2 * Q.shape[-1]:
        Qd = torch.linalg.qr(Qd, mode="r")[1]
    _, s, Vh = torch.linalg.svd(Qd, full_matrices=False)
    return s, Vh.mT


def _refine_small(
    Q: torch.Tensor, sigma: torch.Tensor, V: torch.Tensor, band: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resolve the small singular values of a tall Q (m, n) that the first Gram matrix could not.

    The k right singular vectors with sigma < band * sigma_max span (to within ``eps / band^2``) the subspace
    of the small singular values; ``B = Q V_small`` (m, k) has columns of norm ~sigma, so its own Gram matrix
    is accurate relative to *those* sizes, not to sigma_max. Its eigendecomposition rotates V_small and gives
    the small singular values to about ``eps * sigma_max`` absolute accuracy, the resolution of Q itself.
    Cost: two thin GEMMs (m n k and m k^2) instead of a float64 copy of Q.
    """
    n = sigma.shape[-1]
    k = int((sigma < band * sigma[0]).sum())
    if k == 0:
        return sigma, V
    Vs = V[:, n - k:]
    B = Q @ Vs.to(Q.dtype).contiguous()
    w, X = torch.linalg.eigh((B.mT @ B).double())
    V = V.clone()
    sigma = sigma.clone()
    V[:, n - k:] = Vs @ X.flip(-1)
    sigma[n - k:] = w.flip(-1).clamp(min=0).sqrt()
    return sigma, V


def _untrusted(sigma: torch.Tensor, tau: float, trust: float) -> bool:
    """True when tau may keep a singular value the Gram matrix did not resolve (in any matrix of the batch).

    A value computed below ``band = trust * sigma_max`` is known only to lie somewhere in [0, band] (a true
    1e-9 sigma_max can come out as 0 after the clamp), so whether tau keeps it is unknown whenever tau < band,
    whatever the computed value. With tau >= band every such value is thresholded to 0, as it should be.
    """
    smax = sigma[..., :1]
    band = trust * smax
    return bool(((sigma < band) & (tau < band) & (smax > 0)).any())


def _small_side(Q: torch.Tensor, tau: float, method: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(sigma, V, hard): hard = the plain Gram matrix could not resolve the singular values above tau."""
    if method not in SVD_METHODS:
        raise ValueError(f"svd method must be one of {', '.join(SVD_METHODS)}, got {method!r}")
    if method == "full":
        return (*_exact_eig(Q), False)
    sigma, V = _gram_eig(Q)
    if method == "gram" or not _untrusted(sigma, tau, _GRAM_TRUST.get(Q.dtype, 1e-3)):
        return sigma, V, False
    if Q.dtype != torch.float64:
        if Q.ndim == 2:
            return (*_refine_small(Q, sigma, V, _REFINE_BAND.get(Q.dtype, 1e-2)), True)
        # A float64 Gram matrix resolves everything down to ~1e-8 sigma_max, below the input's own resolution.
        return (*_gram_eig(Q.double()), True)
    return (*_exact_eig(Q), True)


def svd_small_side(Q: torch.Tensor, tau: float = 0.0, *, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Singular values (..., n) (descending) and right singular vectors V (..., n, n) of a tall Q (..., m, n),
    both float64, accurate for every singular value above ``tau`` (see the module notes for ``method``)."""
    sigma, V, _ = _small_side(Q, tau, method)
    return sigma, V


def _scale(sigma: torch.Tensor, tau: float, keep: Optional[torch.Tensor] = None) -> torch.Tensor:
    """max(sigma - tau, 0) / sigma (0 where sigma = 0 or not kept)."""
    k = sigma > tau if keep is None else keep & (sigma > tau)
    return torch.where(k, (sigma - tau) / sigma.clamp(min=_TINY), torch.zeros_like(sigma))


@dataclass
class SVTParts:
    """``svt(Q, tau) = B @ K`` for a tall Q (m, n), with what was learned on the way (see :func:`svt_parts`).

    B: (m, n), Q itself or ``Q @ P`` for a basis P; K: (n, n) in Q's dtype; sigma: (n,) float64, the singular
    values of Q, descending; V: (n, n) float64, its right singular vectors; hard: the plain Gram matrix could
    not resolve the kept singular values (passing ``basis=V`` next time avoids the second pass); rank: the rank of
    ``svt(Q, tau)``, the singular values it keeps (with ``method="gram"``, not those dropped as unresolved).
    """

    B: torch.Tensor
    K: torch.Tensor
    sigma: torch.Tensor
    V: torch.Tensor
    hard: bool
    rank: int = 0


def svt_parts(
    Q: torch.Tensor, tau: float, *, method: str = "auto", basis: Optional[torch.Tensor] = None,
    out: Optional[torch.Tensor] = None,
) -> SVTParts:
    """The SVT of a tall Q (m, n) as a product ``B @ K``, for iterative solvers.

    ``basis`` (optional, with ``method="auto"``): an orthonormal (n, n) float64 matrix P, typically the V of the
    previous, similar matrix. Then ``B = Q P`` and the Gram matrix of B is formed instead: when P separates the
    large singular directions from the small ones, B's columns have norms ~sigma_i, its Gram matrix is accurate
    relative to each pair of them, and the small singular values are resolved in one pass (one extra GEMM
    instead of two). If P does not separate them (checked on the column norms of B), the plain path is used.
    ``out`` (optional, (m, n) like Q): where to put ``Q P``, to avoid allocating it on every call.
    """
    if Q.ndim != 2 or Q.shape[0] < Q.shape[1]:
        raise ValueError(f"svt_parts needs a tall matrix (m >= n), got {tuple(Q.shape)}")
    if basis is not None and method == "auto":
        B = torch.mm(Q, basis.to(Q.dtype), out=out) if out is not None else Q @ basis.to(Q.dtype)
        G = (B.mT @ B).double()
        w, X = torch.linalg.eigh(G)
        sigma, X = w.flip(-1).clamp(min=0).sqrt(), X.flip(-1)
        band = _REFINE_BAND.get(Q.dtype, 1e-2) * float(sigma[0])
        # P separates the directions when as many columns of B are large as there are large singular values
        if int((G.diagonal() > band * band).sum()) == int((sigma > band).sum()):
            V = basis @ X
            scale = _scale(sigma, tau)
            return SVTParts(B, ((X * scale.unsqueeze(-2)) @ V.mT).to(Q.dtype), sigma, V,
                            _untrusted(sigma, tau, _GRAM_TRUST.get(Q.dtype, 1e-3)), int((scale > 0).sum()))
    sigma, V, hard = _small_side(Q, tau, method)
    keep = None
    if method == "gram":  # drop what the Gram matrix cannot resolve (noise, not signal)
        keep = sigma >= _GRAM_TRUST.get(Q.dtype, 1e-3) * sigma[..., :1]
    scale = _scale(sigma, tau, keep)
    W = (V * scale.unsqueeze(-2)) @ V.mT
    return SVTParts(Q, W.to(Q.dtype), sigma, V, hard, int((scale > 0).sum()))


def kept(sigma: torch.Tensor, tau: float, *, method: str = "auto", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Bool mask (..., n) of the singular values ``svt`` keeps: above tau, and with ``method="gram"`` also within
    what a Gram matrix in ``dtype`` resolves (the others are dropped as rounding noise)."""
    keep = sigma > tau
    if method == "gram":
        keep = keep & (sigma >= _GRAM_TRUST.get(dtype, 1e-3) * sigma[..., :1])
    return keep


def svt_weights(
    Q: torch.Tensor, tau: float, *, method: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """For a tall Q (..., m, n) with m >= n: the n x n matrix W (..., n, n), in Q's dtype, such that
    ``svt(Q, tau) = Q @ W``, and the singular values (..., n) float64 of Q (descending).

    ``W = V diag(max(sigma - tau, 0) / sigma) V^T``. ``I - W`` gives the complementary part
    ``Q - svt(Q, tau) = Q @ (I - W)`` (singular values clipped at tau).
    """
    if Q.shape[-2] < Q.shape[-1]:
        raise ValueError(f"svt_weights needs a tall matrix (m >= n), got {tuple(Q.shape[-2:])}")
    sigma, V, _ = _small_side(Q, tau, method)
    keep = None
    if method == "gram":  # drop what the Gram matrix cannot resolve (noise, not signal)
        keep = sigma >= _GRAM_TRUST.get(Q.dtype, 1e-3) * sigma[..., :1]
    W = (V * _scale(sigma, tau, keep).unsqueeze(-2)) @ V.mT
    return W.to(Q.dtype), sigma


def svt(Q: torch.Tensor, tau: float, *, method: str = "auto", out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Singular value thresholding: ``U diag(max(sigma - tau, 0)) V^T`` where ``Q = U diag(sigma) V^T``, the prox
    of ``tau * ||.||_*``.

    Q: (m, n) or batched (..., m, n), tall or wide, float32 or float64, CPU or CUDA. tau: a scalar >= 0.
    Returns a tensor of Q's shape, dtype and device. The work is done on the small side (an n x n problem for a
    tall Q, m x m for a wide one); ``method`` as in the module notes. ``out`` (optional) receives the result.

    >>> Q = torch.diag(torch.tensor([3.0, 1.0, 0.5]))
    >>> torch.linalg.svdvals(svt(Q, 0.75))
    tensor([2.2500, 0.2500, 0.0000])
    """
    if tau < 0:
        raise ValueError(f"svt: tau must be >= 0, got {tau}")
    if Q.shape[-2] < Q.shape[-1]:
        W, _ = svt_weights(Q.mT, tau, method=method)
        res = W.mT @ Q  # (Q^T W)^T = W^T Q, W symmetric
    else:
        W, _ = svt_weights(Q, tau, method=method)
        res = Q @ W
    if out is not None:
        out.copy_(res)
        return out
    return res


def spectral_norm(Q: torch.Tensor) -> float:
    """||Q||_2, the largest singular value of a matrix Q (m, n), through the small Gram matrix (accurate: the
    largest eigenvalue of a Gram matrix is well conditioned)."""
    if Q.shape[-2] < Q.shape[-1]:
        Q = Q.mT
    return float(_gram_eig(Q)[0][..., 0].max())


def singular_values(Q: torch.Tensor) -> torch.Tensor:
    """Singular values of Q (..., m, n), descending (no gradient)."""
    return torch.linalg.svdvals(Q.detach())


def nuclear_norm(Q: torch.Tensor) -> torch.Tensor:
    """||Q||_* = sum of singular values, differentiable (torch's SVD backward). Q: (m, n) or (..., m, n)."""
    return torch.linalg.svdvals(Q).sum(-1)
