"""``bgsub rpca``: robust PCA over a whole video, window by window, with masks from Otsu on |S|.

The video is cut into *tiled* windows of ``cfg.rpca.window`` frames (consecutive, non-overlapping; a short last
window is topped up with the end of the previous one, so every solve sees a full window where the video allows
it, and only the new frames are written). Each window is one matrix D (pixels x frames) solved on its own by
``cfg.rpca.solver``; memory is bounded by the window (a few copies of D), not by the video length. This is the
shared path of :func:`bgsub.pipelines.run.decompose_video`, which also does the thresholding (per frame by
default, ``cfg.threshold.scope``) and writes ``bin%06d.png`` (and on request ``fg%06d.png`` = |S| and
``bg%06d.png`` = L) plus ``config.yaml``. This module adds ``rpca.json``: the summary and one record per window
(iterations, final residual, converged, seconds, rank).

Example::

    from bgsub import api
    summary = api.rpca("../shared/data/cdnet-highway", "out/highway")   # ialm, windows of 50
    summary["fps"], summary["iterations"]["max"]
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import torch

from bgsub.config import Config
from bgsub.devices import torch_threads  # noqa: F401 (re-exported: bgsub.pipelines.rpca.torch_threads)
from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes
from bgsub.methods.base import create
from bgsub.pipelines.run import decompose_video
from bgsub.solvers import SOLVERS

log = logging.getLogger("bgsub")


def rpca(
    input: str | Path,
    out: str | Path,
    cfg: Optional[Config] = None,
    *,
    save_foreground: bool = False,
    save_background: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Decompose the video ``input`` (file or folder of frames) by robust PCA in windows and write masks to the
    folder ``out``. Options come from ``cfg.rpca`` (solver, window, lam, tol, ...), ``cfg.input`` (start, end,
    stride, scale, grayscale) and ``cfg.threshold``. Returns the summary also written to ``out/rpca.json``:
    frames, seconds, fps, solver, device, threads and iteration statistics over the windows.
    """
    cfg = cfg if cfg is not None else Config()
    rc = cfg.rpca
    if rc.solver not in SOLVERS:
        raise BgsubError(f"unknown RPCA solver {rc.solver!r} (valid: {', '.join(SOLVERS)})")
    if rc.window < 2:
        raise BgsubError(f"rpca window must be >= 2 frames, got {rc.window}")
    method = create(f"rpca-{rc.solver}", cfg)
    with torch_threads(rc.threads):
        threads = torch.get_num_threads()
        summary = decompose_video(method, input, out, cfg=cfg, window=rc.window, save_foreground=save_foreground,
                                  save_background=save_background, progress=progress)
    infos = method.infos
    its = [i["iterations"] for i in infos]
    unconverged = sum(not i["converged"] for i in infos)
    summary.update(
        solver=rc.solver,
        device=str(method.device),
        dtype=rc.dtype,
        threads=threads,
        windows=len(infos),
        iterations={"min": min(its), "mean": sum(its) / len(its), "max": max(its)} if its else {},
        unconverged_windows=unconverged,
    )
    if unconverged:
        log.warning("%d of %d windows stopped at max_iter=%d before tol=%g", unconverged, len(infos),
                    rc.max_iter, rc.tol)
    report = dict(summary, per_window=infos)
    atomic_write_bytes(Path(out) / "rpca.json", (json.dumps(report, indent=2) + "\n").encode())
    return summary
