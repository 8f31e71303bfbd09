"""What the RPCA solvers share: the result record, input checks, the stopping rule and its warning.

Every solver is a pure function ``D (m, n) -> (L, S, info)``: no files, no windows, no global state (it does not
change torch's thread count either). ``info`` is a :class:`SolverInfo`.

The stopping rule is the same everywhere: stop as soon as the solver's *relative residual* falls below ``tol``,
or after ``max_iter`` iterations, in which case a warning is logged on the ``bgsub`` logger. What the residual
measures depends on the problem the solver solves (see each solver): for ``ialm`` (principal component pursuit,
D = L + S exactly) it is the constraint violation ``||D - L - S||_F / ||D||_F``; for ``pfb`` and ``apg``
(Eq. 1 of the paper, a Frobenius data term, so L + S != D at the optimum) it is the relative change of the
iterate ``||X_k+1 - X_k||_F / ||X_k+1||_F`` with ``X = [L; S]``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import torch

from bgsub.errors import BgsubError

log = logging.getLogger("bgsub")


@dataclass
class SolverInfo:
    """What a solver reports beside (L, S).

    iterations: iterations run; seconds: wall time of the solve; residual: the final relative residual (see
    ``residual_kind``); converged: residual < tol before max_iter; residuals, objective: one value per iteration
    (the objective is the solver's own: ``||L||_* + lam ||S||_1`` for ialm, Eq. 1 for pfb/apg); rank: rank of
    the returned L (singular values kept by the last thresholding); lam: the lambda_1 used.
    """

    solver: str
    iterations: int = 0
    seconds: float = 0.0
    residual: float = math.inf
    converged: bool = False
    tol: float = 0.0
    max_iter: int = 0
    lam: float = 0.0
    rank: int = 0
    residual_kind: str = ""
    residuals: list[float] = field(default_factory=list)
    objective: list[float] = field(default_factory=list)

    def to_dict(self, *, traces: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not traces:
            d.pop("residuals")
            d.pop("objective")
        return d


def default_lam(m: int, n: int) -> float:
    """lambda = 1 / sqrt(max(m, n)) (Candes, Li, Ma, Wright 2011)."""
    return 1.0 / math.sqrt(max(m, n))


def check_matrix(D: torch.Tensor, *, name: str = "D") -> torch.Tensor:
    """D must be a finite 2-D floating tensor with both sides >= 1; returned contiguous."""
    if not isinstance(D, torch.Tensor):
        raise BgsubError(f"{name} must be a torch tensor, got {type(D).__name__}")
    if D.ndim != 2:
        raise BgsubError(f"{name} must be a matrix (m, n), got shape {tuple(D.shape)}")
    if D.numel() == 0:
        raise BgsubError(f"{name} is empty: shape {tuple(D.shape)}")
    if not D.is_floating_point():
        raise BgsubError(f"{name} must be floating point, got {D.dtype}")
    if not bool(torch.isfinite(D).all()):
        raise BgsubError(f"{name} contains NaN or infinite values")
    return D.contiguous()


def check_options(tol: float, max_iter: int) -> None:
    if not tol > 0:
        raise BgsubError(f"tol must be > 0, got {tol}")
    if max_iter < 1:
        raise BgsubError(f"max_iter must be >= 1, got {max_iter}")


def sync(D: torch.Tensor) -> None:
    """Wait for queued CUDA work (so that timings are honest)."""
    if D.is_cuda:
        torch.cuda.synchronize(D.device)


class Clock:
    def __init__(self, D: torch.Tensor):
        self.D = D
        sync(D)
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        sync(self.D)
        return time.perf_counter() - self.t0


def finish(info: SolverInfo, clock: Clock) -> SolverInfo:
    """Fill in the time and the converged flag; warn when max_iter was hit before tol."""
    info.seconds = clock.seconds()
    info.converged = info.residual < info.tol
    if not info.converged:
        log.warning(
            "%s: stopped at max_iter=%d before reaching tol=%.3g (relative residual %.3g); "
            "raise --max-iter or loosen --tol", info.solver, info.max_iter, info.tol, info.residual,
        )
    return info


def zero_matrix_result(D: torch.Tensor, info: SolverInfo) -> tuple[torch.Tensor, torch.Tensor, SolverInfo]:
    """D = 0: L = S = 0 is the exact answer of every solver (no iteration)."""
    info.residual = 0.0
    info.converged = True
    return torch.zeros_like(D), torch.zeros_like(D), info


def resolve_dtype(dtype: Optional[str | torch.dtype], D: torch.Tensor) -> torch.dtype:
    if dtype is None:
        return D.dtype if D.dtype in (torch.float32, torch.float64) else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise BgsubError(f"dtype must be float32 or float64, got {dtype!r}")
    return table[dtype]
