"""bgsub evaluate with prediction files missing (issue 11): a method that died halfway must not look perfect."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bgsub.api import evaluate
from bgsub.io.layout import read_labels


def _perfect_predictions(seq: Path, out: Path) -> Path:
    """The ground truth itself as predictions (255 -> foreground; CDnet's other labels -> background)."""
    import cv2

    out.mkdir(parents=True)
    for gt in sorted((seq / "groundtruth").iterdir()):
        n = int("".join(c for c in gt.stem if c.isdigit()))
        cv2.imwrite(str(out / f"bin{n:06d}.png"), ((read_labels(gt) == 255) * 255).astype(np.uint8))
    return out


def _reference_counts(seq: Path, pred: Path, frames: list[int]) -> dict[str, int]:
    """CDnet counts written out in NumPy: missing prediction = nothing detected."""
    roi = read_labels(seq / "ROI.bmp") > 127
    tp = fp = fn = tn = 0
    for n in frames:
        g = read_labels(seq / "groundtruth" / f"gt{n:06d}.png")
        p_path = pred / f"bin{n:06d}.png"
        p = read_labels(p_path) > 127 if p_path.exists() else np.zeros(g.shape, bool)
        valid = ((g == 0) | (g == 50) | (g == 255)) & roi
        pos = g == 255
        tp += int((p & pos & valid).sum())
        fp += int((p & ~pos & valid).sum())
        fn += int((~p & pos & valid).sum())
        tn += int((~p & ~pos & valid).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


@pytest.fixture
def half_deleted(tmp_path, small_clip):
    pred = _perfect_predictions(small_clip, tmp_path / "pred")
    a, b = (int(x) for x in (small_clip / "temporalROI.txt").read_text().split())
    scored = list(range(a, b + 1))
    gone = scored[len(scored) // 2:]
    for n in gone:
        (pred / f"bin{n:06d}.png").unlink()
    return pred, scored, gone


def test_missing_predictions_count_as_empty_masks_by_default(small_clip, half_deleted):
    pred, scored, gone = half_deleted
    r = evaluate(pred, small_clip)
    assert r["missing"] == len(gone)
    assert r["frames"] == len(scored)
    assert r["counts"] == _reference_counts(small_clip, pred, scored)
    assert r["counts"]["fn"] > 0 and r["scores"]["f_measure"] < 0.95


def test_allow_missing_scores_only_the_frames_present(small_clip, half_deleted):
    pred, scored, gone = half_deleted
    r = evaluate(pred, small_clip, allow_missing=True)
    kept = [n for n in scored if n not in gone]
    assert r["missing"] == len(gone) and r["frames"] == len(kept)
    assert r["counts"] == _reference_counts(small_clip, pred, kept)
    assert r["scores"]["f_measure"] == 1.0


def test_cli_text_shows_the_missing_count_beside_the_scores(small_clip, half_deleted, cli):
    pred, scored, gone = half_deleted
    r = cli("evaluate", pred, "--gt", small_clip)
    assert r.code == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if "Missing" in ln]
    assert line and str(len(gone)) in line[0] and "empty mask" in line[0]
    assert "no prediction" in r.stderr
    j = json.loads(cli("evaluate", pred, "--gt", small_clip, "--json", "--allow-missing").stdout)
    assert j["missing"] == len(gone) and j["scores"]["f_measure"] == 1.0
    j = json.loads(cli("evaluate", pred, "--gt", small_clip, "--json").stdout)
    assert j["scores"]["f_measure"] < 0.95


def test_nothing_missing_reports_zero(tmp_path, small_clip, cli):
    pred = _perfect_predictions(small_clip, tmp_path / "pred")
    r = cli("evaluate", pred, "--gt", small_clip)
    assert r.code == 0 and "no prediction" not in r.stderr
    assert [ln for ln in r.stdout.splitlines() if "Missing predictions" in ln and " 0 " in ln]
