"""bgsub evaluate: pairing by frame number, the CDnet label policy, ROI and temporalROI, palette PNGs, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bgsub.api import evaluate
from bgsub.errors import BgsubError


def _png(path: Path, a: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), a.astype(np.uint8))
    return path


def _palette_png(path: Path, index: np.ndarray, palette: list[tuple[int, int, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(index.astype(np.uint8), mode="P")
    flat = [c for rgb in palette for c in rgb]
    im.putpalette(flat + [0] * (768 - len(flat)))
    im.save(path)
    return path


# One 2x5 ground-truth frame holding every CDnet label, and a prediction that is positive on the top row.
GT = np.array([[0, 50, 85, 170, 255], [0, 50, 85, 170, 255]], dtype=np.uint8)
PRED = np.array([[255, 255, 255, 255, 255], [0, 0, 0, 0, 0]], dtype=np.uint8)


def _cdnet_seq(root: Path, frames=(1, 2, 3), temporal=(2, 3), roi: np.ndarray | None = None) -> Path:
    seq = root / "seq"
    for n in frames:
        _png(seq / "groundtruth" / f"gt{n:06d}.png", GT)
    (seq / "temporalROI.txt").write_text(f"{temporal[0]} {temporal[1]}\n")
    _png(seq / "ROI.bmp", roi if roi is not None else np.full(GT.shape, 255))
    return seq


def _pred(root: Path, frames=(1, 2, 3), a=PRED) -> Path:
    for n in frames:
        _png(root / "pred" / f"bin{n:06d}.png", a)
    return root / "pred"


def test_cdnet_labels_counted_by_policy(tmp_path):
    seq = _cdnet_seq(tmp_path, temporal=(1, 1))
    r = evaluate(_pred(tmp_path), cdnet=seq)
    # scored pixels: 0 and 50 (negative), 255 (positive); 85 and 170 ignored.
    # top row: pred 1 on 0, 50 -> FP 2; on 255 -> TP 1. bottom row: pred 0 on 0, 50 -> TN 2; on 255 -> FN 1.
    assert r["frames"] == 1
    assert r["counts"] == {"tp": 1, "fp": 2, "fn": 1, "tn": 2}
    assert r["scores"]["precision"] == pytest.approx(1 / 3)
    assert r["scores"]["recall"] == pytest.approx(0.5)
    assert r["scores"]["f_measure"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert r["scores"]["pwc"] == pytest.approx(100 * 3 / 6)
    assert r["scores"]["specificity"] == pytest.approx(0.5)


def test_binary_policy_without_sequence(tmp_path):
    gt = tmp_path / "gt"
    _png(gt / "gt000001.png", GT)  # > 127: 170 and 255 positive; nothing ignored
    r = evaluate(_pred(tmp_path, frames=(1,)), gt)
    assert r["policy"] == "binary"
    # top row: pred 1 on 0,50,85 -> FP 3; on 170,255 -> TP 2. bottom: FN 2, TN 3
    assert r["counts"] == {"tp": 2, "fp": 3, "fn": 2, "tn": 3}


def test_temporal_roi_limits_scored_frames(tmp_path):
    seq = _cdnet_seq(tmp_path, frames=(1, 2, 3, 4), temporal=(2, 3))
    r = evaluate(_pred(tmp_path, frames=(1, 2, 3, 4)), seq)  # a sequence folder given as --gt is detected
    assert (r["frames"], r["first_frame"], r["last_frame"]) == (2, 2, 3)
    assert r["counts"] == {"tp": 2, "fp": 4, "fn": 2, "tn": 4}
    r2 = evaluate(_pred(tmp_path, frames=(1, 2, 3, 4)), seq / "groundtruth")  # ... and its groundtruth/ too
    assert r2["counts"] == r["counts"] and r2["policy"] == "cdnet"


def test_roi_excludes_pixels(tmp_path):
    roi = np.full(GT.shape, 255, np.uint8)
    roi[:, 4] = 0  # the 255 column is outside the ROI
    seq = _cdnet_seq(tmp_path, temporal=(1, 1), roi=roi)
    r = evaluate(_pred(tmp_path), cdnet=seq)
    assert r["counts"] == {"tp": 0, "fp": 2, "fn": 0, "tn": 2}
    assert r["scores"]["recall"] == 1.0  # nothing to find: stated rule
    assert r["scores"]["precision"] == 0.0


def test_palette_pngs_read_as_labels(tmp_path):
    seq = tmp_path / "seq"
    # Grey palette whose index differs from the grey value (like CDnet's ROI.bmp, whose index 0 is white).
    pal = [(255, 255, 255), (0, 0, 0), (50, 50, 50), (85, 85, 85), (170, 170, 170)]
    idx = np.array([[1, 2, 3, 4, 0], [1, 2, 3, 4, 0]])
    _palette_png(seq / "groundtruth" / "gt000001.png", idx, pal)
    _palette_png(seq / "ROI.bmp", np.zeros(GT.shape), [(255, 255, 255)])  # index 0 -> white -> all inside
    (seq / "temporalROI.txt").write_text("1 1\n")
    r = evaluate(_pred(tmp_path, frames=(1,)), cdnet=seq)
    assert r["counts"] == {"tp": 1, "fp": 2, "fn": 1, "tn": 2}  # same as the plain-label case


def test_colour_palette_read_as_indices(tmp_path):
    gt = tmp_path / "gt"
    # colour palette: index 255 is pure red, whose luminance (76) would read as background
    pal = [(0, 0, 0)] * 255 + [(255, 0, 0)]
    _palette_png(gt / "gt000001.png", np.array([[255, 255, 255, 255, 255], [0, 0, 0, 0, 0]]), pal)
    r = evaluate(_pred(tmp_path, frames=(1,)), gt)
    assert r["counts"] == {"tp": 5, "fp": 0, "fn": 0, "tn": 5}


def test_pairs_unpadded_and_padded_numbers(tmp_path):
    gt = tmp_path / "gt"
    for n in (1, 2, 10):
        _png(gt / f"gt{n:04d}.png", GT)
    pred = tmp_path / "pred"
    for n in (1, 2, 10):
        _png(pred / f"frame_{n}.png", PRED)
    r = evaluate(pred, gt, per_frame=True)
    assert r["frames"] == 3
    assert [row["frame"] for row in r["per_frame"]] == [1, 2, 10]


def test_per_frame_rule_for_frames_without_positives(tmp_path):
    gt = tmp_path / "gt"
    _png(gt / "gt000001.png", np.zeros((2, 2)))
    _png(gt / "gt000002.png", np.zeros((2, 2)))
    pred = tmp_path / "pred"
    _png(pred / "bin000001.png", np.zeros((2, 2)))  # nothing to find, nothing found: F = 1
    _png(pred / "bin000002.png", np.array([[255, 0], [0, 0]]))  # nothing to find, one false alarm: F = 0
    rows = evaluate(pred, gt, per_frame=True)["per_frame"]
    assert (rows[0]["precision"], rows[0]["recall"], rows[0]["f_measure"]) == (1.0, 1.0, 1.0)
    assert (rows[1]["precision"], rows[1]["recall"], rows[1]["f_measure"]) == (0.0, 1.0, 0.0)


def test_run_folder_with_fg_images_uses_bin_files(tmp_path):
    gt = tmp_path / "gt"
    _png(gt / "gt000001.png", GT)
    pred = _pred(tmp_path, frames=(1,))
    _png(pred / "fg000001.png", np.full(GT.shape, 255))
    assert evaluate(pred, gt)["counts"]["tp"] == 2


# --- errors: one line, exit code 1 -----------------------------------------------------------------------


def test_error_missing_path(tmp_path, cli):
    r = cli("evaluate", tmp_path / "nope", "--gt", tmp_path)
    assert r.code == 1
    assert r.stderr.strip() == f"bgsub: error: {tmp_path / 'nope'}: no such folder"
    r = cli("evaluate", _pred(tmp_path), "--gt", tmp_path / "nogt")
    assert r.code == 1 and "nogt: no such file or folder" in r.stderr


def test_error_no_files(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    r = cli("evaluate", tmp_path / "empty", "--gt", tmp_path / "empty")
    assert r.code == 1
    assert "empty: no numbered image files" in r.stderr and "Traceback" not in r.stderr


def test_error_no_common_frames_says_counts(tmp_path, cli):
    gt = tmp_path / "gt"
    for n in (7, 8):
        _png(gt / f"gt{n:06d}.png", GT)
    r = cli("evaluate", _pred(tmp_path, frames=(1, 2, 3)), "--gt", gt)
    assert r.code == 1
    assert "no frame numbers in common" in r.stderr
    assert "has 3 (1..3)" in r.stderr and "has 2 (7..8)" in r.stderr


def test_error_size_mismatch_names_both_files(tmp_path, cli):
    gt = tmp_path / "gt"
    _png(gt / "gt000001.png", np.zeros((4, 4)))
    pred = _pred(tmp_path, frames=(1,))
    r = cli("evaluate", pred, "--gt", gt)
    assert r.code == 1
    assert "size mismatch" in r.stderr
    assert "bin000001.png is 5x2" in r.stderr and "gt000001.png is 4x4" in r.stderr


def test_error_unreadable_image(tmp_path, cli):
    gt = tmp_path / "gt"
    _png(gt / "gt000001.png", GT)
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "bin000001.png").write_bytes(b"not a png at all")
    r = cli("evaluate", pred, "--gt", gt)
    assert r.code == 1
    assert "bin000001.png: unreadable image" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_usage_error_exit_2(cli):
    assert cli("evaluate").code == 2
    assert cli("evaluate", "a", "--no-such-option").code == 2


def test_json_output_is_clean_stdout(small_clip, cli):
    r = cli("evaluate", small_clip / "groundtruth", "--gt", small_clip, "--json")
    assert r.code == 0
    data = json.loads(r.stdout)
    assert data["scores"]["f_measure"] == 1.0
    assert data["frames"] == 40 - 4  # temporalROI of a 40-frame synth clip is 5..40


def test_table_output(small_clip, cli):
    r = cli("evaluate", small_clip / "groundtruth", "--gt", small_clip, "--per-frame")
    assert r.code == 0
    assert "F-measure" in r.stdout and "1.0000" in r.stdout
    assert "Per frame" in r.stdout


def test_api_raises_bgsub_error(tmp_path):
    with pytest.raises(BgsubError):
        evaluate(tmp_path / "missing", tmp_path)
