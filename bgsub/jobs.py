"""One video through one method, as a plain function of paths and a config: the job that ``bgsub benchmark`` and
``bgsub batch`` both hand to an engine (:mod:`bgsub.engines`).

A job knows nothing of engines: it fits, segments and scores, writes its outputs itself (atomically) and returns a
small record. An engine knows nothing of background subtraction: it runs a function on arguments. The two drivers
(:mod:`bgsub.pipelines.benchmark`, :mod:`bgsub.pipelines.batch`) are callers of this module and import nothing
from each other.

- :func:`run_one`: fit ``method`` on a video, segment the whole video, score it (the measured part of a record);
- :func:`window_for`: frames per window handed to a method's ``decompose``;
- :func:`config_hash`: the fingerprint under which a finished job is reused;
- :func:`require_shared`: the check that a worker sees the driver's output folder (a cluster's shared filesystem);
- :func:`~bgsub.devices.torch_threads` (re-exported): a block run with a given torch thread count (a job's share
  of the CPUs).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any, Optional

from bgsub.config import Config
from bgsub.devices import torch_threads  # noqa: F401 (a job's share of the CPUs; re-exported)
from bgsub.errors import BgsubError

__all__ = ["run_one", "window_for", "config_hash", "require_shared", "torch_threads"]


def config_hash(cfg: Config) -> str:
    """Short fingerprint of the resolved config; a finished run is reused only under the same one."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def require_shared(marker: Optional[str], out: str | os.PathLike) -> None:
    """Raise unless the driver's ``marker`` file (in ``out``) is visible here: a worker on another machine that
    does not mount ``out`` at the same path would write outputs nobody finds."""
    if marker is not None and not Path(marker).is_file():
        raise BgsubError(f"{out}: not visible from the worker on {socket.gethostname()} (the run's marker file is "
                         "missing): workers must see the inputs and the output folder at the same paths as the "
                         "driver")


def window_for(method, cfg: Config) -> int:
    """Frames per window handed to ``method.decompose``: ``rpca-*`` methods ``cfg.rpca.window``, ``unet``
    ``cfg.segment.batch`` (as ``bgsub segment``), the rest (MOG2, KNN, ...) ``cfg.input.chunk``."""
    if method.name.startswith("rpca"):
        return int(cfg.rpca.window)
    if method.name == "unet":
        return int(cfg.segment.batch)
    return int(cfg.input.chunk)


def run_one(name: str, seq: Path, out: Path, *, cfg: Config, seed: int,
            keep_foreground: Optional[set[int]] = None, score: bool = True) -> dict[str, Any]:
    """Fit, decompose and score ``name`` on ``seq``; the measured part of a benchmark record. Raises on failure.

    ``seq`` is a sequence folder with ground truth when ``score`` (the default); with ``score=False`` any video
    source (file, frame folder) and the record has no ``scores``/``counts``/``scored_frames``/``missing``.
    ``keep_foreground``: frame numbers whose ``fg%06d.png`` (|S|) are written for the contact sheet (only those:
    S is not even computed for a window without one; any other ``fg`` file left by an earlier run is deleted);
    ``None`` writes none."""
    from bgsub.methods.base import create
    from bgsub.pipelines.evaluate import evaluate
    from bgsub.pipelines.fit import fit_on_video
    from bgsub.pipelines.run import decompose_video

    method = create(name, cfg)
    if hasattr(method, "progress"):  # the caller shows progress per run; no per-step bars under its table
        method.progress = False
    fit = fit_on_video(method, seq, cfg=cfg, seed=seed)
    window = window_for(method, cfg)
    run = decompose_video(method, seq, out, cfg=cfg, window=window,
                          save_foreground=set(keep_foreground) if keep_foreground is not None else False,
                          progress=False)
    labelled = fit.get("label_frames") or []
    if labelled:  # frames whose ground truth the method trained on are left out of scoring
        from bgsub.io.masks import mask_name

        for n in labelled:
            (Path(out) / mask_name(n)).unlink(missing_ok=True)
    ev = evaluate(out, cdnet=seq, allow_missing=bool(labelled)) if score else None
    if keep_foreground is not None:
        from bgsub.io.frames import numbered_files

        for n, p in numbered_files(out, prefix="fg").items():
            if n not in keep_foreground:
                p.unlink(missing_ok=True)
    scored = {"scores": ev["scores"], "counts": ev["counts"], "scored_frames": ev["frames"],
              "missing": ev["missing"]} if ev is not None else {}
    return {
        **scored,
        "frames": run["frames"],
        "window": window,
        "fit_frames": len(fit["fit_frames"]),
        "label_frames": labelled,  # trained on their ground truth, not scored
        "train_seconds": fit["fit_seconds"],
        "segment_seconds": run["seconds"],
        "method_seconds": run["method_seconds"],
        "fps": run["fps"],
    }
