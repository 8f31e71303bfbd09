"""The U-Net's commands as Python functions: :func:`train`, :func:`polish`, :func:`segment`.

Example::

    from bgsub.config import load_config
    from bgsub.pipelines.unet import train, segment
    cfg = load_config("cpu-fast")
    train("seq/", "model.pt", cfg=cfg)            # model.pt, model.history.csv/.png, model.config.yaml
    segment("seq/", "masks/", model="model.pt", cfg=cfg)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import torch

from bgsub.config import Config, save_config
from bgsub.devices import resolve_device
from bgsub.errors import BgsubError
from bgsub.io.atomic import check_writable
from bgsub.io.frames import list_frames, probe, read_clip
from bgsub.models.unet import count_parameters
from bgsub.pipelines.fit import sample_numbers, stream_fit
from bgsub.pipelines.segment import run_config, segment, write_overlay  # noqa: F401 (re-exported)
from bgsub.polishing import polish_model
from bgsub.training import fit_threshold, load_checkpoint, save_checkpoint, train_model, write_history

log = logging.getLogger("bgsub")


def _sidecar(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def train(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    cfg: Config,
    resume: bool = False,
    epochs: Optional[int] = None,
    progress: bool = True,
    init: Optional[str] = None,
) -> dict[str, Any]:
    """Train a U-Net on frames of ``source`` and write the checkpoint ``out`` (atomically, every
    ``train.save_every`` epochs and at the end), ``OUT_STEM.history.csv``/``.png`` and ``OUT_STEM.config.yaml``.

    The pool of ``max(train.pool, train.frames)`` frames is drawn at random (seed ``train.seed``).
    ``resume=True`` continues the run saved in ``out`` with its saved config and frames (``epochs`` may raise the
    target). Returns a summary dict.
    """
    from bgsub.methods.unet import UNetMethod

    out = Path(out)
    info = None if resume else probe(source)
    if info is not None:
        _check_train_memory(source, info, cfg)  # before anything is written
    check_writable(out)  # before hours of training, not after
    t0 = time.perf_counter()
    if resume:
        if not out.exists():
            started = _sidecar(out, ".config.yaml").is_file()
            raise BgsubError(
                f"{out}: nothing to resume: " + ("the run was stopped before it saved its first checkpoint"
                                                 if started else "no checkpoint here")
                + " (checkpoints are written every train.save_every epochs and every train.save_seconds); "
                "start it again without --resume")
        model, cfg, state = load_checkpoint(out)
        if epochs is not None:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))
        method = UNetMethod(cfg, model=model, state=state)
        init_from = method.start_weights()  # a resumed run keeps its weights
        numbers = state.frames
        if state.epoch >= cfg.train.epochs:
            log.info("%s: already trained for %d epochs (target %d)", out, state.epoch, cfg.train.epochs)
    else:
        if epochs is not None:  # the steps asked for, whichever weights the training starts from
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs, tune_epochs=epochs))
        if init is not None:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, init=init))
        method = UNetMethod(cfg)  # resolves input.grayscale (colour unless set) and builds the network
        method.cfg = method.input_config(method.cfg, (info.height, info.width))  # the pixel budget
        init_from = method.start_weights()  # before anything is read: a bad train.init is an error now
        cfg, model = method.cfg, method.model
        selected = list_frames(source, start=cfg.input.start, end=cfg.input.end, stride=cfg.input.stride)
        if not selected:
            raise BgsubError(f"{source}: no frames selected")
        if cfg.model.reference:
            numbers = method.fit_numbers(selected, seed=cfg.train.seed)
        else:
            numbers = sample_numbers(source, max(cfg.train.pool, cfg.train.frames), cfg=cfg, seed=cfg.train.seed)
        state = method.state
        state.frames = numbers
    ic = cfg.input
    start_epoch = state.epoch
    save_config(cfg, _sidecar(out, ".config.yaml"))
    labelled = method.attach_labels(source)
    if method.streams:  # a background model updated over time: the video is read once, every frame in order
        method.checkpoint = out
        image_size = list(stream_fit(method, source, cfg=cfg, numbers=numbers))  # the frames as read
        state = method.state
        n_frames = len(numbers)
    else:
        clip = read_clip(source, numbers=numbers, grayscale=ic.grayscale, scale=ic.scale, stabilize=ic.stabilize)
        if resume and numbers is not None and clip.numbers != list(numbers):
            raise BgsubError(f"{source}: does not hold the frames this checkpoint was trained on")
        if cfg.model.reference and state.reference is None:
            method.estimate_reference(clip.frames)
        state = train_model(model, clip.frames, cfg, state=state, checkpoint=out, progress=progress,
                            labels=method.labels)
        n_frames = len(clip.numbers)
        image_size = list(clip.frames.shape[-2:])
    seconds = time.perf_counter() - t0  # reading the frames, the reference and the training
    if not cfg.model.reference:
        state.threshold = fit_threshold(model, clip.frames, cfg)
    save_checkpoint(out, model, cfg, state)  # the network and its settings, and for segmenting this same video the
    #                                          training pass's findings (segment.lookahead); not the background model
    files = write_history(out.with_suffix(""), state.history, title=f"bgsub train {Path(source).name}")
    run = state.history[start_epoch:]
    last = state.history[-1] if state.history else {}
    per_epoch = sorted(r["seconds"] for r in run)
    return {
        "model": str(out),
        "input": str(source),
        "frames": n_frames,
        "image_size": image_size,
        "parameters": count_parameters(model),
        "device": str(resolve_device(cfg.train.device)),
        "threads": torch.get_num_threads(),
        "init": init_from,
        "epochs": state.epoch,
        "epochs_run": state.epoch - start_epoch,
        "seconds": seconds,
        "seconds_per_epoch_median": per_epoch[len(per_epoch) // 2] if per_epoch else 0.0,
        "loss": last.get("loss"),
        **{k: last.get(k) for k in ("nuclear", "l1", "data", "tv") if k in last},
        "history": [str(f) for f in files],
        "config": str(_sidecar(out, ".config.yaml")),
        "label_frames": labelled,
    }


def _check_train_memory(source: str | os.PathLike, info, cfg: Config) -> None:
    """Refuse (or warn about) a training run whose frames would not fit in memory (:mod:`bgsub.memory`)."""
    from bgsub.config import with_grayscale
    from bgsub.io.frames import resolve_input
    from bgsub.methods.unet import UNetMethod
    from bgsub.pipelines.fit import check_fit_memory

    native = (info.height, info.width)  # info: probe(source)
    run_cfg = with_grayscale(cfg, UNetMethod.grayscale)  # the input as the method resolves it, without a network
    tc, ic = run_cfg.train, resolve_input(run_cfg.input, native)
    want = max(1, run_cfg.background.init) + tc.pool if run_cfg.model.reference else max(tc.pool, tc.frames)
    selected = len(list_frames(source, start=ic.start, end=ic.end, stride=ic.stride))
    check_fit_memory("train", native, ic, min(want, selected) + max(0, tc.label_frames))


def polish(
    model_path: str | os.PathLike,
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    cfg: Optional[Config] = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Polish a trained model with Eq. 7 on N = ``train.frames`` frames of ``source`` and write ``out``.

    The architecture and training settings come from the checkpoint; ``cfg`` (optional) supplies the ``polish``
    section (steps, lr, alpha, thresholds). The frames are drawn with seed ``polish.seed`` (default: the training
    seed, i.e. the training frames when ``source`` is the training video). Returns a summary dict.
    """
    out = Path(out)
    check_writable(out)
    model, saved, state = load_checkpoint(model_path)
    run_cfg = dataclasses.replace(saved, polish=cfg.polish) if cfg is not None else saved
    pc = run_cfg.polish
    if pc.steps < 0 or not pc.lr >= 0 or not 0 < pc.alpha <= 1:
        raise BgsubError("polish: steps must be >= 0, lr >= 0 and 0 < alpha <= 1")
    seed = pc.seed if pc.seed is not None else run_cfg.train.seed
    numbers = sample_numbers(source, run_cfg.train.frames, cfg=run_cfg, seed=seed)
    ic = run_cfg.input
    clip = read_clip(source, numbers=numbers, grayscale=ic.grayscale, scale=ic.scale, stabilize=ic.stabilize)
    t0 = time.perf_counter()
    history = polish_model(model, clip.frames, run_cfg, progress=progress)
    seconds = time.perf_counter() - t0
    done = (state.polish or {}).get("steps", 0) + len(history)
    state.polish = {"steps": done, "history": (state.polish or {}).get("history", []) + history}
    state.threshold = fit_threshold(model, clip.frames, run_cfg)
    model.eval()
    save_checkpoint(out, model, run_cfg, state)
    save_config(run_cfg, _sidecar(out, ".config.yaml"))
    files = write_history(out.with_suffix(""), history, title=f"bgsub polish {Path(model_path).name}")
    first, last = (history[0], history[-1]) if history else ({}, {})
    return {
        "model": str(out),
        "from": str(model_path),
        "input": str(source),
        "frames": len(numbers),
        "steps": len(history),
        "seconds": seconds,
        "loss_first": first.get("loss"),
        "loss_last": last.get("loss"),
        "history": [str(f) for f in files],
    }
