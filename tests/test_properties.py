"""Property tests of the building blocks (issue 11): soft and svt (non-expansive, Moreau decomposition), the
metrics (counts add up, micro vs per-frame), pairing frames by number, Otsu on degenerate inputs. The
references are NumPy float64 written from the definitions."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bgsub.io.frames import frame_number, numbered_files
from bgsub.metrics import confusion, scores
from bgsub.prox import soft, svt
from bgsub.threshold import HistogramOtsu, masks_from_foreground, otsu_threshold

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def matrices(max_side: int = 8):
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side)).flatmap(
        lambda s: hnp.arrays(np.float64, s, elements=finite))


# ---- soft and svt -------------------------------------------------------------------------------------------


@FAST
@given(data=st.data(), tau=st.floats(0, 100))
def test_soft_is_non_expansive_and_a_moreau_decomposition(data, tau):
    x = data.draw(hnp.arrays(np.float64, st.integers(1, 30), elements=finite))
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=finite))
    px, py = soft(torch.from_numpy(x), tau).numpy(), soft(torch.from_numpy(y), tau).numpy()
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) * (1 + 1e-12) + 1e-12
    # x = prox_{tau |.|_1}(x) + projection of x onto the l_inf ball of radius tau (the conjugate's prox)
    np.testing.assert_allclose(px + np.clip(x, -tau, tau), x, rtol=0, atol=1e-12 * (1 + np.abs(x).max()))
    np.testing.assert_allclose(px, np.sign(x) * np.maximum(np.abs(x) - tau, 0), rtol=0, atol=1e-12 * (1 + tau))


def _spectral_projection(x: np.ndarray, tau: float) -> np.ndarray:
    """Projection onto {||X||_2 <= tau}: U min(s, tau) V^T (the prox of the conjugate of tau ||.||_*)."""
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return (u * np.minimum(s, tau)) @ vt


@FAST
@given(data=st.data(), frac=st.floats(0, 1.2), method=st.sampled_from(["auto", "full"]))
def test_svt_is_non_expansive_and_a_moreau_decomposition(data, frac, method):
    x = data.draw(matrices())
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=finite))
    s = np.linalg.svd(x, compute_uv=False)
    tau = float(frac * s[0])
    scale = 1 + max(np.abs(x).max(), np.abs(y).max())
    px = svt(torch.from_numpy(x), tau, method=method).numpy()
    py = svt(torch.from_numpy(y), tau, method=method).numpy()
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) + 1e-9 * scale
    np.testing.assert_allclose(px + _spectral_projection(x, tau), x, rtol=0, atol=1e-9 * scale)


# ---- metrics ------------------------------------------------------------------------------------------------


@FAST
@given(data=st.data())
def test_counts_add_up(data):
    shape = data.draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    pred = data.draw(hnp.arrays(np.bool_, shape))
    pos = data.draw(hnp.arrays(np.bool_, shape))
    valid = data.draw(st.one_of(st.none(), hnp.arrays(np.bool_, shape)))
    c = confusion(pred, pos, valid)
    v = np.ones(shape, bool) if valid is None else valid
    assert c.total == int(v.sum())
    assert (c.tp + c.fn, c.fp + c.tn) == (int((pos & v).sum()), int((~pos & v).sum()))
    assert (c.tp + c.fp) == int((pred & v).sum())
    s = scores(c)
    assert 0 <= s["precision"] <= 1 and 0 <= s["recall"] <= 1 and 0 <= s["f_measure"] <= 1
    assert s["pwc"] == pytest.approx(100 * (c.fp + c.fn) / c.total if c.total else 0.0)


def _write(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), a.astype(np.uint8))


def test_micro_and_per_frame_averages_differ_as_computed_by_hand(tmp_path):
    """Frame 1: 100 positives, 90 found, 10 false alarms (P = R = F = 0.9). Frame 2: 10 positives, none found,
    no detections (P = 1 by the stated rule, R = 0, F = 0). Micro: TP 90, FP 10, FN 20 -> P = 0.9, R = 90/110,
    F = 2 * 0.9 * (9/11) / (0.9 + 9/11). Per-frame mean F = (0.9 + 0) / 2."""
    gt1 = np.zeros((20, 20)); gt1.flat[:100] = 255  # noqa: E702
    p1 = np.zeros((20, 20)); p1.flat[10:100] = 255; p1.flat[300:310] = 255  # noqa: E702
    gt2 = np.zeros((20, 20)); gt2.flat[:10] = 255  # noqa: E702
    _write(tmp_path / "gt" / "gt000001.png", gt1)
    _write(tmp_path / "gt" / "gt000002.png", gt2)
    _write(tmp_path / "pred" / "bin000001.png", p1)
    _write(tmp_path / "pred" / "bin000002.png", np.zeros((20, 20)))
    from bgsub.api import evaluate

    r = evaluate(tmp_path / "pred", tmp_path / "gt", per_frame=True)
    assert r["counts"] == {"tp": 90, "fp": 10, "fn": 20, "tn": 800 - 120}
    R = 90 / 110
    assert r["scores"]["recall"] == pytest.approx(R)
    assert r["scores"]["f_measure"] == pytest.approx(2 * 0.9 * R / (0.9 + R))
    rows = {row["frame"]: row for row in r["per_frame"]}
    assert rows[1]["f_measure"] == pytest.approx(0.9) and rows[2]["f_measure"] == 0.0
    assert rows[2]["precision"] == 1.0 and rows[2]["recall"] == 0.0
    assert np.mean([rows[1]["f_measure"], rows[2]["f_measure"]]) == pytest.approx(0.45)


# ---- pairing by frame number --------------------------------------------------------------------------------

NAME_STYLES = [lambda n: f"bin{n:06d}.png", lambda n: f"frame_{n}.png", lambda n: f"in{n}.png",
               lambda n: f"gt_new_airport{n}.bmp", lambda n: f"{n}.png", lambda n: f"x7y_{n:03d}.png"]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(numbers=st.sets(st.integers(0, 2000), min_size=1, max_size=12), pred_style=st.sampled_from(NAME_STYLES),
       gt_style=st.sampled_from(NAME_STYLES), seed=st.integers(0, 1000))
def test_frames_pair_by_number_under_shuffled_unpadded_names(tmp_path_factory, numbers, pred_style, gt_style, seed):
    root = tmp_path_factory.mktemp("pair")
    order = list(numbers)
    random.Random(seed).shuffle(order)  # files created in a shuffled order
    rng = np.random.default_rng(seed)
    truth = {}
    for n in order:
        g = (rng.random((6, 7)) < 0.5) * 255
        truth[n] = g
        _write(root / "gt" / gt_style(n), g)
        _write(root / "pred" / pred_style(n), g if n % 2 else 255 - g)  # odd frames right, even frames inverted
    files = numbered_files(root / "pred")
    assert list(files) == sorted(numbers)
    assert all(frame_number(p.name) == n for n, p in files.items())
    from bgsub.api import evaluate

    r = evaluate(root / "pred", root / "gt", per_frame=True)
    assert [row["frame"] for row in r["per_frame"]] == sorted(numbers)
    for row in r["per_frame"]:
        n = row["frame"]
        if n % 2:  # a right frame paired with its own ground truth: no errors
            assert row["fp"] == row["fn"] == 0
        else:  # the inverted one: every pixel wrong
            assert row["tp"] == row["tn"] == 0


# ---- Otsu on degenerate inputs ------------------------------------------------------------------------------


@FAST
@given(value=st.floats(0, 1e3), shape=st.tuples(st.integers(1, 5), st.integers(1, 9), st.integers(1, 9)))
def test_otsu_on_a_constant_map_marks_nothing(value, shape):
    S = torch.full((shape[0], 1, shape[1], shape[2]), value)
    assert otsu_threshold(S) == float("inf")
    for scope in ("frame", "clip"):
        assert not masks_from_foreground(S, scope=scope).any()
    h = HistogramOtsu()
    h.update(S.abs())
    assert h.threshold() == float("inf")


@FAST
@given(lo=st.floats(0, 0.45), gap=st.floats(0.01, 0.5), data=st.data())
def test_otsu_on_a_two_valued_map_splits_exactly_the_two_values(lo, gap, data):
    hi = lo + gap
    high = data.draw(hnp.arrays(np.bool_, (1, 1, 8, 9)))
    if not high.any() or high.all():
        high.flat[0], high.flat[-1] = True, False
    S = torch.from_numpy(np.where(high, hi, lo).astype(np.float32))
    t = otsu_threshold(S)
    assert lo <= t < hi
    np.testing.assert_array_equal(masks_from_foreground(S, scope="frame").numpy(), high)
    np.testing.assert_array_equal(masks_from_foreground(-S, scope="clip").numpy(), high)  # |S|
    hist = HistogramOtsu()
    hist.update(S)
    assert lo <= hist.threshold() < hi
