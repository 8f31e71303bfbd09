"""Running any registered method over a whole video, window by window, and writing masks.

This is the one code path that ``bgsub rpca``, ``bgsub segment`` and ``bgsub benchmark`` share.

The source is read once, front to back (:class:`bgsub.io.stream.FrameStream`: a video file, a frame folder, a
camera or a stream): its frame size and numbers come from the frames as they arrive, and each window's masks are
written as soon as it is decomposed, so the first mask is on disk long before the last frame is read.

Frames are read at the working size (``input.scale`` within ``input.max_pixels``), or, when only masks are written
and the method works on them at a smaller size (:meth:`Method.frame_size`: the U-Net's sample model, its
texture size), at that size (:func:`read_plan`: a folder's JPEG files decoded reduced by the largest power of two
that keeps them at least twice that size, then area-resized; anything else area-resized after decoding in
full); the masks are written at the native size all the same.

A method that sets up state belonging to the video (``begin_frames() > 0``: the U-Net's background reference)
first gets the video's first ``begin_frames()`` frames in ``begin``; those frames are then decomposed with the
rest. Memory is bounded by that buffer (kept as decoded 8-bit images) and a few windows, not by the video length.

Windows are *tiled*: consecutive, non-overlapping runs of ``window`` frames, each decomposed on its own. A short
last window (fewer than ``window`` frames) is topped up with the tail of the previous window, so every window a
method sees has the full length where the video allows it; only the new frames' outputs are written. Stateful
methods (``streams = True``: MOG2, KNN) and methods that began on the video get plain consecutive chunks instead,
so each frame is fed exactly once and in order (windows may still be decomposed side by side, see
:func:`window_workers`; results are taken in order).

Thresholding (see :mod:`bgsub.threshold`): ``scope="frame"`` (default) one Otsu threshold per frame;
``"clip"`` one per window; ``"video"`` one for the whole video, from a histogram of |S| gathered in a first pass
(the method then runs twice, so it must be deterministic; methods that decide masks themselves ignore it).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Collection, Iterator, Optional

import numpy as np

from bgsub.arrays import numpy_of
from bgsub.config import Config, save_config
from bgsub.errors import BgsubError
from bgsub.io.atomic import ensure_dir
from bgsub.io.frames import Chunk, working_size
from bgsub.io.masks import mask_name, write_image, write_mask
from bgsub.io.prefetch import BackgroundWriter, pipeline_threads, prefetch
from bgsub.io.stream import Image
from bgsub.methods.base import Decomposition, Method
from bgsub.netinput import upsample
from bgsub.pipelines.passes import prescan, prescan_due, video_threshold
from bgsub.pipelines.reading import (begin_on_window, open_stream, read_plan, readers, reduce_reads, threads_beside,
                                     tiled, top_up_allowed)
from bgsub.progress import progress as progress_bar
from bgsub.runtime import compute_threads
from bgsub.threshold import check_median, clean, magnitude, masks_from_foreground

log = logging.getLogger("bgsub")

SCOPES = ("frame", "clip", "video")


def iter_windows(
    source: str | Path, *, window: int, cfg: Config, top_up: bool = True
) -> Iterator[tuple[Chunk, int]]:
    """Yield ``(chunk, new)``: a window of frames and how many of its *last* frames are new (to be written).
    ``top_up=False`` yields plain consecutive chunks (for stateful methods that must see each frame once).
    One pass over ``source`` (see :func:`tiled`)."""
    with open_stream(source, cfg, None, None) as stream:
        yield from tiled(stream.images(), window=window, cfg=cfg, top_up=top_up)


def window_workers(method: Method, cfg: Config) -> int:
    """How many windows to decompose at once: ``segment.workers``, or when it is 0 (auto) the torch thread count
    for methods that allow it (:attr:`Method.window_threads`) on the CPU, less one for a method that steps its
    background model in the reading thread (:attr:`prepares`: that thread is the pipeline's critical path and
    keeps a core busy), at least 1; else 1. Each worker runs with one torch thread: on a small CPU, whole windows
    side by side keep the cores busier than one window's operations split across threads, which wait for each
    other at every operation while frames are read and masks written. (2 cores, cdnet-highway, whole process,
    medians of 4 alternating runs: two workers beside the stepping thread 14.00 s, one 12.37 s.)"""
    n = cfg.segment.workers
    if n < 0:
        raise BgsubError(f"segment.workers must be >= 0, got {n}")
    if not method.window_threads or (method.streams and not getattr(method, "prepares", False)):
        return 1
    if n > 0:
        return n
    if not method.arrays:  # (the NumPy path runs on the CPU)
        from bgsub.devices import resolve_device

        if resolve_device(cfg.segment.device).type != "cpu":
            return 1
    return threads_beside(method)


class _Decomposer:
    """``method.decompose`` over a stream of windows, ``workers`` at a time, results in order."""

    def __init__(self, method: Method, workers: int):
        self.method, self.workers, self.pool = method, workers, None

    def __enter__(self) -> "_Decomposer":
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            from bgsub.runtime import one_thread

            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="bgsub-window", initializer=one_thread)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, frames) -> tuple[Decomposition, float]:
        t0 = time.perf_counter()
        dec = self.method.decompose(frames)
        return dec, time.perf_counter() - t0

    def map(self, windows) -> Iterator[tuple[tuple[Chunk, int], Decomposition, float]]:
        """Yield ``(item, decomposition, seconds)`` for each ``item = (chunk, new)`` of ``windows``, in order.
        ``seconds``: the window's own decompose time (with several workers their sum exceeds the wall time)."""
        if self.pool is None:
            for item in windows:
                yield (item, *self._run(_payload(item)))
            return
        from collections import deque

        pending: deque = deque()
        for item in windows:
            pending.append((item, self.pool.submit(self._run, _payload(item))))
            if len(pending) >= self.workers:
                done, fut = pending.popleft()
                yield (done, *fut.result())
        while pending:
            done, fut = pending.popleft()
            yield (done, *fut.result())


def _payload(item):
    """What decompose gets for a window item: its prepared form (see :func:`_prepared`) or its frames."""
    return item[2] if len(item) > 2 else item[0].frames


def _prepared(method: Method, windows, moves: Optional[dict[int, tuple[int, int]]] = None):
    """``(chunk, new, method.prepare(chunk.frames))`` for each window, in order (run in the reading thread).
    ``moves``: the stream's moves of the background model's grid by frame number (:attr:`FrameStream.moves`,
    a camera followed: :mod:`bgsub.background.follow`), taken out and handed to ``prepare`` with the window's
    frames they come with."""
    for chunk, new in windows:
        at = [(i, moves.pop(n)) for i, n in enumerate(chunk.numbers) if n in moves] if moves else []
        yield chunk, new, (method.prepare(chunk.frames, moves=at) if at else method.prepare(chunk.frames))


def _masks(dec: Decomposition, scope: str, median: int, threshold: Optional[float], fill: bool = False):
    if isinstance(dec.masks, np.ndarray):
        masks = dec.masks.astype(bool, copy=False)
    elif dec.masks is not None:
        masks = dec.masks.bool().cpu()
    else:
        masks = masks_from_foreground(dec.foreground, scope="clip" if scope == "clip" else "frame",
                                      threshold=threshold)
    return clean(masks, median, fill)


def _write_window(out: Path, numbers: list[int], masks, native: tuple[int, int], fg, bg,
                  fg_numbers: Optional[set[int]] = None, shifts: Optional[dict[int, tuple[int, int]]] = None,
                  work: Optional[tuple[int, int]] = None, lost: Optional[set[int]] = None) -> None:
    """Each frame's files; ``shifts``: the stream's registration shifts (camera jitter), taken out as the masks
    are moved back to their frames' pixels (|S| and L stay on the registered grid: the background's own).
    ``work`` (H, W): the size |S| and L are written at (the working size), resized to it where the frames were
    read smaller (:func:`bgsub.pipelines.reading.read_plan`). ``lost``: the frames read after a pan the
    registration lost (:attr:`bgsub.io.stabilize.Stabilizer.lost`), taken out: the model has seen none of their
    view, so their masks are written empty (the comparison with another view's background is no evidence)."""
    for i, n in enumerate(numbers):
        if lost and n in lost:
            lost.discard(n)
            write_mask(out, n, np.zeros(masks[i].shape[-2:], bool), size=native)
        else:
            write_mask(out, n, masks[i], size=native, shift=shifts.pop(n, None) if shifts else None)
        if fg is not None and (fg_numbers is None or n in fg_numbers):
            write_image(out / mask_name(n, "fg"), _sized(fg[i], work))
        if bg is not None:
            write_image(out / mask_name(n, "bg"), _sized(bg[i], work))


def _sized(image, size: Optional[tuple[int, int]]):
    """``image`` (C, h, w) or (h, w), NumPy or a tensor, resized to ``size`` (H, W) bilinearly
    (:func:`bgsub.netinput.upsample`) as a float32 NumPy array, or as it is when it has that size already or
    ``size`` is None."""
    if size is None or tuple(image.shape[-2:]) == tuple(size):
        return image
    a = numpy_of(image)
    planes = a.reshape((1, -1) + a.shape[-2:]).astype(np.float32, copy=False)
    return upsample(planes, tuple(size))[0].reshape(a.shape[:-2] + tuple(size))


def decompose_video(
    method: Method,
    source: str | Path | int,
    out: str | Path,
    *,
    cfg: Config,
    window: int,
    save_foreground: bool | Collection[int] = False,
    save_background: bool = False,
    progress: bool = True,
    max_frames: Optional[int] = None,
    stop: Optional[threading.Event] = None,
) -> dict[str, Any]:
    """Run ``method.decompose`` over ``source`` in windows of ``window`` frames and write, for each frame number
    k, ``out/bin%06d.png`` (masks at the input's native size), and on request ``fg%06d.png`` (|S|, scaled by
    its window's maximum; ``save_foreground`` True for every frame, or the frame numbers that want one) and
    ``bg%06d.png`` (L). Writes ``out/config.yaml``. Returns a summary (frames, seconds spent in the method, total
    seconds, frames per second, ``begin_seconds``: the seconds ``method.begin`` took, ``interrupted``).

    ``source`` is read once, front to back (:class:`bgsub.io.stream.FrameStream`): a video file, a frame folder,
    a camera index or a stream URL. The first ``method.begin_frames()`` frames are read first and handed to
    ``method.begin``; then they and the frames after them are decomposed in windows, in order, and each window's
    files are written as soon as it is done. ``max_frames``: stop after that many frames; ``stop``: an event that
    ends the reading at the next frame when set (the frames read so far are still decomposed and written; the
    summary says ``interrupted``). ``threshold.scope = "video"`` reads the source twice (not for a camera or a
    stream).
    """
    if window < 1:
        raise BgsubError(f"window must be >= 1, got {window}")
    scope = cfg.threshold.scope
    if scope not in SCOPES:
        raise BgsubError(f"threshold scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    check_median(cfg.threshold.median, "threshold.median")  # (before anything is read)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BgsubError(f"{out}: exists and is not a folder")
    two_pass = scope == "video" and not getattr(method, "decides_masks", False)
    forced = bool(getattr(method, "prescans", False))  # segment.prescan=true
    with open_stream(source, cfg, max_frames, stop, method) as stream:
        if two_pass and stream.live:
            raise BgsubError(f"{stream.name}: threshold.scope=video reads the input twice, and a camera or a stream "
                             "is read once: use scope frame or clip")
        if forced and stream.live:
            raise BgsubError(f"{stream.name}: segment.prescan reads the input twice, and a camera or a stream is "
                             "read once: leave segment.prescan off")
        stream.record_shifts = True  # this pass writes the masks: each moved back by its frame's shift
        native = stream.size  # the first frame, read now (a folder's first file, a camera's first frame)
        cfg = method.input_config(cfg, native)
        _check_window_memory(method, native, cfg, window)
        # read the same way whatever images are asked for: the masks must not depend on them (|S| and L are
        # brought to the working size as they are written)
        plan = read_plan(method, native, cfg)
        threshold: Optional[float] = None
        method_seconds = 0.0
        t_start = time.perf_counter()
        if two_pass:
            threshold, method_seconds = video_threshold(method, source, cfg=cfg, window=window, plan=plan,
                                                        max_frames=max_frames, total=stream.total, progress=progress)
        method.reset()
        reduce_reads(stream, plan, cfg)
        grid = (method.view_grid(plan[1] or working_size(native[0], native[1], cfg.input.scale))
                if stream.stabilizer is not None and cfg.input.follow else None)
        if grid is not None:  # the background model moves with the view (bgsub.background.follow)
            stream.stabilizer.follow(grid)
        # the first begin_frames(), then begin
        frames, begin_seconds, window_frames = begin_on_window(method, stream, cfg, size=plan[1])
        passes = 2 if two_pass else 1
        due = True if forced else prescan_due(method, stream, source)
        if due is None:
            log.info("background: %.0f%% of the pixels never stood still in the first %d frames, and %s is read "
                     "once: they start from those frames (a file or a folder would be read twice: "
                     "segment.prescan=auto)", 100 * method.unsettled_share(), method.begin_frames(), stream.name)
        if due:
            # segment.prescan (true, or auto where the window did not show the scene and the source can be read
            # again): a first pass finds each pixel's stillest frames over the whole video, then the model starts
            # again on the same window (the frames at hand) and takes them
            passes = 2
            if not forced:
                log.info("background: %.0f%% of the pixels never stood still in the first %d frames: a first pass "
                         "over %s finds them still further on (segment.prescan=auto; false: read once)",
                         100 * method.unsettled_share(), method.begin_frames(), stream.name)
            # both passes start from copies of the model begin made on these frames (not started twice more)
            started = method.started() if hasattr(method, "started") else None
            begin = method.begin if started is None else functools.partial(method.begin, started=started)
            method_seconds += prescan(method, source, cfg=cfg, window=window, plan=plan, max_frames=max_frames,
                                      total=stream.total, progress=progress, stop=stop, begin=begin)
            method.reset()
            t0 = time.perf_counter()
            begin(window_frames)
            begin_seconds += time.perf_counter() - t0
        del window_frames
        created = not out.exists()
        ensure_dir(out)
        save_config(cfg, out / "config.yaml")
        try:
            summary = _decompose(method, frames, out, cfg=cfg, window=window, total=stream.total, native=native,
                                 shifts=stream.shifts, lost=stream.lost, moves=stream.moves,
                                 size=plan[1], threshold=threshold, save_foreground=save_foreground,
                                 save_background=save_background, progress=progress)
        except BgsubError:
            # bad input found before any mask was written: leave no output folder holding only config.yaml
            if created and not any(e.name != "config.yaml" for e in os.scandir(out)):
                (out / "config.yaml").unlink(missing_ok=True)
                out.rmdir()
            raise
    seconds = time.perf_counter() - t_start
    summary["method_seconds"] += method_seconds
    summary["begin_seconds"] = begin_seconds
    summary["passes"] = passes  # 2: the source was read twice (threshold.scope=video, segment.prescan)
    if stream.stabilizer is not None:
        summary["stabilized"] = stream.stabilizer.moved  # frames moved back onto the first frame's grid
        summary["unregistered"] = stream.stabilizer.refused  # frames that moved past the limits: left as they are
        if stream.stabilizer.moved:
            log.info("camera motion: %d of %d frames registered to the first (input.stabilize)",
                     stream.stabilizer.moved, summary["frames"])
        if stream.stabilizer.refused:
            log.info("camera motion: %d frames seemed to move more than a quarter of the frame from the first in one "
                     "jump, or more than three quarters in a pan (or a view too changeable to register): left as "
                     "they are", stream.stabilizer.refused)
        summary["lost"] = stream.stabilizer.lost_frames  # frames after a pan it could not follow: masks empty
        summary["anchors"] = stream.stabilizer.anchors  # a lost pan stopped: the reference taken again there
        summary["follows"] = stream.stabilizer.follows  # frames at which the background model moved with the view
        if stream.stabilizer.follows:
            log.info("camera motion: the background model moved with the view at %d frames (input.follow)",
                     stream.stabilizer.follows)
        if stream.stabilizer.lost_frames:
            log.warning("camera motion: %d frames came after a pan that registration could not follow (past three "
                        "quarters of the first frame's view, or out of its reach): no background model has seen "
                        "their view, and their masks are written empty%s", stream.stabilizer.lost_frames,
                        f"; the pan stopped {stream.stabilizer.anchors} time(s) and the frame it stopped on became "
                        "the reference" if stream.stabilizer.anchors else "")
    summary["restarts"] = method.restarts()  # frames the background model started again at (a new view)
    summary.update(input=str(source), seconds=seconds, fps=summary["frames"] / seconds if seconds > 0 else float("inf"),
                   interrupted=stream.interrupted, live=stream.live)
    return summary


def _check_window_memory(method: Method, native: tuple[int, int], cfg: Config, window: int) -> None:
    from bgsub import memory

    ic = cfg.input
    size = working_size(native[0], native[1], ic.scale)
    workers = window_workers(method, cfg)
    need = memory.segment_bytes(window, workers, memory.working_channels(ic.grayscale), size, native, method.name)
    memory.check(need, f"{method.name} in windows of {window} over {memory.describe(native, size)}", size=size,
                 max_pixels=ic.max_pixels)


def _decompose(method: Method, images: Iterator[Image], out: Path, *, cfg: Config, window: int,
               total: Optional[int], native: tuple[int, int], threshold: Optional[float],
               shifts: Optional[dict[int, tuple[int, int]]] = None, lost: Optional[set[int]] = None,
               moves: Optional[dict[int, tuple[int, int]]] = None, size: Optional[tuple[int, int]] = None,
               save_foreground: bool | Collection[int], save_background: bool, progress: bool) -> dict[str, Any]:
    scope, median = cfg.threshold.scope, cfg.threshold.median
    method_seconds = 0.0
    frames = 0
    foreground = False
    workers = window_workers(method, cfg)
    # frames read smaller than the working size (read_plan): |S| and L written at the working size all the same
    work = working_size(native[0], native[1], cfg.input.scale) if size is not None else None
    # the next window is read and the last one's files are encoded and written in background threads while the
    # method runs (bounded: two windows ahead, two behind); with several workers, that many windows are
    # decomposed at once, one per thread, and their results taken in order
    windows = tiled(images, window=window, cfg=cfg, top_up=top_up_allowed(method), size=size, workers=readers(method),
                    arrays=method.arrays)
    if getattr(method, "prepares", False):  # in-order work (the background model) beside the reading
        windows = _prepared(method, windows, moves)
    windows = prefetch(windows, depth=2)
    # one worker beside a stepping thread computes with the threads beside it (the stepping thread keeps a core
    # busy: the network's own threads would contend with it; cdnet-highway, 2 threads, whole process: 10.11-10.35
    # s with the network on two threads, 9.88-10.08 s on one, 3 alternating runs each); several workers one thread
    # each (their initializer sets it); either way the counts are restored after (a benchmark's next method)
    if workers > 1:
        threads = 1
    else:
        threads = threads_beside(method) if getattr(method, "prepares", False) else None
    with pipeline_threads(), compute_threads(threads), \
            progress_bar(total=total, desc=method.name, unit="frame", disable=not progress) as bar, \
            closing(windows), BackgroundWriter(depth=2) as writer, _Decomposer(method, workers) as decomposer:
        for (chunk, new, *_), dec, seconds in decomposer.map(windows):
            method_seconds += seconds
            masks = _masks(dec, scope, median, threshold, cfg.threshold.fill)
            numbers = chunk.numbers[len(chunk.numbers) - new:]
            fg = bg = None
            fg_numbers = None if isinstance(save_foreground, bool) else set(save_foreground) & set(numbers)
            if save_foreground is True or fg_numbers:
                mags = magnitude(dec.foreground)[-new:]
                fg = mags / (float(mags.max()) or 1.0)
            if save_background:
                bg = dec.background[-new:]
                bg = np.clip(bg, 0, 1) if isinstance(bg, np.ndarray) else bg.clamp(0, 1)
            writer.submit(_write_window, out, numbers, masks[-new:], native, fg, bg, fg_numbers, shifts, work, lost)
            frames += new
            foreground = foreground or bool(masks[-new:].any())
            bar.update(new)
    if frames and not foreground:  # never silently empty: say it, so an empty result is a reading, not a mystery
        log.warning("%s: no foreground in any of the %d frames (a static scene, or a background model that holds "
                    "the moving objects: see the warnings above)", method.name, frames)
    return {
        "method": method.name,
        "out": str(out),
        "frames": frames,
        "any_foreground": bool(foreground),
        "window": window,
        "workers": workers,
        "threshold_scope": scope,
        "method_seconds": method_seconds,
    }


@contextmanager
def sigint_stops(stop: threading.Event) -> Iterator[None]:
    """Within the block, the first Ctrl-C (SIGINT) sets ``stop`` instead of raising :class:`KeyboardInterrupt`
    (a live run then ends cleanly: reading stops, the frames read are finished and written); a second Ctrl-C
    raises as usual. Outside the main thread (where no signal handler can be set) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.warning("interrupted: finishing the frames read so far (Ctrl-C again to abort)")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
