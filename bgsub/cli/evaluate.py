"""``bgsub evaluate``: precision, recall, F-measure ... of masks against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from typing_extensions import Annotated

from bgsub.cli.common import JsonOpt, app, emit, out_console
from bgsub.metrics import METRICS

_HEAD = {"precision": "Precision", "recall": "Recall", "f_measure": "F-measure", "specificity": "Specificity",
         "fpr": "FPR", "fnr": "FNR", "pwc": "PWC"}


def _render(r: dict[str, Any]) -> None:
    t = Table(title=f"{r['pred']} vs {r['gt']} ({r['policy']} labels)", title_justify="left")
    t.add_column("Metric")
    t.add_column("Value", justify="right")
    c, s = r["counts"], r["scores"]
    t.add_row("Frames", f"{r['frames']} ({r['first_frame']}..{r['last_frame']})")
    miss = r.get("missing", 0)
    t.add_row("Missing predictions", f"{miss}" + (f" ({r.get('missing_policy')})" if miss else ""))
    for k in ("tp", "fp", "fn", "tn"):
        t.add_row(k.upper(), str(c[k]))
    for m in METRICS:
        t.add_row(_HEAD[m], f"{s[m]:.4f}")
    out_console.print(t)
    if r.get("per_frame"):
        pf = Table(title="Per frame (empty denominators: P = 1 with no detections, R = 1 with nothing to find)",
                   title_justify="left")
        for h in ("Frame", "TP", "FP", "FN", "TN", "Precision", "Recall", "F-measure"):
            pf.add_column(h, justify="right")
        for row in r["per_frame"]:
            pf.add_row(str(row["frame"]), *(str(row[k]) for k in ("tp", "fp", "fn", "tn")),
                       *(f"{row[m]:.4f}" for m in ("precision", "recall", "f_measure")))
        out_console.print(pf)


@app.command(
    help="Score predicted masks against ground truth, pairing files by frame number.\n\n"
    "PRED is a folder of masks (> 127 = foreground), e.g. bin000123.png. Ground truth: --gt FOLDER of masks "
    "(> 127 positive), or a CDnet-style sequence (--cdnet SEQ, or --gt SEQ or SEQ/groundtruth), scored the CDnet "
    "way: 255 positive, 0 and 50 negative, 85 and 170 ignored, pixels outside ROI.bmp ignored, only frames in "
    "temporalROI.txt. Counts are summed over frames before scoring (micro, the CDnet convention)."
)
def evaluate(
    pred: Annotated[Path, typer.Argument(help="Folder of predicted masks.")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Ground-truth folder (or CDnet sequence folder).")] = None,
    cdnet: Annotated[Optional[Path], typer.Option("--cdnet", help="CDnet-style sequence folder.")] = None,
    labels: Annotated[Optional[str], typer.Option("--labels", help="Force a label policy: cdnet or binary.")] = None,
    per_frame: Annotated[bool, typer.Option("--per-frame", help="Add one row per frame.")] = False,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Score only the frames that have a prediction (default: a scored frame with no "
        "prediction counts as an empty mask).")] = False,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.api import evaluate as run

    result = run(pred, gt, cdnet=cdnet, policy=labels, per_frame=per_frame, allow_missing=allow_missing)
    emit(result, as_json, _render)
