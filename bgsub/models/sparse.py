"""Sparse-factorization layers (Koch & Corso): SF, a drop-in for a linear layer + ReLU, and CSF, a drop-in for
``nn.Conv2d``.

Forward: the elastic-net code of the input over the layer's dictionary (Eq. 5), solved to a KKT tolerance by
:func:`bgsub.solvers.elastic_net.elastic_net`. Backward: the implicit formulas of Eqs. 6-8 on the active set
(:func:`bgsub.solvers.elastic_net.implicit_backward`), never by unrolling the solver.

Dictionary constraint (every column of P has l2 norm <= 1): kept by a *projection step after every optimiser
step*. Each layer registers itself in a weak set; one global ``torch.optim`` step post-hook
(``torch.optim.optimizer.register_optimizer_step_post_hook``, installed on first use) projects, after any
optimiser's ``step()``, the dictionary of every live layer whose parameter that optimiser holds:
``P[:, j] /= max(1, ||P[:, j]||)``. This is the paper's "normalise after every gradient step", works with any
optimiser without the caller doing anything, and keeps ``layer.dictionary`` (an ``nn.Parameter``) exactly the
matrix the forward pass uses. Code that changes the dictionary by other means (``load_state_dict``, manual edits)
can call ``layer.project_()``; the forward pass never rescales silently.
"""

from __future__ import annotations

import math
import weakref
from typing import Optional

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch import nn

from bgsub.solvers.elastic_net import sparse_factorize

__all__ = ["SparseFactorization", "ConvSparseFactorization", "project_columns_", "sparse_layers"]

_LAYERS: "weakref.WeakSet[_SparseBase]" = weakref.WeakSet()
_HOOK = None


def project_columns_(P: torch.Tensor) -> torch.Tensor:
    """In place: scale each column of P (m, K) whose l2 norm exceeds 1 back to norm 1. Returns P."""
    with torch.no_grad():
        P.div_(P.norm(dim=0, keepdim=True).clamp(min=1.0))
    return P


def _after_step(optimizer, args, kwargs) -> None:
    if not _LAYERS:  # the hook is global: cost nothing to optimisers of models without sparse layers
        return
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for layer in list(_LAYERS):
        if id(layer.dictionary) in held:
            layer.project_()


def _install_hook() -> None:
    global _HOOK
    if _HOOK is None:
        _HOOK = register_optimizer_step_post_hook(_after_step)


class _SparseBase(nn.Module):
    def __init__(self, m: int, atoms: int, lam1: float, lam2: float, tol: Optional[float], max_iter: int,
                 device=None, dtype=None):
        super().__init__()
        if not lam1 > 0 or lam2 < 0:
            raise ValueError(f"need lam1 > 0 and lam2 >= 0, got {lam1}, {lam2}")
        P = torch.randn(m, atoms, device=device, dtype=dtype or torch.get_default_dtype())
        self.dictionary = nn.Parameter(P / P.norm(dim=0, keepdim=True))
        self.lam1, self.lam2, self.tol, self.max_iter = float(lam1), float(lam2), tol, int(max_iter)
        _LAYERS.add(self)
        _install_hook()

    def project_(self) -> "_SparseBase":
        """Project the dictionary's columns onto the unit l2 ball, in place."""
        project_columns_(self.dictionary.data)
        return self

    def _codes(self, X: torch.Tensor) -> torch.Tensor:
        return sparse_factorize(X, self.dictionary, self.lam1, self.lam2, tol=self.tol, max_iter=self.max_iter)


class SparseFactorization(_SparseBase):
    """Sparse factorization (SF) layer: (B, in_features) -> (B, atoms), the elastic-net code (Eq. 5)

        a = argmin_a 1/2 ||x - P a||^2 + lam1 ||a||_1 + lam2/2 ||a||^2

    of each input row over ``dictionary`` P (in_features, atoms), columns of l2 norm <= 1 (see the module
    docstring). Replaces a linear layer *and* its ReLU (codes may be negative). No bias. ``tol`` is the KKT
    tolerance of the solver (None = dtype default), ``max_iter`` its safety cap.

    >>> layer = SparseFactorization(16, 8, lam1=0.1)
    >>> layer(torch.randn(4, 16)).shape
    torch.Size([4, 8])
    """

    def __init__(self, in_features: int, atoms: int, lam1: float, lam2: float = 0.0, *, tol: Optional[float] = None,
                 max_iter: int = 2000, device=None, dtype=None):
        super().__init__(in_features, atoms, lam1, lam2, tol, max_iter, device, dtype)
        self.in_features, self.atoms = int(in_features), int(atoms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"SparseFactorization: expected (B, {self.in_features}), got {tuple(x.shape)}")
        return self._codes(x)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The signals the layer factorizes, (N, in_features): x itself (for the Eq. 12 loss)."""
        return x

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, atoms={self.atoms}, lam1={self.lam1}, lam2={self.lam2}"


class ConvSparseFactorization(_SparseBase):
    """Convolutional sparse factorization (CSF) layer, Section 4.2: (B, C, H, W) -> (B, atoms, H-k+1, W-k+1).

    Every k x k patch (all C channels, flattened like ``nn.Conv2d``'s weight: c-major, then rows, then columns)
    is factorized over one shared ``dictionary`` P (C*k*k, atoms), columns of l2 norm <= 1. The patch gradients
    of Eqs. 7-8 are summed over patches (``F.unfold``'s adjoint does the input sum). A drop-in replacement for
    ``nn.Conv2d(C, atoms, k)`` (stride 1, no padding) of the same output shape; no bias.
    """

    def __init__(self, in_channels: int, atoms: int, kernel_size: int, lam1: float, lam2: float = 0.0, *,
                 tol: Optional[float] = None, max_iter: int = 2000, device=None, dtype=None):
        super().__init__(in_channels * kernel_size * kernel_size, atoms, lam1, lam2, tol, max_iter, device, dtype)
        self.in_channels, self.atoms, self.kernel_size = int(in_channels), int(atoms), int(kernel_size)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B * L, C*k*k): every k x k patch as a row, L = (H-k+1)(W-k+1), image-major."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvSparseFactorization: expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        cols = F.unfold(x, self.kernel_size)  # (B, C*k*k, L)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        k = self.kernel_size
        A = self._codes(self.patches(x))  # (B*L, atoms)
        return A.reshape(B, H - k + 1, W - k + 1, self.atoms).permute(0, 3, 1, 2)

    @staticmethod
    def codes_as_rows(codes: torch.Tensor) -> torch.Tensor:
        """(B, atoms, H', W') -> (B * H' * W', atoms), rows in the order of :meth:`patches`."""
        return codes.permute(0, 2, 3, 1).reshape(-1, codes.shape[1])

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, atoms={self.atoms}, kernel_size={self.kernel_size}, "
                f"lam1={self.lam1}, lam2={self.lam2}")


def sparse_layers(module: nn.Module) -> list[_SparseBase]:
    """The SF and CSF layers inside ``module`` (in ``modules()`` order)."""
    return [m for m in module.modules() if isinstance(m, _SparseBase)]
