"""scripts/make_proxies.py: derived sequences keep each frame with its own ground truth (checked against the
source files), and the changes of light are the stated formulas (flat frames: hand-computed values)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import load_script

mp = load_script("make_proxies")


def _cdnet(path, frames=6, value=100):
    (path / "input").mkdir(parents=True)
    (path / "groundtruth").mkdir()
    for n in range(1, frames + 1):
        cv2.imwrite(str(path / "input" / f"in{n:06d}.jpg"), np.full((16, 24, 3), value + n, np.uint8))
        gt = np.zeros((16, 24), np.uint8)
        gt[:n, :] = 255  # frame n's ground truth: n rows of foreground
        cv2.imwrite(str(path / "groundtruth" / f"gt{n:06d}.png"), gt)
    cv2.imwrite(str(path / "ROI.bmp"), np.full((16, 24), 255, np.uint8))
    (path / "temporalROI.txt").write_text("2 6\n")
    return path


def test_from_frame_renumbers_inputs_with_their_ground_truth(tmp_path):
    src = _cdnet(tmp_path / "seq")
    assert mp.make(src, tmp_path / "out", 3, None) == 4
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "input").iterdir()) == [f"in{n:06d}.jpg" for n in range(1, 5)]
    for new in range(1, 5):
        old = new + 2
        assert (out / "input" / f"in{new:06d}.jpg").read_bytes() == (src / "input" / f"in{old:06d}.jpg").read_bytes()
        gt = cv2.imread(str(out / "groundtruth" / f"gt{new:06d}.png"), 0)
        assert (gt == 255).all(axis=1).sum() == old  # the source frame's own ground truth
    assert (out / "temporalROI.txt").read_text().split() == ["1", "4"]  # every frame scored from the first
    assert (out / "ROI.bmp").is_file() and not (tmp_path / "out.part").exists()


def test_dim_and_switch_apply_their_formulas(tmp_path):
    src = _cdnet(tmp_path / "seq", value=100)
    mp.make(src, tmp_path / "dim", None, mp.dim)
    for n in (1, 4):
        got = cv2.imread(str(tmp_path / "dim" / "input" / f"in{n:06d}.jpg"))
        assert np.abs(got.astype(int) - round(0.3 * (100 + n) + 12)).max() <= 1  # a flat frame: JPEG keeps it
    assert (tmp_path / "dim" / "temporalROI.txt").read_text() == "2 6\n"  # the source's ROI kept
    mp.make(src, tmp_path / "sw", None, mp.switch_at(4))
    for n, want in ((3, 103), (4, round(0.55 * 104)), (6, round(0.55 * 106))):
        got = cv2.imread(str(tmp_path / "sw" / "input" / f"in{n:06d}.jpg"))
        assert np.abs(got.astype(int) - want).max() <= 1


def test_usage_errors_and_absent_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        mp.main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--only", "nope"])
    assert e.value.code == 2 and "unknown proxy nope" in capsys.readouterr().err
    assert mp.main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 0
    assert "nothing to make" in capsys.readouterr().out
    assert mp.main(["--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 0  # sources absent: skipped
    assert "absent, skipped" in capsys.readouterr().err


def test_ucsd_cuts_keep_the_first_frames_by_number_with_their_ground_truth(tmp_path):
    """The UCSD layout's numbers are not zero padded (frame_10 sorts before frame_2 as text): the cut keeps
    frames 1..N by number, each with its own ground truth, all scored."""
    src = tmp_path / "ucsd-x"
    (src / "in").mkdir(parents=True)
    (src / "groundtruth").mkdir()
    for n in range(1, 13):
        cv2.imwrite(str(src / "in" / f"frame_{n}.jpg"), np.full((8, 8, 3), 10 * n, np.uint8))
        gt = np.zeros((8, 8), np.uint8)
        gt[0, :n % 8] = 255
        cv2.imwrite(str(src / "groundtruth" / f"gt{n:04d}.png"), gt)
    cv2.imwrite(str(src / "ROI.bmp"), np.full((8, 8), 255, np.uint8))
    assert mp.cut(src, tmp_path / "x-10", 10) == 10
    out = tmp_path / "x-10"
    assert sorted(int(p.stem[6:]) for p in (out / "in").iterdir()) == list(range(1, 11))
    for n in range(1, 11):
        assert (out / "in" / f"frame_{n}.jpg").read_bytes() == (src / "in" / f"frame_{n}.jpg").read_bytes()
        gt = f"groundtruth/gt{n:04d}.png"
        assert (out / gt).read_bytes() == (src / gt).read_bytes()
    assert (out / "temporalROI.txt").read_text().split() == ["1", "10"]
    assert "birds-14" in mp.CUTS and mp.CUTS["surf-20"] == ("ucsd-surf", 20)


def test_shake_crops_each_frame_and_its_ground_truth_at_one_offset(tmp_path):
    """A textured source (every pixel distinct): each jittered frame is the source cropped at (a + dy, a + dx) for
    one (dy, dx) in [-a, a]^2, found by searching the literal crops; its ground truth is cropped at the same."""
    src = tmp_path / "seq"
    (src / "input").mkdir(parents=True)
    (src / "groundtruth").mkdir()
    rng = np.random.default_rng(0)
    H, W, a = 24, 32, 2
    base = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    for n in range(1, 7):
        cv2.imwrite(str(src / "input" / f"in{n:06d}.jpg"), base, [cv2.IMWRITE_JPEG_QUALITY, 100])
        gt = np.zeros((H, W), np.uint8)
        gt[5 + n, 10] = 255  # one foreground pixel, moving down a row per frame
        cv2.imwrite(str(src / "groundtruth" / f"gt{n:06d}.png"), gt)
    cv2.imwrite(str(src / "ROI.bmp"), np.full((H, W), 255, np.uint8))
    (src / "temporalROI.txt").write_text("1 6\n")
    assert mp.shake(src, tmp_path / "out", a) == 6
    out = tmp_path / "out"
    decoded = cv2.imread(str(src / "input" / "in000001.jpg")).astype(int)
    offsets = set()
    for n in range(1, 7):
        got = cv2.imread(str(out / "input" / f"in{n:06d}.jpg")).astype(int)
        assert got.shape[:2] == (H - 2 * a, W - 2 * a)
        err = {(dy, dx): np.abs(got - decoded[a + dy: H - a + dy, a + dx: W - a + dx]).mean()
               for dy in range(-a, a + 1) for dx in range(-a, a + 1)}
        (dy, dx), best = min(err.items(), key=lambda kv: kv[1])
        assert sorted(err.values())[1] > 2 * best  # one offset fits (JPEG 90's loss aside), no other does
        gt = cv2.imread(str(out / "groundtruth" / f"gt{n:06d}.png"), 0)
        assert list(zip(*np.nonzero(gt))) == [(5 + n - a - dy, 10 - a - dx)]  # the same crop
        offsets.add((dy, dx))
    assert len(offsets) > 1
    assert cv2.imread(str(out / "ROI.bmp"), 0).shape == (H - 2 * a, W - 2 * a)
    assert (out / "temporalROI.txt").read_text() == "1 6\n"
