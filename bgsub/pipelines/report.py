"""The files a benchmark writes (:mod:`bgsub.pipelines.benchmark` runs it): ``OUT/results.json``, read back to
resume and rewritten after every run; ``OUT/results.md``, the same records as markdown tables (per sequence, mean
over sequences, failures, environment); and ``OUT/<sequence>/contact.png``, a few scored frames, one row per
method (see :mod:`bgsub.viz`), together with the choice of those frames before any run.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from pathlib import Path
from typing import Any

import yaml

from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes

__all__ = ["RESULTS_JSON", "RESULTS_MD", "SCHEMA", "SCORES", "load_results", "render_markdown", "write_results"]

log = logging.getLogger("bgsub")

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
SCHEMA = 1
SCORES = ("precision", "recall", "f_measure", "pwc")


# --------------------------------------------------------------------------------------------------------------
# results files


def load_results(out: str | os.PathLike) -> dict[str, Any]:
    """The records of an earlier run in ``out`` (an empty set if there is none)."""
    path = Path(out) / RESULTS_JSON
    if not path.is_file():
        return {"schema": SCHEMA, "environment": None, "records": []}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BgsubError(f"{path}: unreadable results file ({exc.__class__.__name__}); move it away or use a "
                         "new output folder") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise BgsubError(f"{path}: not a bgsub benchmark results file")
    return data


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def render_markdown(data: dict[str, Any]) -> str:
    """``results.md``: per-sequence table, mean over sequences per method, failures, environment."""
    env = data.get("environment") or {}
    recs = sorted(data["records"], key=lambda r: (r["sequence"], r["method"]))
    per_method = {m: c["config_hash"] for m, c in (env.get("method_configs") or {}).items()}
    base_hash = env.get("config_hash")
    lines = ["# Benchmark results", ""]
    lines.append("CDnet scoring (positive = 255; 0 and 50 negative; 85, 170 and pixels outside ROI.bmp ignored; "
                 "frames in temporalROI.txt only; counts summed over frames). Precision, recall and F-measure "
                 "in [0, 1]; PWC in percent. Train: fitting time (U-Net training on sampled frames; 0 for methods "
                 "that learn nothing). Segment: the whole video, reading frames and writing masks included; "
                 "FPS = frames / segment time.")
    lines.append("")
    lines.append("| Sequence | Method | Precision | Recall | F-measure | PWC | Train (s) | Segment (s) | FPS | Frames |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    stale = False
    for r in recs:
        mark = ""
        current = per_method.get(r["method"], base_hash)
        if current and r.get("config_hash") != current:
            mark, stale = " *", True
        if r["status"] == "ok":
            s = r["scores"]
            lines.append(
                f"| {r['sequence']} | {r['method']}{mark} | {_fmt(s['precision'])} | {_fmt(s['recall'])} | "
                f"{_fmt(s['f_measure'])} | {_fmt(s['pwc'], 3)} | {_fmt(r['train_seconds'], 1)} | "
                f"{_fmt(r['segment_seconds'], 1)} | {_fmt(r['fps'], 1)} | {r['frames']} |"
            )
        else:
            lines.append(f"| {r['sequence']} | {r['method']}{mark} | failed | | | | | | | |")
    if stale:
        lines += ["", "\\* run under another config than the one listed below for its method (config_hash differs)."]
    ok = [r for r in recs if r["status"] == "ok"]
    methods = sorted({r["method"] for r in ok})
    if ok:
        lines += ["", "## Mean over sequences", "",
                  "Unweighted mean of the per-sequence scores (each sequence counts once).", "",
                  "| Method | Sequences | Precision | Recall | F-measure | PWC | FPS |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for m in methods:
            rs = [r for r in ok if r["method"] == m]
            mean = {k: sum(r["scores"][k] for r in rs) / len(rs) for k in SCORES}
            frames = sum(r["frames"] for r in rs)
            secs = sum(r["segment_seconds"] for r in rs)
            fps = frames / secs if secs > 0 else None
            lines.append(f"| {m} | {len(rs)} | {_fmt(mean['precision'])} | {_fmt(mean['recall'])} | "
                         f"{_fmt(mean['f_measure'])} | {_fmt(mean['pwc'], 3)} | {_fmt(fps, 1)} |")
    failed = [r for r in recs if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            lines.append(f"- {r['sequence']} / {r['method']}: {r.get('error', '?')}")
    if env:
        v = env.get("versions", {})
        lines += ["", "## Environment", "",
                  f"- date: {env.get('date')}",
                  f"- device: {env.get('device')}; CPU {env.get('cpu')} ({env.get('cpu_count')} visible; torch threads "
                  f"{env.get('torch_threads')}, OpenCV threads {env.get('opencv_threads')})",
                  "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
                  f"- platform: {env.get('platform')}",
                  f"- seed: {env.get('seed')}", "",
                  f"<details><summary>resolved config {env.get('config_hash')}"
                  + (f" (all methods but {', '.join(env['method_configs'])})" if env.get("method_configs") else "")
                  + "; also in each run folder's config.yaml</summary>", "", "```yaml",
                  yaml.safe_dump(env.get("config"), sort_keys=False).rstrip(), "```", "", "</details>"]
        for m, c in (env.get("method_configs") or {}).items():
            lines += ["", f"<details><summary>{m}: its own config {c['config_hash']}</summary>", "", "```yaml",
                      yaml.safe_dump(c["config"], sort_keys=False).rstrip(), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def write_results(out: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    text = json.dumps(data, indent=2, default=str) + "\n"
    pj = atomic_write_bytes(out / RESULTS_JSON, text.encode())
    pm = atomic_write_bytes(out / RESULTS_MD, render_markdown(data).encode())
    return pj, pm


# --------------------------------------------------------------------------------------------------------------
# contact sheets


def _one_line(exc: BaseException) -> str:
    from bgsub.engines import one_line

    return one_line(exc)


def _contact_frames(seq: Path, cfg: Config, count: int) -> list[int]:
    """The frames a contact sheet of ``seq`` will show (chosen from the ground truth alone, before any run, so
    only their |S| images need to be kept); [] when ``count`` is 0 or on any problem (a warning)."""
    if count <= 0:
        return []
    from bgsub.io.frames import list_frames
    from bgsub.io.layout import find_ground_truth
    from bgsub.viz import choose_frames

    try:
        truth = find_ground_truth(None, seq)
        have = set(list_frames(seq, start=cfg.input.start, end=cfg.input.end, stride=cfg.input.stride))
        return choose_frames(truth, [n for n in truth.scored_numbers() if n in have], count)
    except Exception as exc:  # pictures are a convenience; the numbers stand without them
        log.warning("%s: no contact sheet: %s", seq, _one_line(exc))
        return []


def _contact(seq_name: str, seq: Path, out: Path, methods: list[str], records: dict, frames: list[int]) -> None:
    """Write ``out/<sequence>/contact.png`` from the methods that finished; a failure here is only a warning."""
    from bgsub.io.masks import write_png
    from bgsub.viz import contact_sheet

    runs = {m: Path(records[(seq_name, m)]["out"]) for m in methods
            if records.get((seq_name, m), {}).get("status") == "ok"}
    if not runs:
        return
    try:
        sheet = contact_sheet(seq, runs, frames=frames)
        write_png(out / seq_name / "contact.png", sheet)
    except Exception as exc:  # pictures are a convenience; the numbers stand without them
        log.warning("%s: no contact sheet: %s", seq_name, _one_line(exc))
        log.debug("%s", traceback.format_exc())
