"""How a video is opened and read for a method: the reading threads, the size the frames are decoded and
converted at (:func:`read_plan`), the :class:`~bgsub.io.stream.FrameStream` itself, the first frames handed to
``method.begin`` (:func:`begin_on_window`) and the windows the rest are cut into (:func:`tiled`). Shared by the
windowed decomposition (:mod:`bgsub.pipelines.run`), its first passes (:mod:`bgsub.pipelines.passes`) and the
fitting pass (:mod:`bgsub.pipelines.fit`), so that training reads a video exactly as ``segment`` does."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from bgsub.arrays import concat, float32_of, like
from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.io.frames import Chunk, reduction_factor, working_size
from bgsub.io.stream import FrameStream, Image, chunks_of, stack
from bgsub.methods.base import Method

__all__ = ["MAX_READERS", "threads_beside", "readers", "read_plan", "reduce_reads", "open_stream", "begin_on_window",
           "top_up_allowed", "tiled"]

log = logging.getLogger("bgsub")


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


def read_plan(method: Method, native: tuple[int, int], cfg: Config) -> tuple[int, Optional[tuple[int, int]]]:
    """How the frames of a video of ``native`` size (H, W) are read for ``method`` (``cfg`` resolved for that size,
    :meth:`Method.input_config`): ``(k, size)``, a folder's JPEG files decoded reduced by ``k`` and every frame
    area-resized to ``size`` (H, W); ``(1, None)``: at the working size, as ``input.scale`` says (the frames as
    they always were).

    Where the method works on the frames at a size below the working size (:meth:`Method.frame_size`: the U-Net's
    sample model, its texture size), they are read at that size, from a decoding at least twice as large per side:
    ``k`` is the largest power of two (up to 8) that keeps ``ceil(H / k) x ceil(W / k)`` at least that. An area
    average over fewer source pixels per frame pixel is not one of the full frame (at 1080p, frames handed at 1.3
    times the texture size scored F 0.004 lower on highway; at 2.6 times, as the full frames). A video whose
    native size is less than twice that is read as before. The plan is the same whether or not |S| and L images
    are written (they are resized to the working size as they are written): until the twenty-second session
    writing them read the frames at the working size instead, and so changed the masks (the ``camouflage``
    scenario at 640 x 480: F 0.706 with the benchmark's contact-sheet images, 0.776 without)."""
    work = working_size(native[0], native[1], cfg.input.scale)
    need = tuple(method.frame_size(work))
    if need == work:
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


def begin_on_window(method: Method, stream: FrameStream, cfg: Config,
                    size: Optional[tuple[int, int]] = None,
                    begin: Optional[Callable[[Any], None]] = None) -> tuple[Iterator[Image], float, Any]:
    """Read the first ``method.begin_frames()`` frames of ``stream``, hand them to ``method.begin`` (or to
    ``begin``) and return the stream's frames from the first one (those frames again, converted already: they are
    not converted twice and their decoded images are not held, then the rest, unread yet), the seconds ``begin``
    took, and the frames ``begin`` was given (None when it was not called). ``size``: the frames' size (see
    :func:`read_plan`; None: the working size)."""
    images = stream.images()
    k = method.begin_frames()
    if k <= 0:
        return images, 0.0, None
    method.warm_up(stream.total)
    ic = cfg.input
    first = next(images, None)
    if first is None:
        raise BgsubError(f"{stream.name}: no frames selected")
    head: list = []
    frames = stack(itertools.chain([first], images), grayscale=ic.grayscale, scale=ic.scale,
                   workers=readers(), count=k, keep=head, size=size, arrays=method.arrays)
    method.window_cover = None
    if stream.moves and any(n in stream.moves for n, *_ in head):  # a camera followed within the window
        frames, method.window_cover = on_first_grid(frames, [n for n, *_ in head], stream.moves,
                                                    stream.stabilizer.grid)
    t0 = time.perf_counter()
    try:
        (begin or method.begin)(frames)
    except BgsubError as exc:
        raise BgsubError(f"{stream.name}: {exc}") from None
    seconds = time.perf_counter() - t0
    log.debug("%s: began on frames %d-%d in %.2f s", method.name, head[0][0], head[-1][0], seconds)
    return itertools.chain(head, images), seconds, frames


def on_first_grid(frames, numbers: list[int], moves: dict[int, tuple[int, int]], grid: tuple[int, int]):
    """The initialisation window's frames (T, C, H, W) as the background model starts on them: each brought back
    from the grid the model will have moved to by its frame (a camera followed, :mod:`bgsub.background.follow`:
    ``moves`` by frame number, in working pixels of a grid of ``grid`` (h, w)) to the first frame's view, where
    the model starts (a copy: the frames themselves are stepped on their own grids, the model moving with them).
    The rows and columns a frame does not show repeat its edge, as registration's do. Returns (those frames, which
    working pixels of ``grid`` each shows (T, h, w) bool): the model chooses each pixel's samples among the frames
    that show it (a pan within the window: its repeated edges were candidates; the camera clips gained 0.002 on
    average, `track` over 150 frames 0.007; twenty-ninth session)."""
    from bgsub.background.follow import entered, shifted

    x = float32_of(frames)
    out = x.copy()
    qy, qx = x.shape[-2] / grid[0], x.shape[-1] / grid[1]  # frame pixels a working pixel
    cover = np.ones((len(numbers),) + tuple(grid), bool)
    cy = cx = 0
    for t, n in enumerate(numbers):
        my, mx = moves.get(n, (0, 0))
        cy, cx = cy + my, cx + mx
        if cy or cx:
            out[t] = shifted(x[t], -int(round(cy * qy)), -int(round(cx * qx)))
            cover[t] = ~entered(tuple(grid), -cy, -cx)
    return like(out, frames), cover


def top_up_allowed(method: Method) -> bool:
    """Whether a short last window may be topped up with frames of the previous one: not for methods that carry
    state from window to window (``streams``) or that began on this video (``begin_frames() > 0``): those see each
    frame exactly once, in order."""
    return not method.streams and method.begin_frames() <= 0


def tiled(images: Iterable[Image], *, window: int, cfg: Config, top_up: bool = True,
          size: Optional[tuple[int, int]] = None, workers: Optional[int] = None,
          arrays: bool = False) -> Iterator[tuple[Chunk, int]]:
    """Yield ``(chunk, new)`` for decoded ``images`` in order (see :func:`bgsub.pipelines.run.iter_windows`):
    windows of ``window`` frames, a short last one topped up with the previous window's tail when ``top_up``.
    ``size``: the frames' size (see :func:`read_plan`; None: the working size). ``workers``: conversion threads
    (None: :func:`readers`). ``arrays``: the chunks' frames as NumPy arrays (for a method that takes them,
    :attr:`Method.arrays`), not tensors."""
    ic = cfg.input
    prev: Optional[Chunk] = None
    for chunk in chunks_of(images, chunk=window, grayscale=ic.grayscale, scale=ic.scale,
                           workers=readers() if workers is None else workers, size=size, arrays=arrays):
        t = len(chunk.numbers)
        if top_up and t < window and prev is not None:
            k = window - t
            yield Chunk(prev.numbers[-k:] + chunk.numbers, concat([prev.frames[-k:], chunk.frames])), t
        else:
            yield chunk, t
        prev = chunk
