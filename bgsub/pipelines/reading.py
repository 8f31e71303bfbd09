"""How a video is opened and read for a method: the reading threads, the size the frames are decoded and converted
at (:func:`read_plan`), and the :class:`~bgsub.io.stream.FrameStream` itself. Shared by the windowed decomposition
(:mod:`bgsub.pipelines.run`) and the fitting pass (:mod:`bgsub.pipelines.fit`), so that training reads a video
exactly as ``segment`` does."""

from __future__ import annotations

import threading
from typing import Optional

from bgsub.config import Config
from bgsub.io.frames import reduction_factor, working_size
from bgsub.io.stream import FrameStream
from bgsub.methods.base import Method

__all__ = ["MAX_READERS", "threads_beside", "readers", "read_plan", "reduce_reads", "open_stream"]


def threads_beside(method: Optional[Method]) -> int:
    """The thread count (:func:`bgsub.runtime.cpu_threads`: torch's, or ``--threads``), less one for a method that
    steps its background model in the reading thread (:attr:`prepares`: that thread keeps a core busy), at least
    1: what the threads working beside that thread (window workers, readers) may take."""
    from bgsub.runtime import cpu_threads

    n = cpu_threads()
    return max(1, n - 1) if method is not None and getattr(method, "prepares", False) else n


MAX_READERS = 4  # decoding and converting threads at most: beyond them the in-order background model step limits
#                 the rate, and each decoder keeps two native frames ahead (eight 4K frames: 200 MB)


def readers(method: Optional[Method] = None) -> int:
    """Threads that decode a folder's files and convert frames to the working size side by side: the torch thread
    count (the ``--threads`` count: one for a single-threaded run, all in the reading thread as before), less one
    while ``method`` steps its background model in the reading thread (:attr:`prepares`, as
    :func:`window_workers`: that thread keeps a core busy), at least 1 and at most :data:`MAX_READERS`. (2 cores,
    cdnet-highway, whole process, 11 pairs alternating with two readers, a slow phase of the machine: faster in 9,
    mean 12.62 -> 12.41 s, medians 12.51 / 12.50 s: a small step, with fewer threads contending for two cores.)"""
    return min(threads_beside(method), MAX_READERS)


def read_plan(method: Method, native: tuple[int, int], cfg: Config, *,
              full: bool = False) -> tuple[int, Optional[tuple[int, int]]]:
    """How the frames of a video of ``native`` size (H, W) are read for ``method`` (``cfg`` resolved for that size,
    :meth:`Method.input_config`): ``(k, size)``, a folder's JPEG files decoded reduced by ``k`` and every frame
    area-resized to ``size`` (H, W); ``(1, None)``: at the working size, as ``input.scale`` says (the frames as
    they always were).

    Where the method works on the frames at a size below the working size (:meth:`Method.frame_size`: the U-Net's
    sample model, its texture size), they are read at that size, from a decoding at least twice as large per side:
    ``k`` is the largest power of two (up to 8) that keeps ``ceil(H / k) x ceil(W / k)`` at least that. An area
    average over fewer source pixels per frame pixel is not one of the full frame (at 1080p, frames handed at 1.3
    times the texture size scored F 0.004 lower on highway; at 2.6 times, as the full frames). A video whose
    native size is less than twice that is read as before. ``full`` (foreground or background images are
    written, at the working size): ``(1, None)``."""
    work = working_size(native[0], native[1], cfg.input.scale)
    need = tuple(method.frame_size(work))
    if full or need == work:
        return 1, None
    twice = (2 * need[0], 2 * need[1])
    if native[0] < twice[0] or native[1] < twice[1]:
        return 1, None
    return reduction_factor(native, twice), need


def reduce_reads(stream: FrameStream, plan: tuple[int, Optional[tuple[int, int]]], cfg: Config) -> None:
    """Ask ``stream`` (its first frame read) to decode the rest reduced as ``plan`` (:func:`read_plan`) says."""
    if plan[0] > 1:
        stream.decode_reduced(plan[0], grayscale=bool(cfg.input.grayscale))


def open_stream(source, cfg: Config, max_frames: Optional[int], stop: Optional[threading.Event],
          method: Optional[Method] = None) -> FrameStream:
    """The source as a :class:`FrameStream`, a folder's files decoded by :func:`readers` threads."""
    ic = cfg.input
    return FrameStream.open(source, start=ic.start, end=ic.end, stride=ic.stride, limit=max_frames, stop=stop,
                            decoders=readers(method), stabilize=ic.stabilize)
