"""``bgsub benchmark``: every method on every sequence of a data folder, scored the CDnet way."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from typing_extensions import Annotated

from bgsub.cli.common import (ConfigOpt, JsonOpt, SetOpt, ThreadsOpt, app, emit, err_console, log, resolve_config,
                              set_threads)
from bgsub.cli.engine import AddressOpt, CpusOpt, EngineOpt, GpusOpt, RetriesOpt, WorkersOpt, engine_choice
from bgsub.errors import BgsubError


def _table(rows: dict[tuple[str, str], dict[str, Any]]) -> Table:
    t = Table(title="bgsub benchmark", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for h in ("Sequence", "Method", "Status"):
        t.add_column(h, no_wrap=True)
    for h in ("P", "R", "F", "PWC", "Train s", "Seg s", "FPS"):
        t.add_column(h, justify="right", no_wrap=True)
    for (seq, m), r in rows.items():
        if r.get("status") == "ok":
            s = r["scores"]
            t.add_row(seq, m, r["_shown"], f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f_measure']:.3f}",
                      f"{s['pwc']:.2f}", f"{r['train_seconds']:.0f}", f"{r['segment_seconds']:.1f}", f"{r['fps']:.0f}")
        else:
            t.add_row(seq, m, r["_shown"], *([""] * 7))
    return t


@app.command(
    help="Benchmark methods on every sequence folder under DATA_DIR (CDnet input/ or UCSD in/ layout, with "
    "groundtruth/), scored like `bgsub evaluate --cdnet`. Writes OUT/results.json, OUT/results.md, the masks in "
    "OUT/<sequence>/<method>/ and a contact sheet OUT/<sequence>/contact.png. Pairs already finished under the same "
    "config are skipped unless --force; --config/--set apply to every method, --method-config gives one method "
    "its own preset (e.g. unet=cpu-fast, so the U-Net's CPU settings do not change the baselines); a method failing on one sequence is recorded and the run goes on (exit 1 at "
    "the end). The seed (frames a method fits on; KNN's random schedule) is train.seed. Each (sequence, method) "
    "pair is a job: --engine local (default) runs them here one at a time, --engine ray in parallel on a local Ray "
    "instance or a cluster (see bgsub batch --help). Prints the path of results.md (or the results as --json); "
    "progress goes to stderr."
)
def benchmark(
    data_dir: Annotated[Path, typer.Argument(help="Folder holding sequence folders (or one sequence folder).")],
    methods: Annotated[str, typer.Option("--methods", "-m", help="Comma-separated method names.")] = "unet,unet-pretrained,consensus,median,reference,rpca-ialm,mog2,knn",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("benchmark"),
    force: Annotated[bool, typer.Option("--force", help="Re-run pairs that already finished.")] = False,
    threads: ThreadsOpt = None,
    contact: Annotated[int, typer.Option("--contact", help="Frames per contact sheet (0: none).")] = 3,
    method_config: Annotated[Optional[list[str]], typer.Option(
        "--method-config", help="METHOD=PRESET: that method's own preset instead of --config, e.g. unet=cpu-fast "
        "(repeatable; --set applies to it too).")] = None,
    label_frames: Annotated[Optional[int], typer.Option(
        "--label-frames", help="The U-Net also trains on K ground-truth masks of each sequence (spread, seeded; "
        "those frames are left out of its scoring); 0 = unsupervised (train.label_frames).")] = None,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    cpus_per_video: CpusOpt = None,
    gpus_per_video: GpusOpt = 0.0,
    retries: RetriesOpt = 3,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.api import benchmark as run

    engine_name, engine_options = engine_choice(engine, address, workers, cpus_per_video, gpus_per_video, retries)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    set_threads(threads)
    cfg = resolve_config(config, sets, train__label_frames=label_frames)
    per_method = {}
    for item in method_config or []:
        name, sep, preset = item.partition("=")
        if not sep or not name.strip() or not preset.strip():
            raise BgsubError(f"--method-config {item!r}: expected METHOD=PRESET, e.g. unet=cpu-fast")
        per_method[name.strip()] = resolve_config(Path(preset.strip()), sets, train__label_frames=label_frames)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    # Not a terminal (a log file, CI): no live redraw, the final table once, wide enough not to be cut.
    console = err_console if err_console.is_terminal else Console(stderr=True, width=120)
    live: Optional[Live] = None  # drawn at the first event, so input errors print no empty table

    def on_event(kind: str, rec: dict[str, Any]) -> None:
        nonlocal live
        if live is None:
            live = Live(_table(rows), console=console, refresh_per_second=2, transient=False)
            live.start()
        shown = {"queued": "queued", "start": "running", "skip": "kept", "done": "ok", "failed": "FAILED"}[kind]
        rows[(rec["sequence"], rec["method"])] = {**rec, "_shown": shown}
        live.update(_table(rows))
        if not console.is_terminal and kind in ("done", "failed"):  # a line per run in logs
            what = (f"F {rec['scores']['f_measure']:.3f}, {rec['wall_seconds']:.1f} s" if kind == "done"
                    else rec.get("error", ""))
            log.info("%s / %s: %s (%s)", rec["sequence"], rec["method"], shown, what)

    try:
        result = run(data_dir, methods=names, out=out, cfg=cfg, method_configs=per_method, force=force,
                     contact_frames=contact, on_event=on_event, engine=engine_name, engine_options=engine_options,
                     threads=threads or 0)
    finally:
        if live is not None:
            live.stop()
    emit(result, as_json, lambda r: typer.echo(r["results_md"]))
    if result["failed"]:
        first = result["failed"][0]
        raise BgsubError(f"{len(result['failed'])} of {result['ran'] + result['skipped']} runs failed (first: "
                         f"{first['method']} on {first['sequence']}: {first.get('error')}); see {result['results_md']}")
