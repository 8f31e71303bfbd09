"""The synthetic clip generator and Otsu thresholding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgsub.io import read_clip
from bgsub.synth import iter_synth, synth
from bgsub.threshold import HistogramOtsu, masks_from_foreground, median_filter, otsu_threshold


def test_synth_layout_and_determinism(tmp_path):
    a = synth(tmp_path / "a", height=32, width=48, frames=20, seed=3)
    b = synth(tmp_path / "b", height=32, width=48, frames=20, seed=3)
    for sub in ("input/in000007.png", "groundtruth/gt000007.png"):
        assert (tmp_path / "a" / sub).read_bytes() == (tmp_path / "b" / sub).read_bytes()
    assert (tmp_path / "a" / "temporalROI.txt").read_text().split() == ["3", "20"]
    assert (tmp_path / "a" / "ROI.bmp").is_file()
    assert 0.02 < a["foreground_fraction"] < 0.4
    c = synth(tmp_path / "c", height=32, width=48, frames=20, seed=4)
    assert (tmp_path / "c" / "input/in000007.png").read_bytes() != (tmp_path / "a" / "input/in000007.png").read_bytes()
    assert a["frames"] == b["frames"] == c["frames"] == 20


def test_synth_masks_are_exact_and_background_is_low_rank():
    frames = list(iter_synth(height=48, width=64, frames=30, seed=0, noise=0.0))
    imgs = np.stack([f[1] for f in frames])
    masks = np.stack([f[2] for f in frames])
    # where no object ever is, the background has rank <= 2 (gain and offset drift)
    never = ~masks.any(0)
    D = imgs[:, never, 0].T.astype(np.float64)
    s = np.linalg.svd(D, compute_uv=False)
    assert s[2] / s[0] < 1e-6
    # every object pixel differs from the background at that frame
    assert masks.sum() > 0 and masks.any(axis=(1, 2)).all()


def test_synth_has_an_object_that_stops():
    masks = np.stack([m for _, _, m in iter_synth(height=48, width=64, frames=50, seed=0)])
    # during the stop the pedestrian's pixels stay put: some pixels are foreground for >= 8 frames in a row
    run = np.zeros(masks.shape[1:], int)
    best = np.zeros(masks.shape[1:], int)
    for m in masks:
        run = np.where(m, run + 1, 0)
        best = np.maximum(best, run)
    assert best.max() >= 8


def test_synth_video(tmp_path):
    synth(tmp_path / "v", height=32, width=48, frames=12, video=True, folder=False)
    clip = read_clip(tmp_path / "v" / "input.avi")
    assert clip.numbers == list(range(1, 13)) and tuple(clip.frames.shape) == (12, 1, 32, 48)


def test_otsu_constant_map_means_no_foreground():
    assert otsu_threshold(np.zeros((4, 4))) == float("inf")
    m = masks_from_foreground(torch.zeros(2, 1, 4, 4))
    assert m.dtype == torch.bool and not m.any()


def test_otsu_separates_two_levels_per_frame_and_clip():
    S = torch.zeros(2, 1, 8, 8)
    S[0, 0, :2] = 1.0
    S[1, 0, 0, :4] = -0.05  # signed: |S| counts
    per_frame = masks_from_foreground(S)
    assert per_frame[0, 0, :2].all() and not per_frame[0, 0, 2:].any()
    assert per_frame[1, 0, 0, :4].all() and per_frame[1].sum() == 4
    clip = masks_from_foreground(S, scope="clip")
    assert clip[0, 0, :2].all() and not clip[1].any()  # one threshold: the weak frame falls below it


def test_histogram_otsu_matches_direct():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0.1, 0.02, 5000), rng.normal(0.6, 0.05, 500)]).clip(0, 1)
    h = HistogramOtsu()
    for part in np.array_split(v, 7):
        h.update(part)
    assert h.threshold() == pytest.approx(otsu_threshold(v), abs=0.01)


def test_median_filter_removes_speckle():
    m = torch.zeros(1, 1, 9, 9, dtype=torch.bool)
    m[0, 0, 4, 4] = True
    m[0, 0, 0:5, 0:5] |= False
    assert not median_filter(m, 3).any()
    with pytest.raises(Exception):
        median_filter(m, 4)


@pytest.mark.parametrize("size", [3, 5, 9])
def test_median_filter_against_a_literal_median(size):
    """Each pixel's median over the ``size`` x ``size`` window around it, the frame's edge pixels repeated beyond
    it: a literal loop with NumPy's median (the filter's box-sum majority must give the same masks), and a
    tensor in, a tensor out."""
    rng = np.random.default_rng(size)
    m = rng.random((2, 1, 11, 14)) < 0.45
    h, w, r = 11, 14, size // 2
    want = np.zeros_like(m)
    for t in range(2):
        for y in range(h):
            for x in range(w):
                win = [m[t, 0, min(max(j, 0), h - 1), min(max(i, 0), w - 1)]
                       for j in range(y - r, y + r + 1) for i in range(x - r, x + r + 1)]
                want[t, 0, y, x] = np.median(np.array(win, float)) > 0.5
    got = median_filter(m, size)
    assert want.any() and not want.all() and np.array_equal(got, want)
    assert np.array_equal(median_filter(torch.from_numpy(m), size).numpy(), want)
    assert median_filter(m, 0) is m


def _literal_holes(m):
    """The background pixels of ``m`` (H, W) bool that no 4-connected path of background pixels joins to the
    frame's edge: a breadth-first search from every background pixel on the edge."""
    from collections import deque

    h, w = m.shape
    reached = np.zeros((h, w), bool)
    todo = deque((y, x) for y in range(h) for x in range(w) if (y in (0, h - 1) or x in (0, w - 1)) and not m[y, x])
    for y, x in todo:
        reached[y, x] = True
    while todo:
        y, x = todo.popleft()
        for j, i in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= j < h and 0 <= i < w and not m[j, i] and not reached[j, i]:
                reached[j, i] = True
                todo.append((j, i))
    return ~m & ~reached


def test_fill_holes_against_a_literal_search():
    """``threshold.fill``: a mask's holes (background no 4-connected background path joins to the frame's edge)
    become foreground; a gap open to the edge, or joined to the outside only diagonally, stays a hole only in the
    second case. Random masks and a hand-made ring against a literal breadth-first search; a tensor in, a tensor
    out."""
    from bgsub.threshold import fill_holes

    rng = np.random.default_rng(7)
    m = rng.random((3, 1, 12, 15)) < 0.55
    m[2, 0] = False
    m[2, 0, 2:7, 2:7] = True  # a ring with a 3 x 3 hole
    m[2, 0, 3:6, 3:6] = False
    m[2, 0, 8:11, 0:4] = True  # a cup open to the frame's left edge: not a hole
    m[2, 0, 9, 0:3] = False
    m[2, 0, 1:4, 10:13] = True  # a hole whose only way out is diagonal: still a hole (4-connectivity)
    m[2, 0, 2, 11] = False
    m[2, 0, 1, 12] = False
    want = m.copy()
    for t in range(3):
        want[t, 0] |= _literal_holes(m[t, 0])
    assert want[2, 0, 3:6, 3:6].all() and not want[2, 0, 9, 0:3].any() and want[2, 0, 2, 11]
    got = fill_holes(m)
    assert (want != m).any() and np.array_equal(got, want)
    assert np.array_equal(fill_holes(torch.from_numpy(m)).numpy(), want)


def test_segment_fills_the_masks_holes_after_the_median(cli, tmp_path):
    """``threshold.fill`` (on by default): the masks ``segment`` writes are its masks without the fill
    (``threshold.fill=false``) with their holes filled: each frame against a literal search of its holes (the
    ``camouflage`` scenario at 96 x 128, 60 frames: its striped object is found in pieces, with holes)."""
    import cv2

    clip, on, off = tmp_path / "clip", tmp_path / "on", tmp_path / "off"
    assert cli("synth", str(clip), "--scenario", "camouflage", "-n", "60", "--height", "96", "--width", "128",
               "--seed", "1").code == 0
    assert cli("--quiet", "segment", str(clip), "-o", str(on)).code == 0
    assert cli("--quiet", "segment", str(clip), "-o", str(off), "--set", "threshold.fill=false").code == 0
    files = sorted(off.glob("bin*.png"))
    assert files
    filled = 0
    for f in files:
        a = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) > 127
        b = cv2.imread(str(on / f.name), cv2.IMREAD_GRAYSCALE) > 127
        holes = _literal_holes(a)
        filled += int(holes.sum())
        assert np.array_equal(b, a | holes)
    assert filled > 0
