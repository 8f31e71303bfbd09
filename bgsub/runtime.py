"""Process-wide settings decided at run time from the machine, applied once by the command line (:func:`tune`).

**Transparent huge pages.** NumPy asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MB or more. Where the kernel's THP ``defrag`` policy is ``always``, ``madvise`` or ``defer+madvise`` (the usual
default is ``madvise``), a page fault in such a region compacts memory synchronously to find a free 2 MB block:
once the page cache is full of decoded video, a fresh 83 MB array (the initialisation window of a 320 x 240 clip,
90 frames, float32) took 0.37-0.52 s to fill the first time in the process instead of 0.034 s (the same
multiplication, measured inside ``bgsub segment``, 2026-12-06); the start of ``segment`` on cdnet-highway (reading
the window and the sample model's initialisation) ended 1.0-1.8 s sooner without it. bgsub's large arrays are
short-lived frames and windows that are streamed through once, where huge pages save little, so where the policy
stalls, NumPy's advice is switched off for this process (and, through ``NUMPY_MADVISE_HUGEPAGE=0``, for the
processes it starts). A user's own ``NUMPY_MADVISE_HUGEPAGE`` is left as it is.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

THP = Path("/sys/kernel/mm/transparent_hugepage")
STALLING_DEFRAG = ("always", "madvise", "defer+madvise")  # policies that compact in the page fault for madvised memory


def _selected(path: Path) -> Optional[str]:
    """The bracketed choice of a sysfs policy file (``always defer [madvise] never`` -> ``madvise``), or None."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def hugepage_advice_stalls(root: Path = THP) -> bool:
    """Whether NumPy's huge-page advice makes page faults compact memory synchronously on this machine: THP not
    ``never`` and a defrag policy in :data:`STALLING_DEFRAG`. False where the files cannot be read (not Linux)."""
    enabled, defrag = _selected(root / "enabled"), _selected(root / "defrag")
    return enabled not in (None, "never") and defrag in STALLING_DEFRAG


def _set_numpy_hugepage(on: bool) -> Optional[bool]:
    """NumPy's huge-page advice on or off; returns the previous setting (None where this NumPy has no switch)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core.multiarray import _set_madvise_hugepage  # type: ignore[no-redef]
        except ImportError:
            return None
    return bool(_set_madvise_hugepage(on))


def quiet_ffmpeg() -> None:
    """FFmpeg's own log lines off for this process (``OPENCV_FFMPEG_LOGLEVEL=-8``, AV_LOG_QUIET; OpenCV reads it
    when it opens a capture): a file OpenCV cannot decode made FFmpeg print ``[mov,mp4,...] moov atom not found``
    above bgsub's one-line error, which already names the file and the problem. A user's own setting is kept
    (``OPENCV_FFMPEG_LOGLEVEL=32`` shows FFmpeg's warnings again)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def tune(root: Path = THP) -> bool:
    """Apply the process-wide settings above. Returns True when NumPy's huge-page advice was switched off."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ or not hugepage_advice_stalls(root):
        return False
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    return _set_numpy_hugepage(False) is not None


# ---- CPU threads ------------------------------------------------------------------------------------------------

_threads: Optional[int] = None  # --threads, as set_threads() was given it (None: not given)


def set_threads(n: int) -> None:
    """The CPU thread count of this process (``--threads``): OpenCV's now, torch's now when it is imported, else
    when it is (``OMP_NUM_THREADS``, which torch reads as it starts): the zero-shot path never imports torch, and
    importing it only to set its threads would cost that path a second (see :mod:`bgsub.arrays`)."""
    global _threads
    import cv2

    _threads = n
    cv2.setNumThreads(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    else:
        os.environ["OMP_NUM_THREADS"] = str(n)


def record_threads(n: Optional[int]) -> Optional[int]:
    """Set the count :func:`cpu_threads` reports before torch is imported (None: none given); returns the previous
    one. (:func:`bgsub.devices.torch_threads` for a block of work without torch.)"""
    global _threads
    old, _threads = _threads, n
    return old


def cpu_threads() -> int:
    """The CPU threads this process may use: torch's count once torch is imported (what it computes with), else
    ``--threads``, else ``OMP_NUM_THREADS``, else the cores this process may run on (torch's own default)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.get_num_threads()
    if _threads is not None:
        return _threads
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
        if n > 0:
            return n
    except ValueError:
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def one_thread() -> None:
    """A worker thread's start (windows decomposed side by side): one thread for torch when it is imported (torch's
    count is the calling thread's), so that the workers do not oversubscribe the cores. OpenCV's count is the
    process's: :func:`compute_threads` sets it around the workers."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@contextmanager
def compute_threads(n: Optional[int]) -> Iterator[None]:
    """Within the block, OpenCV (and torch, when it is imported) compute with ``n`` threads; restored after.
    None: as they are."""
    if n is None:
        yield
        return
    import cv2

    torch = sys.modules.get("torch")
    old_cv, old_torch = cv2.getNumThreads(), torch.get_num_threads() if torch is not None else None
    cv2.setNumThreads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(old_cv)
        if torch is not None and old_torch is not None:
            torch.set_num_threads(old_torch)
