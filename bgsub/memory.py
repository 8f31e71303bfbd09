"""Will a run fit in memory? An estimate of a command's peak resident memory, checked before any work starts.

The estimate follows what a run holds, not the camera: frames are float32 (C, H, W) at the *working* size
(``input.scale`` and the pixel budget ``input.max_pixels``, :func:`bgsub.io.frames.working_size`), so

- fitting (``bgsub train``, a method's ``fit``): the fit clip (``background.init`` + ``train.pool`` frames for the
  default U-Net) and what the background estimate and training make of it: ``FIT_COPIES`` clips;
- segmenting (``segment``, ``rpca``, ``batch``, ``benchmark``): the windows in flight (two read ahead, one per
  worker being decomposed) plus what a method's decomposition holds per window (``WINDOW_COPIES``: MOG2 returns
  float background and foreground beside the masks; the U-Net only its logits), plus native-size 8-bit masks
  waiting to be written;
- plus ``BASE_BYTES``, the interpreter with torch, OpenCV and a model loaded.

The coefficients were calibrated against measured peak RSS (``scripts/bench_frame_size.py``, ``ru_maxrss`` of each
command; the README's "Frame size" section): on highway at 240p and upscaled to 1080p, the estimates of train,
segment, median and mog2 are 15-30% above the measured peaks. The check compares the estimate with the
memory available now (``MemAvailable`` of ``/proc/meminfo``, or what is left under the cgroup's limit when that is
lower): above it, a one-line :class:`~bgsub.errors.BgsubError` naming the bytes needed and the lever
(``--set input.max_pixels=...``) before anything is read or written; above ``WARN_FRACTION`` of it, a warning.
Where neither can be read (not Linux), nothing is checked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from bgsub.errors import BgsubError

log = logging.getLogger("bgsub")

GIB = 1024 ** 3
BASE_BYTES = int(0.5 * GIB)  # python + torch + OpenCV + a model (the fits below give 0.35-0.45 GB)
FIT_COPIES = 2.5  # the fit clip, the background estimate's copies of the init window, training's inputs (fit: 2.2)
WINDOW_COPIES = {"unet": 1.0}  # per method: windows' worth of arrays its decompose returns; others: DEFAULT_COPIES
DEFAULT_COPIES = 4.0  # clip, float background and foreground, masks (MOG2 measured: about 3.5)
WARN_FRACTION = 0.7


def available_bytes() -> Optional[int]:
    """Memory this process may still take: ``MemAvailable`` (Linux), lowered to what the cgroup (v2) allows when
    that is less; None when it cannot be read."""
    avail: Optional[int] = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        return None
    try:
        cg = Path("/sys/fs/cgroup")
        limit = (cg / "memory.max").read_text().strip()
        if limit != "max":
            left = int(limit) - int((cg / "memory.current").read_text().strip())
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def frame_bytes(channels: int, size: tuple[int, int]) -> int:
    """Bytes of one float32 frame (C, H, W)."""
    return 4 * channels * size[0] * size[1]


def fit_bytes(frames: int, channels: int, size: tuple[int, int], native: tuple[int, int]) -> int:
    """Estimated peak of fitting on ``frames`` frames of working ``size`` (H, W) read from ``native`` frames."""
    return int(BASE_BYTES + FIT_COPIES * frames * frame_bytes(channels, size) + 4 * 3 * native[0] * native[1])


def segment_bytes(window: int, workers: int, channels: int, size: tuple[int, int], native: tuple[int, int],
                  method: str = "") -> int:
    """Estimated peak of running ``method`` over a video in windows of ``window`` frames, ``workers`` at once."""
    copies = WINDOW_COPIES.get(method, DEFAULT_COPIES)
    windows = copies + max(1, workers) + 2  # its outputs, the windows being decomposed, two read ahead
    return int(BASE_BYTES + windows * window * frame_bytes(channels, size) + 4 * window * native[0] * native[1])


def _fmt(n: float) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 1024 ** 2:.0f} MiB"


def suggest_max_pixels(need: int, avail: int, size: tuple[int, int]) -> int:
    """A pixel budget under which the pixel-dependent part of ``need`` fits in ``WARN_FRACTION`` of ``avail``
    (rounded down to a thousand; at least 10000)."""
    pixels = size[0] * size[1]
    room = WARN_FRACTION * avail - BASE_BYTES
    per_pixel = max(1.0, (need - BASE_BYTES) / max(1, pixels))
    return max(10000, int(room / per_pixel) // 1000 * 1000) if room > 0 else 10000


def check(need: int, what: str, *, size: tuple[int, int], max_pixels: int,
          avail: Optional[int] = None) -> None:
    """Refuse (:class:`BgsubError`, one line) a run whose estimated peak ``need`` exceeds the available memory;
    warn above ``WARN_FRACTION`` of it. ``what``: the run in a few words (``"train on 1920x1080 frames"``);
    ``size``: the working size; ``max_pixels``: the budget in force (named in the message)."""
    if avail is None:
        avail = available_bytes()
    if avail is None or avail <= 0:
        return
    if need <= WARN_FRACTION * avail:
        return
    lever = (f"--set input.max_pixels={suggest_max_pixels(need, avail, size)} "
             f"(now {max_pixels or 'no limit'}, working size {size[1]}x{size[0]})")
    if need > avail:
        raise BgsubError(f"{what} needs about {_fmt(need)} ({need} bytes) of memory but {_fmt(avail)} is available; "
                         f"lower the working size with {lever}")
    log.warning("%s needs about %s of memory, %.0f%% of the %s available; %s lowers it", what, _fmt(need),
                100 * need / avail, _fmt(avail), lever)


def describe(native: tuple[int, int], size: tuple[int, int]) -> str:
    """``"1920x1080 frames (working size 666x375)"``, or ``"320x240 frames"`` when they are read native."""
    text = f"{native[1]}x{native[0]} frames"
    return text if tuple(size) == tuple(native) else f"{text} (working size {size[1]}x{size[0]})"


def working_channels(grayscale: Optional[bool]) -> int:
    """Channels of the frames read (unset grayscale: colour, the default methods' choice; an overestimate else)."""
    return 1 if grayscale else 3


__all__ = ["available_bytes", "fit_bytes", "segment_bytes", "check", "suggest_max_pixels", "describe",
           "working_channels"]
