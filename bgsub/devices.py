"""Choosing the torch device: one rule for every command (training, segmenting, RPCA); and the torch thread count of
a block (:func:`torch_threads`). Importing this module does not import torch (:mod:`bgsub.arrays`)."""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bgsub.errors import BgsubError

GPU_NODES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")  # an NVIDIA driver; AMD's (ROCm)


def cuda_possible() -> bool:
    """Whether ``device=auto`` could mean a GPU here, answered without importing torch where it can be: torch's
    answer once torch is imported; else whether a GPU driver is loaded (:data:`GPU_NODES`) and the installed torch
    was built for a GPU (:func:`torch_gpu_build`). False means the CPU for certain; True means ask torch
    (:func:`resolve_device`)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    return any(os.path.exists(p) for p in GPU_NODES) and torch_gpu_build()


def torch_gpu_build(version_file: Path | None = None) -> bool:
    """Whether the installed torch was built for CUDA or ROCm, read from its ``torch/version.py`` (``cuda`` and
    ``hip`` are None in a CPU build) without importing torch; True where the file cannot be read or understood
    (then torch is asked)."""
    if version_file is None:
        import importlib.util

        try:
            spec = importlib.util.find_spec("torch")  # finds the package without importing it
        except (ImportError, ValueError):
            return True
        if spec is None or not spec.submodule_search_locations:
            return True
        version_file = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    try:
        text = version_file.read_text()
    except OSError:
        return True
    found = [re.search(rf"^{name}\s*(?::[^=\n]*)?=\s*(.+?)\s*$", text, re.M) for name in ("cuda", "hip")]
    if not all(found):
        return True
    return any(m.group(1) != "None" for m in found)


def resolve_device(name):
    """``"auto"`` (or None) -> CUDA when available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` as given.
    CUDA without a GPU, or any other name, is an error. A ``torch.device``."""
    import torch

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
    """Run the block with ``torch.set_num_threads(n)`` (n > 0), restoring the previous count afterwards. Where torch
    is not imported (a job of the zero-shot network through OpenCV, :mod:`bgsub.arrays`), OpenCV's count instead,
    and torch's if the block imports it (``OMP_NUM_THREADS``, which torch reads as it starts);
    :func:`bgsub.runtime.cpu_threads` says n within the block."""
    if n < 0:
        raise BgsubError(f"threads must be >= 0, got {n}")
    torch = sys.modules.get("torch")
    if torch is None:
        with _threads_without_torch(n):
            yield
        return
    old = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n > 0:
            torch.set_num_threads(old)


@contextmanager
def _threads_without_torch(n: int) -> Iterator[None]:
    if n <= 0:
        yield
        return
    from bgsub import runtime

    old_env = os.environ.get("OMP_NUM_THREADS")
    old = runtime.record_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        with runtime.compute_threads(n):  # OpenCV's count, restored after
            yield
    finally:
        runtime.record_threads(old)
        if old_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old_env
