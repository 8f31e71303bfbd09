"""Fitting a method on a video: the frames it fits on drawn from the selection (:func:`sample_numbers`), read
once as a stream for a method whose background model steps over every frame (:func:`stream_fit`), and the memory
check before (:func:`check_fit_memory`). The decomposition that follows is :mod:`bgsub.pipelines.run`'s."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import Any

from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.io.frames import list_frames, probe, read_clip, working_size
from bgsub.io.prefetch import prefetch
from bgsub.io.stream import FrameStream, chunks_of
from bgsub.methods.base import Method, draw_numbers
from bgsub.pipelines.reading import open_stream, read_plan, readers, reduce_reads

__all__ = ["sample_numbers", "fit_on_video", "stream_fit", "check_fit_memory"]


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
    check_fit_memory(f"{method.name}: fit", (info.height, info.width), cfg.input, len(numbers))
    labelled = method.attach_labels(source) if hasattr(method, "attach_labels") else []
    if getattr(method, "streams", False) and hasattr(method, "fit_stream"):
        t0 = time.perf_counter()  # the reading is part of the fit: the model steps over every frame
        stream_fit(method, source, cfg=cfg, numbers=numbers)
    else:
        ic = cfg.input
        clip = read_clip(source, numbers=numbers, grayscale=ic.grayscale, scale=ic.scale, stabilize=ic.stabilize)
        t0 = time.perf_counter()
        method.fit(clip.frames)
    return {"fit_frames": numbers, "fit_seconds": time.perf_counter() - t0, "label_frames": labelled}


def stream_fit(method: Method, source: str | Path, *, cfg: Config, numbers: list[int]) -> tuple[int, int]:
    """``method.fit_stream`` over the video read once from its first selected frame (a background model updated
    over time sees every frame in order); the frames ``numbers`` are the ones it trains on. The frames are read
    as ``segment`` reads them (:func:`read_plan`: at the size the method measures them at, decoded reduced where
    that is less than half the frame's), so that the training pass's background model starts on the same window
    as the segmentation's (``segment.lookahead``), and read a second time when the method asks for it (its second
    pass, :meth:`UNetMethod.fit_stream`); read ahead in a background thread. Returns the size (H, W) the frames
    were read at."""
    ic = cfg.input

    def read(stream: FrameStream):
        reduce_reads(stream, plan, cfg)
        return chunks_of(stream.images(), chunk=64, grayscale=ic.grayscale, scale=ic.scale, workers=readers(method),
                         size=plan[1])

    def again():  # the video read a second time, the same way (fit_stream's second pass)
        with open_stream(source, cfg, None, None, method) as stream:
            stream.size
            with closing(prefetch(read(stream), depth=2)) as it:
                yield from it

    with open_stream(source, cfg, None, None, method) as stream:
        native = stream.size
        plan = read_plan(method, native, cfg)
        with closing(prefetch(read(stream), depth=2)) as it:
            method.fit_stream(it, set(numbers), again=again)
    return tuple(plan[1]) if plan[1] is not None else working_size(native[0], native[1], ic.scale)


def check_fit_memory(what: str, native: tuple[int, int], ic, frames: int) -> None:
    """Refuse (or warn about) fitting on ``frames`` frames of ``native`` size read with the resolved input config
    ``ic`` when the estimate does not fit in the available memory (:mod:`bgsub.memory`)."""
    from bgsub import memory

    size = working_size(native[0], native[1], ic.scale)
    need = memory.fit_bytes(frames, memory.working_channels(ic.grayscale), size, native)
    memory.check(need, f"{what} on {frames} {memory.describe(native, size)}", size=size, max_pixels=ic.max_pixels)
