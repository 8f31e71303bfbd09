"""Robust PCA solvers as pure functions: ``D (m pixels x n frames) -> (L, S, info)``.

- ``ialm``: principal component pursuit (``D = L + S`` exactly) by the inexact augmented Lagrangian method;
  the fast default.
- ``pfb``: the paper's proximal forward-backward iteration on Eq. 1 (Frobenius data term), kept faithful.
- ``apg``: the same objective as pfb with FISTA momentum (and adaptive restart).

:func:`solve` picks one by name. See :mod:`bgsub.solvers.common` for the stopping rule and what each residual
means.

Example::

    L, S, info = solve("ialm", D, tol=1e-7)
    info.iterations, info.residual, info.converged
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from bgsub.errors import BgsubError
from bgsub.solvers.apg import apg
from bgsub.solvers.common import SolverInfo, default_lam
from bgsub.solvers.ialm import ialm
from bgsub.solvers.pfb import pfb

SOLVERS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor, SolverInfo]]] = {
    "ialm": ialm,
    "apg": apg,
    "pfb": pfb,
}


def solve(name: str, D: torch.Tensor, **options: Any) -> tuple[torch.Tensor, torch.Tensor, SolverInfo]:
    """Run the solver ``name`` (ialm | apg | pfb) on D (m, n) with its keyword options."""
    if name not in SOLVERS:
        raise BgsubError(f"unknown RPCA solver {name!r} (valid: {', '.join(SOLVERS)})")
    return SOLVERS[name](D, **options)


__all__ = ["SOLVERS", "SolverInfo", "apg", "default_lam", "ialm", "pfb", "solve"]
