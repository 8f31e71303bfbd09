"""Scoring a folder of predicted masks against ground truth, paired by frame number."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from bgsub.errors import BgsubError
from bgsub.io.frames import numbered_files
from bgsub.io.layout import find_ground_truth, read_labels, split_labels
from bgsub.metrics import Counts, confusion, scores

log = logging.getLogger("bgsub")


def _span(nums: list[int]) -> str:
    return f"{nums[0]}..{nums[-1]}" if nums else "none"


def evaluate(
    pred: str | Path,
    gt: Optional[str | Path] = None,
    *,
    cdnet: Optional[str | Path] = None,
    policy: Optional[str] = None,
    per_frame: bool = False,
    allow_missing: bool = False,
) -> dict[str, Any]:
    """Score the masks in ``pred`` (> 127 = foreground; only the ``bin*`` files if there are any) against ground truth (see
    :func:`bgsub.io.layout.find_ground_truth` for ``gt``/``cdnet``/``policy``).

    Returns a dict: ``frames`` scored, ``counts`` (TP/FP/FN/TN summed over frames: micro, the CDnet convention),
    ``scores`` (precision, recall, f_measure, specificity, fpr, fnr, pwc), ``missing`` (scored ground-truth
    frames without a prediction), and with ``per_frame`` one row per frame.

    Missing predictions: by default a scored ground-truth frame with no prediction file counts as an *empty*
    mask (nothing detected), so a run that stopped halfway, or a folder copied in part, cannot look perfect.
    ``allow_missing=True`` scores only the frames that have a prediction (the frames without one are left out).
    """
    pred = Path(pred)
    if not pred.exists():
        raise BgsubError(f"{pred}: no such folder")
    if not pred.is_dir():
        raise BgsubError(f"{pred}: not a folder of masks")
    # A run folder may also hold fg/bg images: the masks are the bin* files when there are any.
    has_bin = any(e.name.startswith("bin") for e in os.scandir(pred))
    pred_files = numbered_files(pred, prefix="bin" if has_bin else None)
    if not pred_files:
        raise BgsubError(f"{pred}: no numbered image files")
    truth = find_ground_truth(Path(gt) if gt is not None else None, Path(cdnet) if cdnet is not None else None, policy)
    scored = truth.scored_numbers()
    common = [n for n in scored if n in pred_files]
    missing = [n for n in scored if n not in pred_files]
    if not common:
        where = f" within temporalROI {truth.temporal[0]}..{truth.temporal[1]}" if truth.temporal else ""
        raise BgsubError(
            f"no frame numbers in common: {pred} has {len(pred_files)} ({_span(list(pred_files))}), "
            f"{truth.folder} has {len(scored)}{where} ({_span(scored)})"
        )
    if missing:
        how = "left out (--allow-missing)" if allow_missing else "scored as empty masks"
        log.warning("%d of %d scored ground-truth frames have no prediction: %s (first: %d)",
                    len(missing), len(scored), how, missing[0])
    total = Counts()
    rows = []
    for n in (common if allow_missing else scored):
        gt_labels = read_labels(truth.files[n])
        p = read_labels(pred_files[n]) if n in pred_files else np.zeros_like(gt_labels)
        if p.shape != gt_labels.shape:
            raise BgsubError(
                f"size mismatch: {pred_files[n]} is {p.shape[1]}x{p.shape[0]}, "
                f"{truth.files[n]} is {gt_labels.shape[1]}x{gt_labels.shape[0]}"
            )
        positive, valid = split_labels(gt_labels, truth.policy, where=str(truth.files[n]))
        if truth.roi is not None:
            if truth.roi.shape != gt_labels.shape:
                raise BgsubError(
                    f"size mismatch: {truth.roi_path} is {truth.roi.shape[1]}x{truth.roi.shape[0]}, "
                    f"{truth.files[n]} is {gt_labels.shape[1]}x{gt_labels.shape[0]}"
                )
            valid = valid & truth.roi
        c = confusion(p > 127, positive, valid)
        total = total + c
        if per_frame:
            rows.append({"frame": n, **c.as_dict(), **scores(c)})
    result: dict[str, Any] = {
        "pred": str(pred),
        "gt": str(truth.folder),
        "policy": truth.policy,
        "roi": str(truth.roi_path) if truth.roi_path else None,
        "temporal_roi": list(truth.temporal) if truth.temporal else None,
        "frames": len(common) if allow_missing else len(scored),
        "first_frame": common[0] if allow_missing else scored[0],
        "last_frame": common[-1] if allow_missing else scored[-1],
        "missing": len(missing),
        "missing_policy": "left out" if allow_missing else "empty mask",
        "counts": total.as_dict(),
        "scores": scores(total),
    }
    if per_frame:
        result["per_frame"] = rows
    return result
