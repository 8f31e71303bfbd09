"""First passes over a source before the pass that writes the masks (:func:`bgsub.pipelines.run.decompose_video`):
``threshold.scope=video``'s histogram of |S| over the whole video (:func:`video_threshold`), and the background
model stepped alone over the whole video so that the segmenting pass starts each pixel the window did not show
from its stillest frames (``segment.prescan``: :func:`prescan`; ``auto`` asks :func:`prescan_due` after the
window). Each opens the source again and reads it exactly as the segmenting pass does (:func:`first_pass`): a
file or a folder, never a camera or a stream."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from bgsub.config import Config
from bgsub.io.frames import Chunk
from bgsub.io.stream import FrameStream
from bgsub.methods.base import Method
from bgsub.pipelines.reading import begin_on_window, open_stream, readers, reduce_reads, tiled, top_up_allowed
from bgsub.progress import progress as progress_bar
from bgsub.threshold import HistogramOtsu, magnitude

log = logging.getLogger("bgsub")


def prescan_due(method: Method, stream: FrameStream, source) -> Optional[bool]:
    """``segment.prescan=auto`` after ``begin``: True when the method asks for a first pass
    (:meth:`UNetMethod.prescan_due`: more than a tenth of the pixels never still in its window, no first pass's
    findings taken) and the source can give one: a folder or a regular file, longer than the window. None when the
    method asks for one but the source is read once (a camera, a stream, a pipe or a device); False when it does
    not ask, or when the video is no longer than its window (it has nothing further on)."""
    due = getattr(method, "prescan_due", None)
    if due is None or not due():
        return False
    if stream.total is not None and stream.total <= method.begin_frames():
        return False
    if stream.live:
        return None
    path = Path(source)
    return True if path.is_dir() or path.is_file() else None


def first_pass(method: Method, source, *, cfg: Config, window: int, max_frames: Optional[int],
               total: Optional[int], progress: bool, plan: tuple[int, Optional[tuple[int, int]]],
               readers_of: Optional[Method] = None,
               stop: Optional[threading.Event] = None,
               begin: Optional[Callable[[Any], None]] = None) -> Iterator[tuple[Chunk, int]]:
    """A first pass over ``source`` before the segmentation: ``(chunk, new)`` windows as :func:`tiled` gives them,
    the source opened again and read exactly as the second pass reads it (``plan``), ``method.begin`` (or
    ``begin``) called on its first frames, progress shown as pass 1/2. ``readers_of``: the method whose work beside
    the reading sets the decoding threads (:func:`readers`; None: all of them). ``stop``: set (Ctrl-C), the pass
    ends at the next frame, and the second one, seeing it set, writes the masks of the frames it has read."""
    with open_stream(source, cfg, max_frames, stop, readers_of) as stream, \
            progress_bar(total=total, desc=f"{method.name} pass 1/2", unit="frame", disable=not progress,
                         leave=False) as bar:
        stream.size  # the first frame, then the rest reduced as the second pass reads them
        reduce_reads(stream, plan, cfg)
        images = begin_on_window(method, stream, cfg, size=plan[1], begin=begin)[0]
        for chunk, new in tiled(images, window=window, cfg=cfg,
                                top_up=top_up_allowed(method), size=plan[1], workers=readers(readers_of),
                                arrays=method.arrays):
            yield chunk, new
            bar.update(new)


def video_threshold(method: Method, source, *, cfg: Config, window: int, max_frames: Optional[int],
                    total: Optional[int], progress: bool,
                    plan: tuple[int, Optional[tuple[int, int]]] = (1, None)) -> tuple[float, float]:
    """The first pass of ``threshold.scope = "video"``: one Otsu threshold from a histogram of |S| over the whole
    video (its own pass over the source). Returns ``(threshold, seconds in the method)``."""
    hist = HistogramOtsu()
    method.reset()
    method_seconds = 0.0
    for chunk, new in first_pass(method, source, cfg=cfg, window=window, max_frames=max_frames, total=total,
                                 progress=progress, plan=plan):
        t0 = time.perf_counter()
        dec = method.decompose(chunk.frames)
        method_seconds += time.perf_counter() - t0
        hist.update(magnitude(dec.foreground[-new:]))
    threshold = hist.threshold()
    log.info("video-wide Otsu threshold on |S|: %.5g", threshold)
    return threshold, method_seconds


def prescan(method: Method, source, *, cfg: Config, window: int, max_frames: Optional[int], total: Optional[int],
            progress: bool, plan: tuple[int, Optional[tuple[int, int]]] = (1, None),
            stop: Optional[threading.Event] = None, begin: Optional[Callable[[Any], None]] = None) -> float:
    """The first pass of ``segment.prescan``: the method's background model started on the video's window and
    stepped over every frame (no network), read exactly as the second pass reads them (so that its window is the
    same), and what it found kept for the second pass (:meth:`UNetMethod.keep_lookahead`). ``begin``: what starts
    the model on that window (None: ``method.begin``; ``segment`` passes ``method.begin`` with ``started``, a copy
    of the start it already made: :meth:`UNetMethod.started`). Returns its seconds."""
    method.reset()
    method.forget_lookahead()
    t0 = time.perf_counter()
    for chunk, _ in first_pass(method, source, cfg=cfg, window=window, max_frames=max_frames, total=total,
                               progress=progress, plan=plan, readers_of=method, stop=stop, begin=begin):
        method.look_ahead(chunk.frames)
    method.keep_lookahead()
    return time.perf_counter() - t0
