"""``bgsub benchmark``: every registered method on every sequence of a data folder, scored the CDnet way.

For each sequence folder found under the data folder (CDnet layout ``input/in%06d.jpg`` or UCSD layout
``in/frame_K.jpg``, each with ``groundtruth/`` and ``ROI.bmp`` / ``temporalROI.txt``) and each method, one run:

1. ``method = create(name, cfg)``, a fresh instance per sequence (the U-Net is trained per sequence);
2. :func:`~bgsub.pipelines.fit.fit_on_video` on ``method.fit_frames()`` frames sampled with ``seed``
   (training time; zero for methods that learn nothing);
3. :func:`~bgsub.pipelines.run.decompose_video` over the whole video from its first frame, writing
   ``OUT/<sequence>/<method>/bin%06d.png`` (segmentation time), and ``fg%06d.png`` (|S|) for the few frames
   the contact sheet shows (the others are deleted after scoring);
4. :func:`~bgsub.pipelines.evaluate.evaluate` with the sequence's ground truth, ROI and temporal ROI (the rules
   of ``bgsub evaluate --cdnet``).

Windows: ``rpca-*`` methods get ``cfg.rpca.window`` frames at a time, ``unet`` ``cfg.segment.batch`` (as
``bgsub segment``); the rest (MOG2, KNN) ``cfg.input.chunk``. Methods with state carried frame to frame
(``streams = True``) are fed each frame exactly once, in order: the pipeline does not top up their short last
window with frames of the previous one.

Outputs (written by :mod:`bgsub.pipelines.report`): ``OUT/results.json`` (the environment and one record per
(sequence, method), status ``ok`` or ``failed`` with the error), rewritten after every run, so an interrupted
benchmark resumes where it stopped: a pair already ``ok`` under the same config is skipped unless ``force``.
``OUT/results.md``: the same as markdown tables. ``OUT/<sequence>/contact.png``: a few scored frames, one row per
method (see :mod:`bgsub.viz`). A method that fails on one sequence is recorded as failed and the benchmark goes on.

Each (sequence, method) pair is an independent job (:func:`run_pair`, around :func:`bgsub.jobs.run_one`, the job
runner it shares with ``bgsub batch``) handed to an engine (:mod:`bgsub.engines`):
in this process one at a time by default, or as Ray tasks in parallel; records are saved as jobs finish, and a
sequence's contact sheet is drawn when its last pair finishes.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
from pathlib import Path
from typing import Any, Callable, Optional

from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.io.layout import check_sequences, is_sequence_dir, skip_reason
from bgsub.jobs import config_hash, require_shared, run_one, torch_threads, window_for
from bgsub.pipelines.report import (RESULTS_JSON, RESULTS_MD, SCHEMA, SCORES, _contact, _contact_frames,
                                    load_results, render_markdown, write_results)

__all__ = [
    "find_sequences", "config_hash", "environment", "window_for", "run_one", "run_pair", "Event", "benchmark",
    # re-exported from bgsub.pipelines.report and bgsub.jobs, so that ``from bgsub.pipelines.benchmark import ...``
    # keeps working
    "RESULTS_JSON", "RESULTS_MD", "SCHEMA", "SCORES", "load_results", "render_markdown", "write_results",
]

log = logging.getLogger("bgsub")


# --------------------------------------------------------------------------------------------------------------
# finding sequences


def _has_frames(seq: Path) -> bool:
    return any((seq / sub).is_dir() for sub in ("input", "in"))


def find_sequences(data_dir: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(name, folder)`` for every sequence folder under ``data_dir`` (itself included), sorted by name.

    A sequence folder has ground truth (:func:`bgsub.io.layout.is_sequence_dir`) and frames in ``input/`` (CDnet)
    or ``in/`` (UCSD). ``name`` is the path relative to ``data_dir`` (``data_dir``'s own name when it is one).
    Hidden folders are skipped and sequence folders are not searched further. Finding none is an error.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise BgsubError(f"{root}: no such folder")
    found: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):  # symlinked sequences count ...
        d = Path(dirpath)
        real = os.path.realpath(d)
        if real in seen:  # ... but a link loop, or two links to one folder, is walked once
            dirnames[:] = []
            continue
        seen.add(real)
        if is_sequence_dir(d) and _has_frames(d):
            name = d.relative_to(root).as_posix()
            found.append((root.resolve().name if name == "." else name, d))
            dirnames[:] = []
            continue
        if skip_reason(d):  # issue 11: say which folders are skipped and why (bgsub.io.layout)
            log.warning("%s: skipped: %s", d, skip_reason(d))
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
    if not found:
        raise BgsubError(f"{data_dir}: no sequence folders (CDnet input/ or UCSD in/, with groundtruth/ and "
                         "ROI.bmp or temporalROI.txt)")
    return sorted(found)


# --------------------------------------------------------------------------------------------------------------
# environment and config


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(cfg: Config) -> dict[str, Any]:
    """Where and how the benchmark ran: device, thread counts, versions, date, the resolved config."""
    import cv2
    import numpy as np
    import torch

    from bgsub import __version__

    cuda = torch.cuda.is_available()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "versions": {
            "bgsub": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "platform": platform.platform(),
        "config_hash": config_hash(cfg),
        "config": cfg.to_dict(),
    }


# --------------------------------------------------------------------------------------------------------------
# one run



def run_pair(name: str, seq: str, run_dir: str, *, cfg: Config, seed: int,
             keep_foreground: Optional[set[int]] = None, marker: Optional[str] = None,
             threads: int = 0) -> dict[str, Any]:
    """The benchmark's job, run by an engine wherever it runs jobs: clear ``run_dir``'s earlier masks, then
    :func:`bgsub.jobs.run_one`. Adds the threads and host it ran with. ``marker``, ``threads``: see
    :func:`bgsub.pipelines.batch.process_video`."""
    import socket

    import cv2
    import torch

    require_shared(marker, Path(run_dir).parent)
    run_dir_p = Path(run_dir)
    _clear(run_dir_p)  # masks of an earlier run (another config, frame range ...) must not be scored
    with torch_threads(threads):
        rec = run_one(name, Path(seq), run_dir_p, cfg=cfg, seed=seed, keep_foreground=keep_foreground)
        rec.update(torch_threads=torch.get_num_threads(), opencv_threads=cv2.getNumThreads(),
                   host=socket.gethostname())
    return rec


# --------------------------------------------------------------------------------------------------------------
# the benchmark


Event = Callable[[str, dict[str, Any]], None]


def benchmark(
    data_dir: str | os.PathLike,
    *,
    methods: list[str],
    out: str | os.PathLike,
    cfg: Optional[Config] = None,
    method_configs: Optional[dict[str, Config]] = None,
    force: bool = False,
    seed: Optional[int] = None,
    contact_frames: int = 3,
    on_event: Optional[Event] = None,
    engine: str = "local",
    engine_options: Optional[dict[str, Any]] = None,
    threads: int = 0,
) -> dict[str, Any]:
    """Run ``methods`` on every sequence under ``data_dir``; write ``out/results.json``, ``out/results.md`` and
    ``out/<sequence>/contact.png`` (``contact_frames`` = 0: no contact sheets).

    ``cfg`` is the config of every method, except those named in ``method_configs`` (e.g. the U-Net with a CPU
    preset that also halves the resolution and median-filters masks, which should not change the baselines).

    ``seed`` (default ``cfg.train.seed``) picks the frames a method fits on. ``on_event(kind, record)`` is called
    with ``"start"``, ``"skip"``, ``"done"`` or ``"failed"`` for each (sequence, method) pair, for progress
    display (and ``"queued"`` when a job is handed to an engine that does not say when it starts).

    Each (sequence, method) pair is a job (:func:`run_pair`) for ``engine`` (``"local"``: in this process, one at
    a time, in order; ``"ray"``: Ray tasks, see :mod:`bgsub.engines.ray`), made with ``engine_options`` only when
    there is work to do; results are recorded as jobs finish. ``threads`` > 0: torch threads per job (default:
    as is locally, the CPUs each Ray task asks for). Returns ``{"results_json", "results_md", "records",
    "environment", "failed", "ran", "skipped"}``.
    """
    from bgsub.methods.base import available

    cfg = cfg if cfg is not None else Config()
    seed = cfg.train.seed if seed is None else seed
    if not methods:
        raise BgsubError("no methods given")
    if len(set(methods)) != len(methods):
        raise BgsubError(f"a method is listed twice: {','.join(methods)}")
    method_configs = dict(method_configs or {})
    known = available()
    extra = [m for m in method_configs if m not in methods]
    if extra:
        raise BgsubError(f"a config is given for {extra[0]!r}, which is not among the methods ({','.join(methods)})")
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise BgsubError(f"unknown method {unknown[0]!r} (valid: {', '.join(known) or 'none'})")
    sequences = find_sequences(data_dir)
    check_sequences(sequences)  # issue 11: layout errors (ROI.bmp size ...) once, before any method runs
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BgsubError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    data = load_results(out)
    env = environment(cfg)
    env["seed"] = seed
    env["method_configs"] = {m: {"config_hash": config_hash(c), "config": c.to_dict()}
                             for m, c in sorted(method_configs.items())}
    cfg_of = {m: method_configs.get(m, cfg) for m in methods}
    hash_of = {m: config_hash(c) for m, c in cfg_of.items()}
    data["environment"] = env
    data["schema"] = SCHEMA
    records: dict[tuple[str, str], dict[str, Any]] = {(r["sequence"], r["method"]): r for r in data["records"]}
    notify = on_event or (lambda kind, rec: None)
    ran = skipped = 0

    def save() -> tuple[Path, Path]:
        data["records"] = sorted(records.values(), key=lambda r: (r["sequence"], r["method"]))
        return write_results(out, data)

    shown_of: dict[str, list[int]] = {}
    left: dict[str, int] = {}  # jobs not yet finished per sequence: its contact sheet is drawn after the last
    jobs: list[tuple[tuple[str, str], Path, Path]] = []
    pending: dict[tuple[str, str], dict[str, Any]] = {}
    for seq_name, seq in sequences:
        shown_of[seq_name] = _contact_frames(seq, cfg, contact_frames)
        # (frames chosen with the base config's frame range; runs with another range show what they have)
        left[seq_name] = 0
        for name in methods:
            run_dir = out / seq_name / name
            old = records.get((seq_name, name))
            if (not force and old is not None and old.get("status") == "ok"
                    and old.get("config_hash") == hash_of[name] and old.get("seed") == seed
                    and run_dir.is_dir()):
                skipped += 1
                notify("skip", old)
                continue
            pending[(seq_name, name)] = {
                "sequence": seq_name, "method": name, "path": str(seq), "out": str(run_dir), "status": "running",
                "config_hash": hash_of[name], "seed": seed, "device": env["device"],
                "torch_threads": env["torch_threads"], "opencv_threads": env["opencv_threads"]}
            jobs.append(((seq_name, name), seq, run_dir))
            left[seq_name] += 1
        if not left[seq_name] and shown_of[seq_name]:
            _contact(seq_name, seq, out, methods, records, shown_of[seq_name])

    if jobs:
        from bgsub.engines import make_engine

        seq_of = dict(sequences)
        from bgsub.io.atomic import make_marker

        marker = make_marker(out, "benchmark")
        eng = None
        try:
            eng = make_engine(engine, **(engine_options or {}))
            per_job = threads
            if not per_job and eng.name != "local":  # a Ray task gets as many threads as CPUs it asked for
                per_job = max(1, int(round(getattr(eng, "cpus_per_job", 1))))
            for key, seq, run_dir in jobs:
                shown = shown_of[key[0]]
                eng.submit(key, run_pair, key[1], os.path.abspath(seq), os.path.abspath(run_dir), cfg=cfg_of[key[1]],
                           seed=seed, keep_foreground=set(shown) if shown else None, marker=os.path.abspath(marker),
                           threads=per_job)
                if eng.name != "local":
                    notify("queued", pending[key])
            for o in eng.results(on_start=lambda key: notify("start", pending[key])):
                seq_name, name = o.key
                rec = pending.pop(o.key)
                if o.ok:
                    rec.update(o.value)
                    rec["status"] = "ok"
                else:  # one failing (method, sequence) must not stop the benchmark
                    rec["status"] = "failed"
                    rec["error"] = o.error
                    log.warning("%s on %s failed: %s", name, seq_name, rec["error"])
                rec["wall_seconds"] = o.seconds
                rec["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
                records[o.key] = rec
                ran += 1
                save()
                notify("done" if rec["status"] == "ok" else "failed", rec)
                left[seq_name] -= 1
                if not left[seq_name] and shown_of[seq_name]:
                    _contact(seq_name, seq_of[seq_name], out, methods, records, shown_of[seq_name])
        finally:
            marker.unlink(missing_ok=True)
            if eng is not None:
                eng.close()

    pj, pm = save()
    recs = data["records"]
    this_run = {(n, m) for n, _ in sequences for m in methods}
    return {
        "results_json": str(pj),
        "results_md": str(pm),
        "records": recs,
        "environment": env,
        "failed": [r for r in recs if r["status"] != "ok" and (r["sequence"], r["method"]) in this_run],
        "ran": ran,
        "skipped": skipped,
    }


def _clear(run_dir: Path) -> None:
    """Delete the per-frame images (bin/fg/bg%06d.png) a run writes, nothing else."""
    if not run_dir.is_dir():
        return
    from bgsub.io.frames import numbered_files

    for prefix in ("bin", "fg", "bg"):
        for p in numbered_files(run_dir, extensions=(".png",), prefix=prefix).values():
            p.unlink(missing_ok=True)
