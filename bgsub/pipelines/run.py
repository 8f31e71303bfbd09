"""Running any registered method over a whole video, window by window, and writing masks.

This is the one code path that ``bgsub rpca``, ``bgsub segment`` and ``bgsub benchmark`` share.

Windows are *tiled*: consecutive, non-overlapping runs of ``window`` frames, each decomposed on its own. A short
last window (fewer than ``window`` frames) is topped up with the tail of the previous window, so every window a
method sees has the full length where the video allows it; only the new frames' outputs are written. Memory is
bounded by two windows, not by the video length. Stateful methods (``streams = True``: MOG2, KNN) get plain
consecutive chunks instead, so each frame is fed exactly once and in order.

Thresholding (see :mod:`bgsub.threshold`): ``scope="frame"`` (default) one Otsu threshold per frame;
``"clip"`` one per window; ``"video"`` one for the whole video, from a histogram of |S| gathered in a first pass
(the method then runs twice, so it must be deterministic; methods that decide masks themselves ignore it).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Collection, Iterator, Optional

import torch

from bgsub.config import Config, save_config
from bgsub.errors import BgsubError
from bgsub.io.atomic import ensure_dir
from bgsub.io.frames import Chunk, iter_chunks, list_frames, probe, read_clip, working_size
from bgsub.io.masks import mask_name, write_image, write_mask
from bgsub.io.prefetch import BackgroundWriter, prefetch
from bgsub.methods.base import Decomposition, Method, draw_numbers
from bgsub.progress import progress as progress_bar
from bgsub.threshold import HistogramOtsu, magnitude, masks_from_foreground, median_filter

log = logging.getLogger("bgsub")

SCOPES = ("frame", "clip", "video")


def iter_windows(
    source: str | Path, *, window: int, cfg: Config, top_up: bool = True
) -> Iterator[tuple[Chunk, int]]:
    """Yield ``(chunk, new)``: a window of frames and how many of its *last* frames are new (to be written).
    ``top_up=False`` yields plain consecutive chunks (for stateful methods that must see each frame once)."""
    ic = cfg.input
    prev: Optional[Chunk] = None
    for chunk in iter_chunks(source, chunk=window, start=ic.start, end=ic.end, stride=ic.stride,
                             grayscale=ic.grayscale, scale=ic.scale):
        t = len(chunk.numbers)
        if top_up and t < window and prev is not None:
            k = window - t
            merged = Chunk(prev.numbers[-k:] + chunk.numbers, torch.cat([prev.frames[-k:], chunk.frames]))
            yield merged, t
        else:
            yield chunk, t
        prev = chunk


def sample_numbers(source: str | Path, k: int, *, cfg: Config, seed: int) -> list[int]:
    """``k`` frame numbers drawn at random without replacement (seeded) from the selected frames, sorted."""
    numbers = list_frames(source, start=cfg.input.start, end=cfg.input.end, stride=cfg.input.stride)
    if not numbers:
        raise BgsubError(f"{source}: no frames selected")
    return draw_numbers(numbers, k, seed=seed)


def fit_on_video(method: Method, source: str | Path, *, cfg: Config, seed: int = 0) -> dict[str, Any]:
    """Call ``method.fit`` on the frames ``method.fit_numbers`` picks from ``source`` (no-op when
    ``method.fit_frames()`` is 0; by default that many frames sampled at random).
    Returns the frame numbers used and the seconds spent fitting."""
    if method.fit_frames() <= 0:
        return {"fit_frames": [], "fit_seconds": 0.0}
    info = probe(source)
    cfg = method.input_config(cfg, (info.height, info.width))
    method.cfg = method.input_config(method.cfg, (info.height, info.width))
    selected = list_frames(source, start=cfg.input.start, end=cfg.input.end, stride=cfg.input.stride)
    if not selected:
        raise BgsubError(f"{source}: no frames selected")
    numbers = method.fit_numbers(selected, seed=seed)
    ic = cfg.input
    check_fit_memory(f"{method.name}: fit", (info.height, info.width), ic, len(numbers))
    labelled = method.attach_labels(source) if hasattr(method, "attach_labels") else []
    clip = read_clip(source, numbers=numbers, grayscale=ic.grayscale, scale=ic.scale)
    t0 = time.perf_counter()
    method.fit(clip.frames)
    return {"fit_frames": numbers, "fit_seconds": time.perf_counter() - t0, "label_frames": labelled}


def check_fit_memory(what: str, native: tuple[int, int], ic, frames: int) -> None:
    """Refuse (or warn about) fitting on ``frames`` frames of ``native`` size read with the resolved input config
    ``ic`` when the estimate does not fit in the available memory (:mod:`bgsub.memory`)."""
    from bgsub import memory

    size = working_size(native[0], native[1], ic.scale)
    need = memory.fit_bytes(frames, memory.working_channels(ic.grayscale), size, native)
    memory.check(need, f"{what} on {frames} {memory.describe(native, size)}", size=size, max_pixels=ic.max_pixels)


def window_workers(method: Method, cfg: Config) -> int:
    """How many windows to decompose at once: ``segment.workers``, or when it is 0 (auto) the torch thread count
    for methods that allow it (:attr:`Method.window_threads`) on the CPU, else 1. Each worker runs with one torch
    thread: on a small CPU, whole windows side by side keep the cores busier than one window's operations split
    across threads, which wait for each other at every operation while frames are read and masks written."""
    n = cfg.segment.workers
    if n < 0:
        raise BgsubError(f"segment.workers must be >= 0, got {n}")
    if not method.window_threads or method.streams:
        return 1
    if n > 0:
        return n
    from bgsub.devices import resolve_device

    return torch.get_num_threads() if resolve_device(cfg.segment.device).type == "cpu" else 1


class _Decomposer:
    """``method.decompose`` over a stream of windows, ``workers`` at a time, results in order."""

    def __init__(self, method: Method, workers: int):
        self.method, self.workers, self.pool = method, workers, None

    def __enter__(self) -> "_Decomposer":
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="bgsub-window",
                                           initializer=torch.set_num_threads, initargs=(1,))
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, frames: torch.Tensor) -> tuple[Decomposition, float]:
        t0 = time.perf_counter()
        dec = self.method.decompose(frames)
        return dec, time.perf_counter() - t0

    def map(self, windows) -> Iterator[tuple[tuple[Chunk, int], Decomposition, float]]:
        """Yield ``(item, decomposition, seconds)`` for each ``item = (chunk, new)`` of ``windows``, in order.
        ``seconds``: the window's own decompose time (with several workers their sum exceeds the wall time)."""
        if self.pool is None:
            for item in windows:
                yield (item, *self._run(item[0].frames))
            return
        from collections import deque

        pending: deque = deque()
        for item in windows:
            pending.append((item, self.pool.submit(self._run, item[0].frames)))
            if len(pending) >= self.workers:
                done, fut = pending.popleft()
                yield (done, *fut.result())
        while pending:
            done, fut = pending.popleft()
            yield (done, *fut.result())


def _masks(dec: Decomposition, scope: str, median: int, threshold: Optional[float]) -> torch.Tensor:
    if dec.masks is not None:
        return median_filter(dec.masks.bool().cpu(), median)
    return masks_from_foreground(dec.foreground, scope="clip" if scope == "clip" else "frame",
                                 median=median, threshold=threshold)


def _write_window(out: Path, numbers: list[int], masks: torch.Tensor, native: tuple[int, int],
                  fg: Optional[torch.Tensor], bg: Optional[torch.Tensor],
                  fg_numbers: Optional[set[int]] = None) -> None:
    for i, n in enumerate(numbers):
        write_mask(out, n, masks[i], size=native)
        if fg is not None and (fg_numbers is None or n in fg_numbers):
            write_image(out / mask_name(n, "fg"), fg[i])
        if bg is not None:
            write_image(out / mask_name(n, "bg"), bg[i])


def decompose_video(
    method: Method,
    source: str | Path,
    out: str | Path,
    *,
    cfg: Config,
    window: int,
    save_foreground: bool | Collection[int] = False,
    save_background: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``method.decompose`` over ``source`` in windows of ``window`` frames and write, for each frame number
    k, ``out/bin%06d.png`` (masks at the input's native size), and on request ``fg%06d.png`` (|S|, scaled by
    its window's maximum; ``save_foreground`` True for every frame, or the frame numbers that want one) and
    ``bg%06d.png`` (L). Writes ``out/config.yaml``. Returns a summary (frames, seconds spent in the method, total
    seconds, frames per second).
    """
    if window < 1:
        raise BgsubError(f"window must be >= 1, got {window}")
    info = probe(source)
    native = (info.height, info.width)
    cfg = method.input_config(cfg, native)
    scope, median = cfg.threshold.scope, cfg.threshold.median
    if scope not in SCOPES:
        raise BgsubError(f"threshold scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BgsubError(f"{out}: exists and is not a folder")
    total = len(list_frames(source, start=cfg.input.start, end=cfg.input.end, stride=cfg.input.stride))
    if total == 0:
        raise BgsubError(f"{source}: no frames selected")
    _check_window_memory(method, native, cfg, window)
    created = not out.exists()
    ensure_dir(out)
    save_config(cfg, out / "config.yaml")
    try:
        return _decompose(method, source, out, cfg=cfg, window=window, total=total, native=native,
                          save_foreground=save_foreground, save_background=save_background, progress=progress)
    except BgsubError:
        # bad input found before any mask was written: leave no output folder holding only config.yaml
        if created and not any(e.name != "config.yaml" for e in os.scandir(out)):
            (out / "config.yaml").unlink(missing_ok=True)
            out.rmdir()
        raise


def _check_window_memory(method: Method, native: tuple[int, int], cfg: Config, window: int) -> None:
    from bgsub import memory

    ic = cfg.input
    size = working_size(native[0], native[1], ic.scale)
    workers = window_workers(method, cfg)
    need = memory.segment_bytes(window, workers, memory.working_channels(ic.grayscale), size, native, method.name)
    memory.check(need, f"{method.name} in windows of {window} over {memory.describe(native, size)}", size=size,
                 max_pixels=ic.max_pixels)


def _decompose(method: Method, source: str | Path, out: Path, *, cfg: Config, window: int, total: int,
               native: tuple[int, int], save_foreground: bool | Collection[int], save_background: bool,
               progress: bool) -> dict[str, Any]:
    scope, median = cfg.threshold.scope, cfg.threshold.median

    threshold: Optional[float] = None
    method_seconds = 0.0
    t_start = time.perf_counter()
    if scope == "video" and not getattr(method, "decides_masks", False):
        hist = HistogramOtsu()
        method.reset()
        with progress_bar(total=total, desc=f"{method.name} pass 1/2", unit="frame", disable=not progress, leave=False) as bar:
            for chunk, new in iter_windows(source, window=window, cfg=cfg, top_up=not method.streams):
                t0 = time.perf_counter()
                dec = method.decompose(chunk.frames)
                method_seconds += time.perf_counter() - t0
                hist.update(magnitude(dec.foreground[-new:]))
                bar.update(new)
        threshold = hist.threshold()
        log.info("video-wide Otsu threshold on |S|: %.5g", threshold)

    method.reset()
    frames = 0
    workers = window_workers(method, cfg)
    # the next window is read and the last one's files are encoded and written in background threads while the
    # method runs (bounded: two windows ahead, two behind); with several workers, that many windows are
    # decomposed at once, one per thread, and their results taken in order
    windows = prefetch(iter_windows(source, window=window, cfg=cfg, top_up=not method.streams), depth=2)
    with progress_bar(total=total, desc=method.name, unit="frame", disable=not progress) as bar, \
            closing(windows), BackgroundWriter(depth=2) as writer, _Decomposer(method, workers) as decomposer:
        for (chunk, new), dec, seconds in decomposer.map(windows):
            method_seconds += seconds
            masks = _masks(dec, scope, median, threshold)
            numbers = chunk.numbers[len(chunk.numbers) - new:]
            fg = bg = None
            fg_numbers = None if isinstance(save_foreground, bool) else set(save_foreground) & set(numbers)
            if save_foreground is True or fg_numbers:
                mags = magnitude(dec.foreground)[-new:]
                fg = mags / (float(mags.max()) or 1.0)
            if save_background:
                bg = dec.background[-new:].clamp(0, 1)
            writer.submit(_write_window, out, numbers, masks[-new:], native, fg, bg, fg_numbers)
            frames += new
            bar.update(new)
    seconds = time.perf_counter() - t_start
    return {
        "method": method.name,
        "input": str(source),
        "out": str(out),
        "frames": frames,
        "window": window,
        "workers": workers,
        "threshold_scope": scope,
        "method_seconds": method_seconds,
        "seconds": seconds,
        "fps": frames / seconds if seconds > 0 else float("inf"),
    }
