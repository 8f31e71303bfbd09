"""Sequence layouts in bgsub benchmark (issue 11): folders without temporalROI.txt / ROI.bmp are scored, folders
that cannot be are named on stderr, and a ROI.bmp of the wrong size stops the run before any method runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgsub.errors import BgsubError
from bgsub.io.layout import check_sequence, is_sequence_dir, read_labels, skip_reason
from bgsub.synth import synth


@pytest.fixture(scope="module")
def seq(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layout") / "seq"
    synth(out, height=32, width=40, frames=16, seed=5)
    return out


def _copy(seq: Path, dst: Path, *, drop=()) -> Path:
    shutil.copytree(seq, dst)
    for name in drop:
        (dst / name).unlink()
    return dst


def test_a_sequence_without_roi_files_is_scored_on_all_frames_and_whole_frames(tmp_path, seq, cli):
    data = tmp_path / "data"
    s = _copy(seq, data / "plain", drop=("ROI.bmp", "temporalROI.txt"))
    assert is_sequence_dir(s) and skip_reason(s) is None
    r = cli("benchmark", data, "-m", "mog2", "-o", tmp_path / "out", "--contact", "0", "--json")
    assert r.code == 0, r.stderr
    (rec,) = json.loads(r.stdout)["records"]
    assert rec["sequence"] == "plain" and rec["status"] == "ok"
    assert rec["scored_frames"] == 16 and rec["missing"] == 0
    # whole frames: every pixel of every frame labelled 0/50/255 counts (NumPy reference of the CDnet rules)
    valid = 0
    for g in sorted((s / "groundtruth").iterdir()):
        a = read_labels(g)
        valid += int(np.isin(a, (0, 50, 255)).sum())
    assert sum(rec["counts"].values()) == valid


def test_evaluate_gt_seq_works_without_roi_files(tmp_path, seq, cli):
    s = _copy(seq, tmp_path / "plain", drop=("ROI.bmp", "temporalROI.txt"))
    pred = tmp_path / "pred"
    pred.mkdir()
    for g in sorted((s / "groundtruth").iterdir()):
        cv2.imwrite(str(pred / g.name.replace("gt", "bin")), ((read_labels(g) == 255) * 255).astype(np.uint8))
    r = cli("evaluate", pred, "--gt", s, "--json")
    assert r.code == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["frames"] == 16 and j["scores"]["f_measure"] == 1.0 and j["policy"] == "cdnet"


def test_folders_that_cannot_be_scored_are_named_on_stderr(tmp_path, seq, cli):
    data = tmp_path / "data"
    _copy(seq, data / "good")
    bad = _copy(seq, data / "no-frames")
    shutil.rmtree(bad / "input")
    nogt = _copy(seq, data / "no-gt")
    shutil.rmtree(nogt / "groundtruth")
    r = cli("benchmark", data, "-m", "mog2", "-o", tmp_path / "out", "--contact", "0", "--json")
    assert r.code == 0, r.stderr
    assert [x["sequence"] for x in json.loads(r.stdout)["records"]] == ["good"]
    assert f"{bad}: skipped: it has groundtruth/ but no folder of frames (input/ or in/)" in r.stderr
    assert f"{nogt}: skipped: it has input/ but no groundtruth/ folder" in r.stderr


def test_a_roi_of_the_wrong_size_stops_before_any_method_runs(tmp_path, seq, cli):
    data = tmp_path / "data"
    _copy(seq, data / "a")
    s = _copy(seq, data / "b")
    cv2.imwrite(str(s / "ROI.bmp"), np.full((64, 80), 255, np.uint8))
    out = tmp_path / "out"
    r = cli("benchmark", data, "-m", "mog2,knn", "-o", out, "--contact", "0")
    assert r.code == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0] == (f"bgsub: error: {s / 'ROI.bmp'}: is 80x64 but the frames in {s / 'input'} are 40x32; "
                        "resize ROI.bmp to 40x32 (white = scored), or delete it to score whole frames")
    assert not out.exists() or not any(out.iterdir())  # no method ran on any sequence


@pytest.mark.parametrize("text", ["", "abc", "5", "10 3", "1 2 3", "-4 9", "1.5 9", "\xff\xfe"])
def test_malformed_temporal_roi_is_named(tmp_path, seq, text):
    s = _copy(seq, tmp_path / "s")
    (s / "temporalROI.txt").write_bytes(text.encode("latin-1"))
    with pytest.raises(BgsubError, match=r"temporalROI.txt: (expected two frame numbers|empty range)"):
        check_sequence(s)


def test_ground_truth_of_the_wrong_size_is_named(tmp_path, seq):
    s = _copy(seq, tmp_path / "s", drop=("ROI.bmp",))
    first = sorted((s / "groundtruth").iterdir())[0]
    cv2.imwrite(str(first), np.zeros((10, 10), np.uint8))
    with pytest.raises(BgsubError, match=r"ground truth is 10x10 but the frames .* are 40x32"):
        check_sequence(s)
