"""``bgsub batch``: one method over many videos, in this process or on Ray."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from bgsub.cli.common import ConfigOpt, SetOpt, app, log, resolve_config
from bgsub.cli.engine import AddressOpt, CpusOpt, EngineOpt, GpusOpt, RetriesOpt, WorkersOpt, engine_choice
from bgsub.errors import BgsubError


def _eta(seconds: Optional[float]) -> str:
    return "-" if seconds is None else str(_dt.timedelta(seconds=round(seconds)))


@app.command(
    help="Run a method over many videos: for each, fit, segment into OUT/<name>/bin%06d.png and score when it is "
    "a sequence folder with ground truth. INPUTS: video files, frame folders, CDnet/UCSD sequence folders, folders "
    "to search for them, globs, or - to read paths from stdin (find ... | bgsub batch - -o out). One JSON line per "
    "video on stdout as it finishes (also appended to OUT/results.jsonl); progress on stderr. Finished videos are "
    "skipped on rerun unless --force; a failing video is recorded and the run goes on (exit 1 at the end)."
)
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Videos, folders, globs, or - for paths on stdin.",
                                                metavar="INPUTS", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False)],
    method: Annotated[str, typer.Option("--method", "-m", help="Method name (see bgsub benchmark --help). Default "
                                        "unet-pretrained: the shipped network, no training per video (3-4x less "
                                        "time than unet for 0.01-0.03 less F on the sequences measured; README).")]
    = "unet-pretrained",
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    cpus_per_video: CpusOpt = None,
    gpus_per_video: GpusOpt = 0.0,
    retries: RetriesOpt = 3,
    shard: Annotated[Optional[str], typer.Option(
        "--shard", help="I/N: only every N-th video from the I-th (1 <= I <= N), for Slurm arrays or xargs.",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo videos that already finished.")] = False,
    threads: Annotated[int, typer.Option("--threads", min=0, help="Torch threads per video (0: the engine's "
                                         "default).")] = 0,
    config: ConfigOpt = None,
    sets: SetOpt = None,
) -> None:
    from bgsub.pipelines.batch import batch as run  # (not through bgsub.api, which imports every pipeline)
    from bgsub.pipelines.batch import parse_shard

    name, opts = engine_choice(engine, address, workers, cpus_per_video, gpus_per_video, retries)
    try:
        shard_of = parse_shard(shard) if shard is not None else None
    except BgsubError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None
    cfg = resolve_config(config, sets)

    def on_event(rec: dict[str, Any], p: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(rec, default=str) + "\n")
        sys.stdout.flush()
        what = rec["status"] if rec["status"] != "failed" else f"FAILED: {rec.get('error')}"
        secs = f", {rec['seconds']:.1f} s" if rec["status"] != "skipped" and rec.get("seconds") is not None else ""
        log.info("[%d/%d] %s: %s%s; %d failed; ETA %s", p["done"], p["total"], rec["name"], what, secs, p["failed"],
                 _eta(p["eta_seconds"]))

    result = run(inputs, out, method=method, cfg=cfg, engine=name, engine_options=opts, force=force,
                 shard_of=shard_of, threads=threads, stdin=sys.stdin, on_event=on_event)
    if result["failed"]:
        first = result["failed"][0]
        raise BgsubError(f"{len(result['failed'])} of {result['total']} videos failed (first: {first['name']}: "
                         f"{first.get('error')}); see {result['results']}")
    log.info("%d videos: %d ran, %d skipped; results in %s", result["total"], result["ran"], result["skipped"],
             result["results"])
