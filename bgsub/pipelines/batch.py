"""``bgsub batch``: one method over many videos, each video an independent job handed to an engine.

Inputs (:func:`find_videos`): a video file, a frame folder, or a CDnet/UCSD sequence folder is one video; any
other folder is searched for those (hidden folders skipped; a video folder is not searched further); a pattern
with ``*``, ``?`` or ``[`` is a glob (``**`` recursive); ``-`` reads one path per line from ``stdin``.

Each video ``V`` gets the output folder ``OUT/<name>``: ``name`` is the file's stem or the folder's name, or,
for videos found by searching a folder, their path relative to that folder (``cam1/day``, suffix dropped). Two
videos with the same name get a short hash of their full path appended (``day-3fa2c1``), so names do not depend
on which other inputs were given or on the order.

The job (:func:`process_video`, a plain function of paths and a config, run wherever the engine runs it; around
:func:`bgsub.jobs.run_one`, the job runner it shares with ``bgsub benchmark``): fit
the method on ``method.fit_frames()`` frames (seeded), segment the whole video, score it the CDnet way when
it is a sequence folder with ground truth, write ``bin%06d.png``, ``config.yaml`` and ``result.json`` into a
hidden ``OUT/.<name>.partial-*`` folder and rename that to ``OUT/<name>`` at the end: an interrupted or failed
job leaves no half-written output folder. It returns the small record also saved as ``result.json``.

The driver (:func:`batch`) skips videos whose ``OUT/<name>/result.json`` says they finished with the same
method, config, seed and input (unless ``force``), submits the rest (with absolute paths), and, as each finishes, appends its record
(or the failure with its one-line error) to ``OUT/results.jsonl`` and reports it to ``on_event``.

Where the work runs: the workers read the inputs and write ``OUT`` themselves, so on a cluster the inputs and
``OUT`` must be on a filesystem every node mounts at the same path (NFS, a cluster filesystem). This is
checked: the driver creates a marker file in ``OUT`` and a job that cannot see it fails at once with a one-line
error naming the worker's host, instead of writing masks nobody will find.
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TextIO

from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes
from bgsub.io.frames import numbered_files
from bgsub.io.layout import is_sequence_dir
from bgsub.jobs import config_hash, require_shared, run_one, torch_threads

log = logging.getLogger("bgsub")

RESULTS = "results.jsonl"
RESULT = "result.json"
VIDEO_EXTENSIONS = {".avi", ".mp4", ".m4v", ".mov", ".mkv", ".mpg", ".mpeg", ".webm", ".wmv", ".flv", ".ts",
                    ".mts", ".3gp", ".ogv"}
_FRAME_DIRS = ("input", "in")


@dataclass(frozen=True)
class Video:
    """One input. ``path``: as given or found; ``source``: what is read (a sequence folder rather than its
    ``input/``); ``truth``: the sequence folder holding ground truth (scored the CDnet way), or None;
    ``name``: the output folder under OUT (a relative POSIX path)."""

    name: str
    path: Path
    source: Path
    truth: Optional[Path]


# --------------------------------------------------------------------------------------------------------------
# finding videos


def _has_frames(folder: Path) -> bool:
    try:
        return bool(numbered_files(folder))
    except (OSError, BgsubError):
        return False


def as_video(p: Path) -> Optional[tuple[Path, Optional[Path]]]:
    """``(source, truth)`` when ``p`` is one video (a video file, a frame folder, a sequence folder or its
    ``input/``), else None. Files are taken by extension (:data:`VIDEO_EXTENSIONS`)."""
    if p.is_file():
        return (p, None) if p.suffix.lower() in VIDEO_EXTENSIONS else None
    if not p.is_dir():
        return None
    if p.name in _FRAME_DIRS and is_sequence_dir(p.parent) and _has_frames(p):
        return p.parent, p.parent
    for sub in _FRAME_DIRS:
        if (p / sub).is_dir() and _has_frames(p / sub):
            return p, (p if is_sequence_dir(p) else None)
    if _has_frames(p):
        return p, None
    return None


def _search(root: Path) -> list[tuple[str, Path, Path, Optional[Path]]]:
    """Every video under the folder ``root``: ``(relative name, path, source, truth)``, sorted by name."""
    found = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        d = Path(dirpath)
        real = os.path.realpath(d)
        if real in seen:  # a link loop, or two links to one folder, is walked once
            dirnames[:] = []
            continue
        seen.add(real)
        if d != root:
            hit = as_video(d)
            if hit is not None:
                found.append((d.relative_to(root).as_posix(), d, *hit))
                dirnames[:] = []
                continue
        dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
        for f in sorted(filenames):
            p = d / f
            if not f.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file():
                found.append((p.relative_to(root).with_suffix("").as_posix(), p, p, None))
    return sorted(found, key=lambda x: x[0])


def _own_name(p: Path, source: Path) -> str:
    return source.name if source != p and p.name in _FRAME_DIRS else (p.stem if p.is_file() else p.name)


def _expand(arg: str) -> list[tuple[str, Path, Path, Optional[Path]]]:
    p = Path(arg)
    if any(c in arg for c in "*?[") and not p.exists():
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            raise BgsubError(f"{arg}: matches nothing")
        out = []
        for m in map(Path, matches):
            # a file matched by a broad pattern (dir/*) must look like a video; "*.dav" takes .dav files
            if m.is_file() and m.suffix.lower() not in VIDEO_EXTENSIONS and not arg.lower().endswith(m.suffix.lower()):
                continue
            out += _expand_path(m, searched=False)
        if not out:
            raise BgsubError(f"{arg}: matches no video")
        return out
    return _expand_path(p, searched=True)


def _expand_path(p: Path, *, searched: bool) -> list[tuple[str, Path, Path, Optional[Path]]]:
    if not p.exists():
        raise BgsubError(f"{p}: no such file or folder")
    if p.is_file():  # a file named explicitly is a video whatever its extension (OpenCV decides)
        return [(p.stem, p, p, None)]
    hit = as_video(p)
    if hit is not None:
        return [(_own_name(p, hit[0]), p, *hit)]
    found = _search(p)
    if not found and searched:
        raise BgsubError(f"{p}: no videos found (video files, folders of numbered frames, CDnet/UCSD sequence "
                         "folders)")
    return found


def find_videos(inputs: Iterable[str], *, stdin: Optional[TextIO] = None) -> list[Video]:
    """The videos named by ``inputs`` (see the module docstring), in the order given (a searched folder's in
    name order), each once. ``-`` reads paths from ``stdin`` (one per line; blank lines skipped)."""
    items: list[tuple[str, Path, Path, Optional[Path]]] = []
    for arg in inputs:
        if arg == "-":
            if stdin is None:
                raise BgsubError("-: no standard input to read paths from")
            for line in stdin:
                line = line.rstrip("\r\n")
                if line.strip():
                    items += _expand_path(Path(line), searched=True)
        else:
            items += _expand(arg)
    if not items:
        raise BgsubError("no inputs given")
    unique: list[tuple[str, Path, Path, Optional[Path]]] = []
    seen: set[str] = set()
    for it in items:
        key = os.path.realpath(it[2])
        if key not in seen:
            seen.add(key)
            unique.append(it)
    count: dict[str, int] = {}
    for it in unique:
        count[it[0]] = count.get(it[0], 0) + 1
    videos = []
    for name, path, source, truth in unique:
        if count[name] > 1 or name in (RESULTS,):
            name = f"{name}-{hashlib.sha1(os.path.realpath(source).encode()).hexdigest()[:6]}"
        videos.append(Video(name, path, source, truth))
    return videos


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (1 <= I <= N) -> ``(I, N)``."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BgsubError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise BgsubError(f"--shard {text!r}: I must be between 1 and N")
    return i, n


def shard(videos: list[Video], i: int, n: int) -> list[Video]:
    """Every ``n``-th video starting with the ``i``-th (1-based): shards 1/N ... N/N partition the list."""
    return videos[i - 1 :: n]


# --------------------------------------------------------------------------------------------------------------
# the job


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing an earlier one (two renames: at every moment
    ``final`` is either the old complete folder, absent, or the new complete folder)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def process_video(
    source: str,
    out: str,
    name: str,
    *,
    method: str,
    cfg: Config,
    seed: int,
    truth: Optional[str] = None,
    marker: Optional[str] = None,
    threads: int = 0,
) -> dict[str, Any]:
    """Fit ``method`` on ``source``, segment it into ``out/name/bin%06d.png``, score it against the sequence
    folder ``truth`` if given; returns the record (also written as ``out/name/result.json``). Raises on failure,
    leaving ``out/name`` as it was. ``marker``: a file the driver created in ``out``; if this worker cannot see
    it, ``out`` is not shared with the driver (an error). ``threads`` > 0: torch threads for this job."""
    from bgsub.runtime import cpu_threads

    host = socket.gethostname()
    require_shared(marker, out)
    t0 = time.perf_counter()
    final = Path(out) / name
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{glob.escape(final.name)}.partial-*"):  # a killed earlier attempt's
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with torch_threads(threads):
            measured = run_one(method, Path(truth) if truth else Path(source), tmp, cfg=cfg, seed=seed,
                               score=truth is not None)
            used_threads = cpu_threads()  # torch's, or OpenCV's where the job did not import torch
        record = {"input": source, "name": name, "out": str(final), "method": method, "status": "ok",
                  "seconds": time.perf_counter() - t0, **measured, "config_hash": config_hash(cfg), "seed": seed,
                  "host": host, "pid": os.getpid(), "torch_threads": used_threads,
                  "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        atomic_write_bytes(tmp / RESULT, (json.dumps(record, indent=2, default=str) + "\n").encode())
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record


def finished(out: Path, video: Video, *, method: str, config_hash: str, seed: int) -> Optional[dict[str, Any]]:
    """The record of an earlier run of the same job in ``out``, if it finished; else None."""
    path = out / video.name / RESULT
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = (isinstance(rec, dict) and rec.get("status") == "ok" and rec.get("method") == method
            and rec.get("config_hash") == config_hash and rec.get("seed") == seed
            and rec.get("input") == os.path.abspath(video.source))
    return rec if same else None


# --------------------------------------------------------------------------------------------------------------
# the driver


Event = Callable[[dict[str, Any], dict[str, Any]], None]


def _append_line(path: Path, rec: dict[str, Any]) -> None:
    """One JSON line appended with a single write (so shards appending to one file do not interleave)."""
    data = (json.dumps(rec, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def batch(
    inputs: Iterable[str],
    out: str | os.PathLike,
    *,
    method: str = "unet-pretrained",
    cfg: Optional[Config] = None,
    engine: str = "local",
    engine_options: Optional[dict[str, Any]] = None,
    force: bool = False,
    shard_of: Optional[tuple[int, int]] = None,
    seed: Optional[int] = None,
    threads: int = 0,
    stdin: Optional[TextIO] = None,
    on_event: Optional[Event] = None,
) -> dict[str, Any]:
    """Run ``method`` on every video named by ``inputs`` (see the module docstring); outputs in ``out``.

    ``engine``: ``"local"`` or ``"ray"``, made with ``engine_options`` (see :func:`bgsub.engines.make_engine`)
    only when there is work to do, and closed at the end. ``shard_of=(I, N)``: only every N-th video from the
    I-th. ``seed`` (default ``cfg.train.seed``): which frames the method fits on. ``threads`` > 0: torch threads
    per job (default: the engine's share, ``cpus_per_job`` for Ray, else as is). ``on_event(record, progress)``
    is called for each video as it is skipped or finishes; ``progress`` = ``{"done", "total", "failed",
    "eta_seconds"}``. Returns ``{"out", "results", "total", "ran", "skipped", "failed", "records"}``.
    """
    from bgsub.engines import make_engine
    from bgsub.methods.base import available, is_registered

    cfg = cfg if cfg is not None else Config()
    seed = cfg.train.seed if seed is None else seed
    if not is_registered(method):
        raise BgsubError(f"unknown method {method!r} (valid: {', '.join(available()) or 'none'})")
    videos = find_videos(inputs, stdin=stdin)
    if shard_of is not None:
        videos = shard(videos, *shard_of)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BgsubError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    chash = config_hash(cfg)
    notify = on_event or (lambda rec, progress: None)
    total = len(videos)
    records: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    todo: list[Video] = []
    for v in videos:
        prev = None if force else finished(out, v, method=method, config_hash=chash, seed=seed)
        if prev is None:
            todo.append(v)
            continue
        rec = dict(prev, status="skipped")
        records.append(rec)
        notify(rec, {"done": len(records), "total": total, "failed": 0, "eta_seconds": None})
    skipped = len(records)
    if todo:
        from bgsub.io.atomic import make_marker

        marker = make_marker(out, "batch")
        eng = None
        try:
            eng = make_engine(engine, **(engine_options or {}))
            per_job = threads
            if not per_job and eng.name != "local":  # a Ray task gets as many torch threads as CPUs it asked for
                per_job = max(1, int(round(getattr(eng, "cpus_per_job", 1))))
            by_name = {v.name: v for v in todo}
            for v in todo:  # absolute paths: a worker on another machine does not share this cwd
                eng.submit(v.name, process_video, os.path.abspath(v.source), os.path.abspath(out), v.name,
                           method=method, cfg=cfg, seed=seed, truth=os.path.abspath(v.truth) if v.truth else None,
                           marker=os.path.abspath(marker), threads=per_job)
            t0 = time.perf_counter()
            ran = 0
            for o in eng.results():
                v = by_name[o.key]
                if o.ok:
                    rec = o.value
                else:
                    rec = {"input": os.path.abspath(v.source), "name": v.name,
                           "out": os.path.abspath(out / v.name), "method": method,
                           "status": "failed", "error": o.error, "seconds": o.seconds, "config_hash": chash,
                           "seed": seed,
                           "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
                    failed.append(rec)
                _append_line(results, rec)
                records.append(rec)
                ran += 1
                left = len(todo) - ran
                eta = (time.perf_counter() - t0) / ran * left
                notify(rec, {"done": len(records), "total": total, "failed": len(failed), "eta_seconds": eta})
        finally:
            marker.unlink(missing_ok=True)
            if eng is not None:
                eng.close()
    return {"out": str(out), "results": str(results), "total": total, "ran": len(records) - skipped,
            "skipped": skipped, "failed": failed, "records": records}
