"""Choosing the torch device: one rule for every command (training, segmenting, RPCA); and the torch thread count of
a block (:func:`torch_threads`)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch

from bgsub.errors import BgsubError


def resolve_device(name: Optional[str | torch.device]) -> torch.device:
    """``"auto"`` (or None) -> CUDA when available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` as given.
    CUDA without a GPU, or any other name, is an error."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise BgsubError(f"device must be auto, cpu or cuda, got {name!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise BgsubError(f"device must be auto, cpu or cuda, got {name!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BgsubError(f"device {str(name)!r} requested but CUDA is not available (use --device cpu)")
    return dev


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (n > 0), restoring the previous count afterwards."""
    if n < 0:
        raise BgsubError(f"threads must be >= 0, got {n}")
    old = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n > 0:
            torch.set_num_threads(old)
