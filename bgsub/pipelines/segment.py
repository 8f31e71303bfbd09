"""``bgsub segment`` as a Python function (:func:`segment`), the config a trained model runs with
(:func:`run_config`) and the overlay video (:func:`write_overlay`).

A module of its own, apart from training (:mod:`bgsub.pipelines.unet`, which re-exports these names): the zero-shot
path (no ``--model``) runs the shipped network through OpenCV where it can, and then this process never imports
torch (:mod:`bgsub.methods.zeroshot`).

Example::

    from bgsub.pipelines.segment import segment
    segment("seq/", "masks/")                      # the shipped network, zero-shot
    segment("seq/", "masks/", model="model.pt")    # a network trained with bgsub train
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

from bgsub.config import Config, explicit_over
from bgsub.errors import BgsubError
from bgsub.io.atomic import check_writable
from bgsub.pipelines.run import decompose_video, sigint_stops

log = logging.getLogger("bgsub")


def run_config(saved: Config, cfg: Optional[Config]) -> Config:
    """The config for running a trained model. Frames are read the way the model was trained (input.grayscale,
    input.scale and input.max_pixels come from the checkpoint: the same working size); ``threshold`` and
    ``segment`` keys that ``cfg`` leaves at their default values come from the checkpoint too (so a model trained
    with a preset is segmented the same way), the others from ``cfg``."""
    if cfg is None:
        return saved

    def merge(section: str):
        return explicit_over(getattr(saved, section), getattr(cfg, section))

    inp = dataclasses.replace(cfg.input, grayscale=saved.input.grayscale, scale=saved.input.scale,
                              max_pixels=saved.input.max_pixels)
    return dataclasses.replace(cfg, input=inp, model=saved.model, train=saved.train, background=saved.background,
                               threshold=merge("threshold"),
                               segment=merge("segment"))


def segment(
    source: str | os.PathLike | int,
    out: str | os.PathLike,
    *,
    model: Optional[str | os.PathLike] = None,
    cfg: Optional[Config] = None,
    save_foreground: bool = False,
    save_background: bool = False,
    overlay: Optional[str | os.PathLike] = None,
    progress: bool = True,
    max_frames: Optional[int] = None,
    stop: Optional[threading.Event] = None,
) -> dict[str, Any]:
    """Run a trained model over every selected frame of ``source`` in batches of ``segment.batch`` (streaming),
    threshold |S| by Otsu (``threshold.scope``: per frame by default, or ``video`` for one threshold overall) and
    write ``out/bin%06d.png`` at native size (plus ``fg``/``bg`` images and an ``overlay`` video on request).

    ``source``: a video file, a frame folder, a camera index (``0``) or a stream URL (anything with ``://``), read
    once, front to back; masks are written as the frames arrive. The model file is the network and its settings:
    the background reference of the default network is estimated from the first ``background.init`` frames of
    ``source`` (``segment.reuse_background``: the one saved at training time instead, which must have the frames'
    size). ``max_frames``: stop after that many frames. Ctrl-C (in the main thread), or ``stop`` set, ends the
    reading; the frames read are still segmented and written and the summary says ``interrupted``. The overlay
    reads the input again after the masks (refused for a camera or a stream).
    ``model`` None: the network shipped in the package (``unet-pretrained``, zero-shot: no training; its
    background model is still the video's own).
    Returns the summary of :func:`bgsub.pipelines.run.decompose_video` (frames, seconds, fps, interrupted) with the
    model, the device, the engine that ran the network (``opencv``: no torch in the process; ``torch``:
    ``segment.engine``), the threads and where the background came from.
    """
    from bgsub.io.stream import is_live
    from bgsub.methods.pretrained import PretrainedUNet
    from bgsub.runtime import cpu_threads

    if overlay is not None:
        if is_live(source):
            raise BgsubError(f"{source}: --overlay reads the input a second time, which a camera or a stream "
                             "cannot give: write the masks and draw the overlay from a recording")
        check_writable(overlay)
    if model is None:
        method = PretrainedUNet(cfg if cfg is not None else Config())
        if method.cfg.segment.reuse_background:
            raise BgsubError("--reuse-background needs --model (the shipped network carries no background)")
    else:
        method = _trained(model, cfg)
    sc = method.cfg.segment
    if sc.batch < 1:
        raise BgsubError(f"segment.batch must be >= 1, got {sc.batch}")
    stop = stop if stop is not None else threading.Event()
    with sigint_stops(stop):
        result = decompose_video(method, source, out, cfg=method.cfg, window=sc.batch,
                                 save_foreground=save_foreground, save_background=save_background, progress=progress,
                                 max_frames=max_frames, stop=stop)
    result["model"] = str(model) if model is not None else f"pretrained ({method.weights})"
    result["device"] = "cpu" if method.arrays else str(_device(sc.device))
    result["engine"] = "opencv" if method.arrays else "torch"
    result["threads"] = cpu_threads()
    result["background"] = ("saved" if sc.reuse_background else "estimated") if method.cfg.model.reference else None
    if result["interrupted"]:
        log.warning("interrupted after %d frames: their masks are written", result["frames"])
    elif overlay is not None:
        result["overlay"] = str(write_overlay(source, out, overlay, cfg=method.cfg, limit=result["frames"]))
    return result


def write_overlay(source: str | os.PathLike, masks: str | os.PathLike, path: str | os.PathLike, *, cfg: Config,
                  fps: float = 25.0, limit: Optional[int] = None) -> Path:
    """A video of the input frames (the first ``limit`` selected ones, or all) with the foreground masks tinted red
    (streams frame by frame; MJPG in .avi, mp4v otherwise), written atomically."""
    import cv2
    import numpy as np

    from bgsub.io.atomic import atomic_save
    from bgsub.io.frames import iter_frames
    from bgsub.io.masks import mask_name

    path, masks = Path(path), Path(masks)
    ic = cfg.input

    def writer(tmp: str) -> None:
        vw = None
        try:
            for i, (n, frame) in enumerate(iter_frames(source, start=ic.start, end=ic.end, stride=ic.stride,
                                                       grayscale=False)):
                if limit is not None and i >= limit:
                    break
                img = (frame.transpose(1, 2, 0)[:, :, ::-1] * 255).astype(np.uint8).copy()
                if vw is None:
                    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
                    vw = cv2.VideoWriter(tmp, fourcc, fps, (img.shape[1], img.shape[0]))
                    if not vw.isOpened():
                        raise BgsubError(f"{path}: OpenCV cannot write this video format")
                m = cv2.imread(str(masks / mask_name(n)), cv2.IMREAD_GRAYSCALE)
                if m is not None:
                    sel = m > 127
                    img[sel] = (0.5 * img[sel] + 0.5 * np.array([0, 0, 255])).astype(np.uint8)
                vw.write(img)
        finally:
            if vw is not None:
                vw.release()

    return atomic_save(path, writer)


def _device(name):
    from bgsub.devices import resolve_device

    return resolve_device(name)


def _trained(model, cfg: Optional[Config]):
    """A network from ``bgsub train`` for segmenting: run by OpenCV where ``segment.engine`` lets it (no torch in
    the process, :func:`bgsub.methods.zeroshot.opencv_trained`), else by torch."""
    from bgsub.methods.unet import UNetMethod
    from bgsub.methods.zeroshot import opencv_trained

    found = opencv_trained(model, lambda saved: run_config(saved, cfg))
    if found is not None:
        net, saved, state = found
        method = UNetMethod(saved, state=state, net=net)
    else:
        method = UNetMethod.load(model)
    method.cfg = run_config(method.cfg, cfg)
    return method
