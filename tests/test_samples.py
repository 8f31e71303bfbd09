"""The sample-consensus background model (bgsub.background.samples): its statistics against independent
references, and each mechanism on a synthetic scenario with exact ground truth, switched on and off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bgsub.background.samples import SampleModel, kth_smallest, noise_level, spread_ratio, working_size
from bgsub.errors import BgsubError


def test_kth_smallest_against_a_sort():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(20, 3, 7, 9)).astype(np.float32)
    x = rng.normal(size=(3, 7, 9)).astype(np.float32)
    for k in (1, 2, 3, 5):
        want = np.sort(np.abs(s - x[None]), axis=0)[k - 1]
        np.testing.assert_allclose(kth_smallest(s, x, k), want, rtol=0, atol=1e-6)
        want = np.sort(np.abs(s - x[None]).max(axis=1), axis=0)[k - 1]
        np.testing.assert_allclose(kth_smallest(s, x, k, reduce_channels=True), want, rtol=0, atol=1e-6)


def test_kth_smallest_opencv_path_equals_numpy_bit_for_bit():
    """The float32 fast path (OpenCV on 2-D views) gives exactly the values of the NumPy path (float64 inputs take
    it) and of a sort, in every layout the model uses (one channel, three, a single row)."""
    rng = np.random.default_rng(1)
    for shape in ((20, 3, 12, 17), (20, 1, 5, 8), (6, 3, 1, 11), (4, 2, 3, 3), (1, 3, 4, 5), (2, 1, 3, 4),
                  (3, 3, 2, 6)):  # as few samples as k, and fewer (the first k samples fill the minima)
        s = np.round(rng.normal(128, 40, size=shape)).astype(np.float32)  # ties, as 8-bit samples have
        x = np.round(rng.normal(128, 40, size=shape[1:])).astype(np.float32)
        for k in (1, 2, 3):
            for rc in (False, True):
                fast = kth_smallest(s, x, k, reduce_channels=rc)
                slow = kth_smallest(s.astype(np.float64), x.astype(np.float64), k, reduce_channels=rc)
                d = np.abs(s - x[None])
                want = np.sort(d.max(axis=1) if rc else d, axis=0)[min(k, shape[0]) - 1]  # (k clamped to n)
                assert fast.dtype == np.float32 and fast.shape == want.shape
                assert np.array_equal(fast, want) and np.array_equal(fast, slow.astype(np.float32)), (shape, k, rc)
                if shape[0] < k:  # the OpenCV path itself, asked for more than there are: no k-th smallest
                    from bgsub.background.stats import _kth_smallest_cv

                    assert np.isinf(_kth_smallest_cv(s, x, k, rc)).all()


def test_noise_level_of_gaussian_frames_and_the_quantisation_floor():
    rng = np.random.default_rng(1)
    x = (100 + rng.normal(0, 2.0, size=(30, 3, 40, 50))).astype(np.float32)  # sigma 2 grey levels
    assert noise_level(x) == pytest.approx(2.0, rel=0.1)
    still = np.full((30, 3, 40, 50), 100.0, np.float32)  # noise-free frames: the 8-bit rounding floor
    assert noise_level(still) == pytest.approx(1 / math.sqrt(12))
    assert noise_level(still, factor=4.0) == pytest.approx(1 / math.sqrt(48))  # 4 pixels averaged


def test_noise_level_sees_a_codecs_noise_through_blocks_copied_from_frame_to_frame():
    # a codec that refreshes the picture once per group of 12 frames and copies it in between: consecutive frames
    # are equal, so their differences show no noise; the frames of two groups differ by the camera's noise (sigma 2
    # drawn per group), in front of a texture (amplitude 30) that raises the single-image estimate
    rng = np.random.default_rng(3)
    texture = rng.uniform(70, 130, size=(1, 3, 40, 50))
    groups = texture + rng.normal(0, 2.0, size=(6, 3, 40, 50))
    x = np.repeat(groups, 12, axis=0).astype(np.float32)  # (72, 3, 40, 50)
    assert noise_level(x) == pytest.approx(2.0, rel=0.15)
    # consecutive differences alone (a lag of one frame) would read the floor: 1/sqrt(12) grey levels
    d = np.abs(np.diff(x[:64], axis=0))
    assert np.percentile(d, 25) == 0.0


def test_the_floor_over_the_settled_pixels_is_the_still_backgrounds_spread():
    """``floor_over="settled"``: leaves that sweep across 70% of the frame (a new value each frame, never still)
    set the frame's median spread, every pixel's floor, with ``"all"``; over the pixels the window saw still (the
    static 30%, noise of 2 grey levels) the floor is their spread (a literal NumPy median of 1.4826 x the median
    absolute deviation of the samples' channel maximum, here), or the camera noise where that is larger."""
    from bgsub.background.stats import robust_spread

    rng = np.random.default_rng(5)
    T, h, w = 60, 40, 60
    x = 100 + rng.normal(0, 2.0, size=(T, 3, h, w))
    x[:, :, :, : int(0.7 * w)] = rng.uniform(0, 255, size=(T, 3, h, int(0.7 * w)))
    # the helper: the frame's floor over a mask of pixels, against a literal computation
    s = x[:20].astype(np.float32)
    mask = np.zeros((h, w), bool)
    mask[:, int(0.7 * w):] = True
    mad = 1.4826 * np.median(np.abs(s - np.median(s, axis=0)).max(axis=1), axis=0)  # max over channels first
    assert robust_spread(s, 6.0, 0.0, False, over=mask)[2] == pytest.approx(float(np.median(mad[mask])), rel=1e-5)
    assert robust_spread(s, 6.0, 0.0, False)[2] == pytest.approx(float(np.median(mad)), rel=1e-5)
    # the model: the window sees the static 30% still, never the leaves
    f = _unit(x)
    every = SampleModel.initialise(f, pixels=0, dynamics="nn")
    still = SampleModel.initialise(f, pixels=0, dynamics="nn", floor_over="settled")
    assert still._over is not None and still._over[:, int(0.7 * w) + 1 :].all() and not still._over[:, :20].any()
    assert every.noise > 20 and still.noise < every.noise / 2
    with pytest.raises(BgsubError, match="background.floor"):
        SampleModel.initialise(f, pixels=0, floor_over="some")


def test_spread_ratio_turns_the_spread_of_gaussian_samples_into_their_sigma():
    # independent check of the calibration: a model started on pure noise of sigma 3 estimates sigma ~ 3
    rng = np.random.default_rng(2)
    frames = torch.from_numpy((0.5 + rng.normal(0, 3 / 255, size=(40, 1, 60, 80))).astype(np.float32))
    m = SampleModel.initialise(frames, pixels=0, dynamics="spread", clean=False)
    assert float(np.median(m.sigma)) == pytest.approx(3.0, rel=0.15)
    m.noise = 0.0  # dynamics="nn"'s statistic (6th nearest, 75th percentile), without the floor
    assert float(np.median(m._spread(6, 75.0))) == pytest.approx(3.0, rel=0.15)
    assert 0.1 < spread_ratio(20, 1, 2) < 0.2 and 0.25 < spread_ratio(20, 3, 2) < 0.4


def test_working_size_keeps_the_aspect_within_the_budget():
    assert working_size(240, 320, 19200) == (120, 160)
    assert working_size(100, 100, 19200) == (100, 100)
    h, w = working_size(2160, 3840, 19200)
    assert h * w <= 19200 * 1.02 and abs(w / h - 16 / 9) < 0.02


def _scenario(name, tmp_path, frames=100, h=96, w=128):
    from bgsub.io.frames import read_clip
    from bgsub.synth import synth

    d = tmp_path / name
    synth(d, frames=frames, height=h, width=w, seed=0, scenario=name)
    x = read_clip(d / "input", grayscale=False).frames
    import cv2

    gt = np.stack([cv2.imread(str(d / "groundtruth" / f"gt{n:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
                   for n in range(1, frames + 1)])
    return x, gt


def _f(pred, gt):
    tp = (pred & gt).sum()
    return 2 * tp / max(1, pred.sum() + gt.sum())


def _masks(x, window=100, **kw):
    import torch.nn.functional as F

    m = SampleModel.initialise(x[:window], **kw)
    z = m.step(x).amax(1, keepdim=True)
    z = F.interpolate(z, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return (z[:, 0] > m.k).numpy()


def test_lossless_footage_needs_a_physical_noise_floor(tmp_path):
    """Noise-free frames with a sub-grey-level flicker and blocky compression noise: the noise floor is the
    quantisation noise and the measured camera noise, not an eighth of a grey level; the static reference with
    its old floor marks the blocks."""
    from bgsub.background import estimate, residual

    x, gt = _scenario("lossless", tmp_path)
    f = _f(_masks(x), gt[:])
    ref = estimate(x[:100])
    f_ref = _f((residual(ref, x).amax(1) > 6).numpy(), gt)
    assert f >= 0.85 and f > f_ref + 0.2


def test_blocks_coded_brighter_are_the_background_in_more_light(tmp_path):
    """``lossless`` at 160 x 120 (the frame is the working size): compression blocks coded one or two grey levels
    darker or brighter than the scene, about 7 noise levels of noise-free footage. The shadow test takes the
    darker ones; the highlight test (``highlight=1.1``) the brighter ones: the model alone marks a twentieth as many
    background pixels, the objects all found either way (measured: 0.0002 against 0.0049 of the background
    pixels)."""
    x, gt = _scenario("lossless", tmp_path, frames=150, h=120, w=160)
    kw = dict(shadow=True, texture=True, texture_region=5)
    on, off = _masks(x, highlight=1.1, **kw), _masks(x, highlight=1.0, **kw)
    assert on[~gt].mean() < 0.001 and off[~gt].mean() > 0.002
    assert on[gt].mean() > 0.99 and off[gt].mean() > 0.99


def test_a_busy_start_is_not_the_background(tmp_path):
    """People stand still in the first 40 frames, then leave: the samples come from the frames where each pixel
    moves least, and the conservative pass drops the minority, so they are foreground while they stand and leave
    no ghost; samples spread over the window (a plain sample of it) keep them."""
    x, gt = _scenario("busy-start", tmp_path)
    good = _f(_masks(x), gt)
    plain = _f(_masks(x, init="window", clean=False), gt)
    assert good >= 0.75 and good > plain + 0.1


def test_a_busy_start_is_found_by_stillness_in_both_senses(tmp_path):
    """The busy start at 320 x 240 (people stand for most of the window, then leave): flat-coloured people who
    sway a little change their pixels less than the noise of the textured wall behind them, so by frame
    differences alone they are the stillest frames; as displacement (differences over the gradient) they move.
    The model as the defaults set it finds them with ``motion="both"`` and keeps them as background with
    frame differences alone."""
    x, gt = _scenario("busy-start", tmp_path, frames=150, h=240, w=320)
    kw = dict(horizon=300, texture=True, gain=True)
    both = _f(_masks(x, motion="both", **kw), gt)
    diff = _f(_masks(x, motion="diff", **kw), gt)
    assert both >= 0.8 and both > diff + 0.2


def test_flow_motion_against_a_literal_loop():
    """_flow without the box filter: each frame's larger difference to its neighbours (max over channels) over its
    central-difference gradient magnitude (max over channels, zero on the border rows and columns), floored at the
    noise, computed here pixel by pixel."""
    from bgsub.background.stats import _flow

    rng = np.random.default_rng(2)
    x = (rng.random((4, 2, 5, 6)) * 50).astype(np.float32)
    noise = 3.0
    got = _flow(x, 1, noise)
    T, C, h, w = x.shape
    for t in range(T):
        for i in range(h):
            for j in range(w):
                ds = [abs(float(x[u, c, i, j]) - float(x[u - 1, c, i, j])) for u in (t, t + 1) if 0 < u < T
                      for c in range(C)]
                g = 0.0
                for c in range(C):
                    gy = 0.5 * (x[t, c, i + 1, j] - x[t, c, i - 1, j]) if 0 < i < h - 1 else 0.0
                    gx = 0.5 * (x[t, c, i, j + 1] - x[t, c, i, j - 1]) if 0 < j < w - 1 else 0.0
                    g = max(g, math.sqrt(gx * gx + gy * gy))
                assert got[t, i, j] == pytest.approx(max(ds) / max(g, noise), rel=1e-5)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("motion", ["diff", "flow", "both"])
def test_the_horizon_s_motion_of_one_frame_equals_the_window_s(motion, compiled, monkeypatch):
    """The horizon measures only the middle of three frames (start.frame_motion: one compiled pass for the
    unfiltered measures, or the whole-array path without the kernels); the window measures every frame
    (stats._motion, stats._flow, the latter checked against a literal loop above): the middle frame's values are
    the same, bit for bit, from the frames stacked or passed one by one."""
    from bgsub.background import kernels
    from bgsub.background.start import frame_motion
    from bgsub.background.stats import _flow, _motion

    if compiled:
        pytest.importorskip("numba")
        assert kernels.motion_parts(*np.zeros((3, 1, 3, 3), np.float32), 1.0) is not None
    else:
        monkeypatch.setattr(kernels, "_kernels", {})

    rng = np.random.default_rng(0)
    three = (rng.random((3, 3, 30, 40)) * 100).astype(np.float32)
    nd, nf = (rng.random((2, 30, 40)) + 0.5).astype(np.float32)
    want = {"diff": _motion(three, 5)[1], "flow": _flow(three, 5, 2.0)[1],
            "both": np.maximum(_motion(three, 5)[1] / nd, _flow(three, 5, 2.0)[1] / nf)}[motion]
    assert np.array_equal(frame_motion(three, 5, 2.0, motion, (nd, nf)), want)
    assert np.array_equal(frame_motion(tuple(three), 5, 2.0, motion, (nd, nf)), want)


@pytest.mark.parametrize("motion", ["diff", "flow", "both"])
@pytest.mark.parametrize("box", [1, 3, 7])
def test_the_open_pixels_motion_from_their_neighbourhoods_equals_the_frame_s(motion, box):
    """start.motion_at (the open horizon's few pixels, from their neighbourhoods alone) against the whole frame's
    start.frame_motion (checked against the window's measure above): every pixel, the frame's corners and edges
    (the box filter's reflection, the gradient's zero rows) among them, from frames passed one by one."""
    from bgsub.background.start import frame_motion, motion_at

    rng = np.random.default_rng(box)
    three = (rng.random((3, 3, 19, 23)) * 100).astype(np.float32)
    nd, nf = (rng.random((2, 19, 23)) + 0.5).astype(np.float32)
    want = frame_motion(three, box, 2.0, motion, (nd, nf)).reshape(-1)
    idx = np.array([0, 22, 23, 24, 200, 19 * 23 - 23, 19 * 23 - 1, 17])
    got = motion_at(tuple(three), idx, box, 2.0, motion, (nd, nf))
    np.testing.assert_allclose(got, want[idx], rtol=1e-6)
    np.testing.assert_allclose(motion_at(three, np.arange(19 * 23), box, 2.0, motion, (nd, nf)), want, rtol=1e-6)


def test_a_stopped_object_stays_foreground_for_the_stated_time(tmp_path):
    """An object walks in after the window (frame 76 of 250; the window is the first 100) and stops at frame 113
    to the end. The policy (README): only pixels the model calls background update it (1 in ``update`` = 16
    frames, a sample of their own and one of a neighbour's), so a stopped object is taken in only from its border,
    by the background's spatially diffused updates: it stays foreground whole for about 80 frames and is eaten
    slowly after that. Without the conservative rule (every pixel within 2 k updating every frame) it goes at
    once."""
    from bgsub.scenarios import scenario_events

    x, gt = _scenario("stop", tmp_path, frames=250)
    ev = scenario_events("stop", frames=250, height=96, width=128)
    y0, x0, y1, x1 = ev["stop_box"]
    t = ev["stop"] + 80 - 1  # 80 frames after it stopped (0-based index)
    obj = np.zeros_like(gt[t])
    obj[y0:y1, x0:x1] = gt[t][y0:y1, x0:x1]  # the stopped object alone (the car loops elsewhere)
    pred = _masks(x)
    assert pred[t][obj].mean() > 0.9
    blind = _masks(x, within=2.0, phi=1)
    assert blind[t][obj].mean() < pred[t][obj].mean() - 0.2


def test_a_swaying_background_is_background_and_an_object_in_front_is_not(tmp_path):
    x, gt = _scenario("dynamic", tmp_path)
    pred = _masks(x)
    single = _masks(x, n=20, matches=20, clean=False)  # all samples must match: one mode, no consensus
    assert _f(pred, gt) > _f(single, gt) + 0.1


def test_the_health_check_warns_when_the_window_never_settles(caplog):
    """A camera panning over texture: no pixel stands still in the window, and the model says so on stderr; a
    still scene with noise does not."""
    import cv2

    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.random((200, 400)).astype(np.float32), (0, 0), 1)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    pan = torch.from_numpy(np.stack([np.stack([tex[50:130, 3 * t : 3 * t + 100]] * 3) for t in range(30)]))
    with caplog.at_level("WARNING", logger="bgsub"):
        SampleModel.initialise(pan.float())
    assert any("never stand still" in r.getMessage() for r in caplog.records)
    caplog.clear()
    still = torch.from_numpy(np.stack([np.stack([tex[50:130, :100]] * 3)] * 30)).float()
    with caplog.at_level("WARNING", logger="bgsub"):
        SampleModel.initialise((still + 0.01 * torch.randn_like(still)).clamp(0, 1))
    assert not any("never stand still" in r.getMessage() for r in caplog.records)


def _sweep_clip(frames=120, cover=50, h=48, w=64, seed=0, leaf_sigma=3.0):
    """A still textured scene with noise; over its first ``cover`` frames a leaf-like patch hangs in front of part
    of it, never quite still (its texture shifts by up to a pixel every frame, as leaves in a breeze), then is
    gone. Ground truth: the patch."""
    rng = np.random.default_rng(seed)
    import cv2

    def texture(sigma):
        t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)
        return (t - t.min()) / (t.max() - t.min())

    bg = 0.2 + 0.2 * texture(2)
    leaf = 0.6 + 0.2 * texture(leaf_sigma)  # brighter than the scene, smooth: a shift changes it by a few grey levels
    x = np.repeat(np.repeat(bg[None, None], frames, 0), 3, 1)
    gt = np.zeros((frames, h, w), bool)
    gt[:cover, 10:38, 16:48] = True
    for t in range(cover):
        dy, dx = rng.integers(-1, 2, size=2)
        x[t, :, 10:38, 16:48] = np.roll(leaf, (dy, dx), axis=(0, 1))[10:38, 16:48]
    x = x + rng.normal(0, 1 / 255, x.shape)
    return torch.from_numpy(np.clip(x, 0, 1).astype(np.float32)), gt


def test_a_longer_horizon_finds_a_background_the_window_never_saw_still():
    """A leaf-like patch hangs in front of the scene, never quite still, for the whole window (40 frames) and is
    gone from frame 51: the window never saw the scene behind it, so its samples hold the leaf and the revealed
    scene is a ghost (foreground) until the updates creep in from the border. With the stable start going on
    online (``horizon``), the still frames after it replace the moving ones and the ghost is gone within 16
    frames of them."""
    x, gt = _sweep_clip()
    patch = np.zeros(gt.shape[1:], bool)
    patch[10:38, 16:48] = True

    def masks(**kw):
        m = SampleModel.initialise(x[:40], pixels=0, **kw)
        sig = m.sigma.copy()
        out = m.step(x).amax(1).numpy() > m.k
        if kw:  # the leaf's noise level is not kept: the window never saw the pixel still
            assert np.median(m.sigma[patch]) < 0.6 * np.median(sig[patch])
        return out

    with_h, without = masks(horizon=120), masks()
    assert with_h[75:, patch].mean() < 0.02 and without[75:, patch].mean() > 0.5
    assert not with_h[:, ~patch].any() and not without[:, ~patch].any()


def test_past_the_horizon_only_the_pixels_the_window_never_saw_still_go_on():
    """``open_horizon``: the leaf hangs in front of the scene, never quite still, until frame 100, past the
    horizon (60): with the horizon alone its pixels keep the leaf and the revealed scene stays a ghost; going on
    at the pixels the window never saw still (the patch, and nothing else here) the ghost is gone within 16
    frames of the still scene. A square that walks in at frame 110 and stops where the window saw the scene
    still is not taken in by the stillest-frame search (a horizon of 200 for every pixel takes it in): only the
    diffused updates eat its border."""
    x, gt = _sweep_clip(frames=200, cover=100, leaf_sigma=1.0)  # a sharper leaf: its shifts move every pixel
    x = x.clone()
    x[110:, :, 40:46, 4:10] = 0.9  # a square that stops in the settled part of the scene
    patch = np.zeros(gt.shape[1:], bool)
    patch[10:38, 16:48] = True

    def masks(**kw):
        m = SampleModel.initialise(x[:40], pixels=0, horizon=kw.pop("horizon", 60), **kw)
        o = m._stable.open_mask
        assert o is None or (not o[~patch].any() and o[patch].mean() > 0.9)
        return m.step(x).amax(1).numpy() > m.k

    opened, closed, everywhere = masks(open_horizon=200), masks(), masks(horizon=200)
    assert opened[135:, patch].mean() < 0.02 and closed[135:, patch].mean() > 0.5
    assert opened[190:, 42:44, 6:8].all() and closed[190:, 42:44, 6:8].all()  # the stopped square's centre
    assert not everywhere[190:, 42:44, 6:8].any()


def test_the_online_search_keeps_each_pixel_s_stillest_frames():
    """StableSearch against a literal selection: each pixel keeps the n frames of least motion (here unfiltered:
    the larger of a frame's differences to its neighbours, max over channels) among the window's frames (measured
    in the window: its last frame has no next) and every frame it has evaluated since (frame t - 1 when frame t
    arrives): up to the horizon for every pixel, past it for the open pixels alone. The samples are set again
    every 16 frames, at the horizon (every pixel) and at the open horizon (the open pixels)."""
    from bgsub.background.stable import StableSearch

    rng = np.random.default_rng(5)
    T, C, h, w, n, first, horizon = 70, 3, 6, 8, 5, 20, 45
    x = (rng.random((T, C, h, w)) * 50).astype(np.float32)

    def motion(t, end):
        d = [np.abs(x[t] - x[t - 1]).max(axis=0)] if t > 0 else []
        if t + 1 < end:
            d.append(np.abs(x[t + 1] - x[t]).max(axis=0))
        return np.maximum.reduce(d)

    win = np.stack([motion(t, first) for t in range(first)])
    idx = np.argsort(win, axis=0)[:n]
    vals = np.take_along_axis(x[:first], np.broadcast_to(idx[:, None], (n, C, h, w)), axis=0)
    opened = np.zeros((h, w), bool)
    opened[2:4, 3:6] = True
    s = StableSearch(vals, np.take_along_axis(win, idx, axis=0), first=first, horizon=horizon, box=1, camera=1.0,
                     motion="diff", norm=None, open_mask=opened, open_horizon=T)
    settles, at_horizon = [], None
    for t in range(T):
        r = s.step(x[t], t)
        if r is not None:
            settles.append((t, r[0] is None))
            if t == horizon - 1:
                at_horizon = r[1].copy()
    assert s.done
    assert settles == [(32, True), (44, True), (48, False), (64, False), (69, False)]
    allm = np.concatenate([win, np.stack([motion(t, T) for t in range(first, T)])])  # (T, h, w)

    def kept_motion(v, pixels):  # the motions of the kept frames (found by value: the frames' values are distinct)
        xs = x[:, 0].reshape(T, -1)[:, pixels]  # (T, P)
        frames = np.argmax(xs[None] == v[:, 0][:, None], axis=1)  # (n, P)
        assert (xs[frames, np.arange(xs.shape[1])] == v[:, 0]).all()
        return np.sort(allm.reshape(T, -1)[frames, pixels], axis=0)

    def least(last, pixels):  # the n least motions among frames 0 .. last (frames that share a difference tie)
        return np.sort(allm[: last + 1].reshape(last + 1, -1)[:, pixels], axis=0)[:n]

    shut, ope = np.flatnonzero(~opened), np.flatnonzero(opened)
    np.testing.assert_array_equal(kept_motion(at_horizon.reshape(n, C, -1)[:, :, shut], shut), least(horizon - 2, shut))
    np.testing.assert_array_equal(kept_motion(s.vals, ope), least(T - 2, ope))
    assert not np.array_equal(least(T - 2, ope), least(horizon - 2, ope))  # the frames past the horizon mattered


def test_the_horizon_never_lowers_the_noise_floor_below_the_window_s():
    """The stillest frames of a long stretch are its least noisy: the floor stays the window's."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy((0.5 + rng.normal(0, 2 / 255, size=(200, 3, 40, 50))).astype(np.float32))
    m = SampleModel.initialise(x[:50], pixels=0, horizon=200)
    floor, sig = m.noise, m.sigma.copy()
    m.step(x)
    assert m.noise >= floor and float(np.median(m.sigma)) >= floor
    assert (m.sigma >= sig).all()  # every pixel stood still in the window: its noise level is kept too
    # the bias it guards against: the stillest 20 of all 200 frames spread less than those of the first 50
    assert SampleModel.initialise(x, pixels=0).noise < floor


def test_a_gain_is_kept_for_a_light_switch_and_not_for_a_flat_changing_scene(tmp_path):
    """The light drops to 70-80% at mid-clip: a gain brings the textured scene back (F well above the offset
    alone). A flat scene whose frame is independent texture (water, sky) cannot tell a gain from noise: the
    fitted gain is refused and the frame is compensated by its median offset alone (checked against a literal
    NumPy median over the grid)."""
    # the light drops at frame 60; at 256 x 192 the model averages 2.56 pixels, so the noise it sees is small
    # next to the texture's change under a gain
    x, gt = _scenario("light-switch", tmp_path, frames=120, h=192, w=256)
    f_gain = _f(_masks(x, window=40, gain=True), gt)
    f_off = _f(_masks(x, window=40), gt)
    assert f_gain >= 0.85 and f_gain > f_off + 0.05

    rng = np.random.default_rng(4)
    flat = torch.from_numpy((0.55 + rng.normal(0, 1 / 255, size=(30, 3, 64, 64))).astype(np.float32))
    m = SampleModel.initialise(flat, pixels=0, gain=True)
    # independent of the background, 25 grey levels brighter (an offset that beats no change of light)
    frame = (165 + rng.normal(0, 14, size=(3, 64, 64))).astype(np.float32)
    s = max(1, int((64 * 64 / 4096) ** 0.5))
    off = np.median((frame[:, ::s, ::s] - m.background()[:, ::s, ::s]).reshape(3, -1), axis=1)
    np.testing.assert_allclose(m._compensated(frame)[0], frame - off[:, None, None], atol=1e-4)


def _saturated_wall_clip(t=60, h=48, w=64, gain=1.15, seed=3, white=255.0):
    """A scene whose left half is texture (60-160 grey levels) and right half a wall brighter than the camera's
    range (true 270: clipped to ``white``, 255 or a lower white level); the light brightens by ``gain`` at frame
    t // 2 (no foreground)."""
    rng = np.random.default_rng(seed)
    truth = np.full((3, h, w), 270.0)
    truth[:, :, : w // 2] = 60 + 100 * rng.random((3, h, w // 2))
    g = np.where(np.arange(t) < t // 2, 1.0, gain)[:, None, None, None]
    x = np.clip(g * truth[None] + rng.normal(0, 1.0, size=(t, 3, h, w)), 0, white)
    return torch.from_numpy((x / 255).astype(np.float32)), w // 2


def test_a_clipped_wall_under_a_brighter_light_is_background():
    """Undoing the 15% gain on the clipped wall gives 255 / 1.15 = 222, far below its samples (255): read as the
    bound it is (the truth is at least 255, so at least 222 in the model's light), the wall matches; compared
    two-sidedly it is all foreground. The textured half is background either way (the gain is undone): with the
    gain fitted from the median offset alone, 2 of the 30 frames lost its inliers (the median offset lies between
    the clipped wall's 0 and the texture's +9 to +24) and were 90% foreground; the median-ratio start finds them."""
    x, half = _saturated_wall_clip()
    for censor, want_wall in ((True, 0.0), (False, 1.0)):
        m = SampleModel.initialise(x[:30], pixels=0, gain=True, censor=censor)
        fg = (m.step(x[30:]).amax(1) > m.k).numpy()  # (30, h, w)
        assert abs(fg[:, :, half:].mean() - want_wall) < 0.01, censor
        assert fg[:, :, :half].mean() < 0.01


@pytest.mark.parametrize("white,scale,offset", [(235.0, 1.0, 0.0), (255.0, 0.3, 12.0)])
def test_a_wall_clipped_below_255_is_background_with_the_measured_white_level(white, scale, offset, caplog):
    """The same scene with its clip below 255: studio-range video (clipped at 235), and a dimmed copy (clipped
    at 255, then every value v -> 0.3 v + 12, as scripts/make_proxies.py's dim: the clip lands at 88.5). With the
    level measured from the window (``white=0``, bgsub.background.clipping) the wall is compared as the bound it
    is, and left out of the light's fit: the scene is background under the brighter light. With the 8-bit top
    assumed (``white=255``, the behaviour before) the wall's values, unchanged by the light, count for the
    hypothesis of no change, which then wins the fit: the brightened texture is foreground."""
    x, half = _saturated_wall_clip(white=white)
    x = x * np.float32(scale) + np.float32(offset / 255.0)
    level = white * scale + offset
    with caplog.at_level("INFO", logger="bgsub"):
        m = SampleModel.initialise(x[:30], pixels=0, gain=True, white=0.0)
    assert abs(m.white - level) <= 1.0
    assert f"the frames are clipped at grey level {int(m.white)}" in caplog.text  # said once, on stderr in the CLI
    fg = (m.step(x[30:]).amax(1) > m.k).numpy()  # (30, h, w): no foreground in the clip
    assert fg[:, :, half:].mean() < 0.01 and fg[:, :, :half].mean() < 0.01
    m = SampleModel.initialise(x[:30], pixels=0, gain=True, white=255.0)
    assert m.white == 255.0
    fg = (m.step(x[30:]).amax(1) > m.k).numpy()
    assert fg[15:, :, :half].mean() > 0.3  # (after the light changed: frames 45-59; 0.50 and 0.50 measured)


def test_censored_residual_against_a_literal_loop():
    """For a saturated pixel every channel is a lower bound: the residual is the ``matches``-th smallest of
    max(0, bound - sample) over the samples, per channel (a literal loop); unsaturated pixels keep |x - s|."""
    rng = np.random.default_rng(8)
    frames = torch.from_numpy(rng.random((12, 3, 6, 7), dtype=np.float32))
    m = SampleModel.initialise(frames, n=6, pixels=0, clean=False)
    x = (rng.random((3, 6, 7)) * 240).astype(np.float32)
    x[:, 2, 3] = (254.0, 200.0, 120.0)  # one channel at the top of the range: the pixel was clipped
    x[1, 4, 5] = 255.0
    xc = x - 7.0
    res = kth_smallest(m.samples, xc, m.matches)
    want = res.copy()
    for (y, xx) in ((2, 3), (4, 5)):
        for c in range(3):
            d = sorted(max(0.0, float(xc[c, y, xx]) - float(m.samples[j, c, y, xx])) for j in range(6))
            want[c, y, xx] = d[m.matches - 1]
    sat = m._censored(x, xc, res)
    assert sat.sum() == 2 and sat[2, 3] and sat[4, 5]
    np.testing.assert_allclose(res, want, atol=1e-5)


def _textured_scene(rng, lows, spans, grey=False, t=40, h=48, w=64):
    """A still scene textured pixel by pixel: channel c uniform in [lows[c], lows[c] + spans[c]) (grey: the first
    channel's values in all three), T frames of it with Gaussian noise of one grey level (grey: the same noise in
    every channel). Returns (the scene (3, h, w), the frames (t, 3, h, w)), grey levels, for a test to change."""
    base = np.stack([lo + span * rng.random((h, w)) for lo, span in zip(lows, spans)])
    if grey:
        base = np.repeat(base[:1], 3, axis=0)
    return base, np.repeat(base[None], t, axis=0) + rng.normal(0, 1.0, size=(t, 1 if grey else 3, h, w))


def _unit(x):
    """Frames in grey levels -> a float32 tensor in [0, 1] (clipped, as a camera's 8 bits are)."""
    return torch.from_numpy((np.clip(x, 0, 255) / 255).astype(np.float32))


def _shadow_clip(grey=False, t=40, h=48, w=64, seed=6):
    """A coloured, textured scene (no foreground in the first 30 frames); then a shadow (the scene at 60% of its
    light, chromaticity and texture kept) over the left quarter, and an object of another colour, as dark, over
    the right quarter (the rest, half the frame, unchanged: no illumination offset). Returns frames (T, 3, h, w) in [0, 1] and the two regions."""
    rng = np.random.default_rng(seed)
    _, x = _textured_scene(rng, (90, 70, 40), (80, 60, 40), grey, t, h, w)
    left = np.zeros((h, w), bool)
    left[:, : w // 4] = True
    right = np.zeros((h, w), bool)
    right[:, 3 * w // 4:] = True
    x[30:, :, left] *= 0.6
    obj = np.array([0.6 * 75, 0.6 * 100, 0.6 * 130]) if not grey else np.full(3, 0.6 * 130 * 0.8)
    x[30:, :, right] = obj[None, :, None] + rng.normal(0, 1.0, size=(t - 30, 1 if grey else 3, int(right.sum())))
    return _unit(x), left, right


def test_a_cast_shadow_is_background_and_a_dark_object_is_not():
    """Horprasert's test: the shadowed quarter keeps the background's chromaticity (a brightness of 0.6, inside
    [SHADOW_MIN, 1)) and is background with ``shadow``, foreground without it; the object of another colour,
    as dark, is foreground either way. On grey video (no chromaticity) the model does not use it without
    ``grey_shadow`` (the API's default): an object of the same grey, darker, stays foreground."""
    x, left, right = _shadow_clip()
    for shadow, want_left in ((True, 0.0), (False, 1.0)):
        m = SampleModel.initialise(x[:30], pixels=0, gain=False, shadow=shadow)
        fg = (m.step(x[30:]).amax(1) > m.k).numpy()
        assert abs(fg[:, left].mean() - want_left) < 0.02, shadow
        assert fg[:, right].mean() > 0.98
    xg, _, right = _shadow_clip(grey=True)
    m = SampleModel.initialise(xg[:30], pixels=0, gain=False, shadow=True)
    assert m._grey
    fg = (m.step(xg[30:]).amax(1) > m.k).numpy()
    assert fg[:, right].mean() > 0.98


def test_grey_video_tests_a_shadow_on_its_brightness_and_texture():
    """Grey video has no chromaticity: with ``grey_shadow`` the shadow test decides on the brightness and the
    texture alone. A textured grey scene; after the window its left quarter at 85% of the light (a shadow: the
    texture kept) and a flat object at 90% of the scene's mean over the right quarter (as dark, but its texture is
    not the scene's). With it the shadow is background and the object foreground; without it (the API's default,
    colour video only) both are foreground."""
    rng = np.random.default_rng(8)
    t, h, w = 40, 48, 64
    base, x = _textured_scene(rng, (90,), (80,), True, t, h, w)
    left, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    left[:, : w // 4] = True
    right[:, 3 * w // 4:] = True
    x[30:, :, left] *= 0.85
    x[30:, :, right] = 0.9 * base[0][right].mean() + rng.normal(0, 1.0, size=(t - 30, 1, int(right.sum())))
    x = _unit(x)
    for grey_shadow in (True, False):
        m = SampleModel.initialise(x[:30], pixels=0, gain=False, shadow=True, shadow_min=0.8, texture=True,
                                   texture_region=5, grey_shadow=grey_shadow)
        assert m._grey
        fg = (m.step(x[30:]).amax(1) > m.k).numpy()
        shade = fg[:, left].mean()
        assert shade < 0.02 if grey_shadow else shade > 0.98, (grey_shadow, shade)
        assert fg[:, right].mean() > 0.98 and fg[:, ~(left | right)].mean() < 0.01


def test_a_brighter_patch_is_background_in_more_light_and_a_brighter_object_is_not():
    """Horprasert's highlighted background: after the window the left eighth of a coloured, textured scene gets 8%
    more light (a lamp's spot: every channel scaled, the texture kept; 12-18 grey levels, 7-10 noise levels), a
    strip beside it 20% more (a translucent bright object over the scene) and the right eighth an object of
    another colour, brighter. With ``highlight=1.1`` the spot is background, the strip and the object foreground;
    with 1 (shadows only) all three are foreground."""
    rng = np.random.default_rng(7)
    t, h, w = 40, 48, 64
    _, x = _textured_scene(rng, (150, 120, 80), (80, 60, 40), False, t, h, w)
    left, strip, right = (np.zeros((h, w), bool) for _ in range(3))  # an eighth of the frame each
    left[:, : w // 8] = True
    strip[:, w // 8: w // 4] = True
    right[:, 7 * w // 8:] = True
    x[30:, :, left] *= 1.08
    x[30:, :, strip] *= 1.2
    obj = np.array([110.0, 230.0, 210.0])[None, :, None]
    x[30:, :, right] = obj + rng.normal(0, 1.0, (t - 30, 3, int(right.sum())))
    x = _unit(x)
    for highlight in (1.1, 1.0):
        m = SampleModel.initialise(x[:30], pixels=0, gain=False, shadow=True, highlight=highlight)
        fg = (m.step(x[30:]).amax(1) > m.k).numpy()
        spot = fg[:, left].mean()
        assert spot < 0.02 if highlight > 1 else spot > 0.8, (highlight, spot)
        assert fg[:, strip].mean() > 0.98 and fg[:, right].mean() > 0.98, highlight


def test_texture_map_against_a_literal_loop():
    """Mean |difference| of horizontally and vertically adjacent grey pixels, each difference split between its
    two pixels, area-averaged to the working size: checked against explicit loops."""
    from bgsub.background.working import working_and_texture

    rng = np.random.default_rng(5)
    x = rng.random((2, 3, 8, 12)).astype(np.float32)
    got = working_and_texture(torch.from_numpy(x), (4, 6))[1]
    for t in range(2):
        g = x[t].mean(axis=0) * 255
        acc = np.zeros_like(g)
        for i in range(8):
            for j in range(12):
                if j + 1 < 12:
                    d = abs(g[i, j + 1] - g[i, j]) / 2
                    acc[i, j] += d
                    acc[i, j + 1] += d
                if i + 1 < 8:
                    d = abs(g[i + 1, j] - g[i, j]) / 2
                    acc[i, j] += d
                    acc[i + 1, j] += d
        want = acc.reshape(4, 2, 6, 2).mean(axis=(1, 3))  # 2 x 2 cells
        np.testing.assert_allclose(got[t], want, rtol=1e-4, atol=1e-3)


def test_texture_sees_an_object_whose_colour_matches_the_background(tmp_path):
    """A striped object (+-25 grey levels, stripes 2 pixels wide) whose mean matches a smooth background: at the
    working size (320 x 240 averaged 2 x 2 pixels to one) its colour is the background's and the colour samples
    miss much of it; the texture channel (measured at the frames' size) sees it."""
    x, gt = _scenario("camouflage", tmp_path, frames=100, h=240, w=320)
    with_t = _f(_masks(x, texture=True), gt)
    without = _f(_masks(x), gt)
    assert with_t >= 0.85 and with_t > without + 0.1


@pytest.mark.parametrize("smax", [1.0, 1.3])
def test_the_shadow_test_against_a_literal_loop(smax):
    """bgsub.background.shadow.shadowed against a per-pixel loop of its definition: at a foreground pixel, alpha =
    <x, bg> / <bg, bg>, the chromaticity distortion max_c |x_c - alpha bg_c| / sigma; a shadow when alpha is in
    [shadow_min, 1) (with an upper bound above 1, ``shadow_max``: [shadow_min, shadow_max), the highlighted
    background as well), the distortion at most k and (with texture) the matches-th nearest texture sample within
    k texture noise levels of tex / alpha."""
    from bgsub.background.shadow import shadowed

    rng = np.random.default_rng(11)
    C, h, w, n, k, smin, matches = 3, 9, 11, 6, 6.0, 0.5, 2
    bg = (60 + 120 * rng.random((C, h, w))).astype(np.float32)
    scale = rng.uniform(0.4, 1.4, (h, w)).astype(np.float32)
    xc = (bg * scale + rng.normal(0, 3, (C, h, w))).astype(np.float32)
    sigma = rng.uniform(1, 3, (h, w)).astype(np.float32)
    zmax = rng.uniform(0, 12, (h, w)).astype(np.float32)
    tex = rng.uniform(2, 20, (h, w)).astype(np.float32)
    ts = rng.uniform(2, 20, (n, 1, h, w)).astype(np.float32)
    tsig = rng.uniform(0.5, 2, (h, w)).astype(np.float32)
    for with_tex in (False, True):
        got = shadowed(xc, zmax, bg, sigma, k, smin, tex if with_tex else None, ts if with_tex else None, tsig,
                       matches, smax)
        want_sh = np.zeros((h, w), bool)
        want_a, want_c = np.ones((h, w)), np.zeros((h, w))
        for y in range(h):
            for x in range(w):
                if zmax[y, x] <= k:
                    continue
                b, v = bg[:, y, x].astype(np.float64), xc[:, y, x].astype(np.float64)
                a = (v * b).sum() / max((b * b).sum(), 1e-6)
                c = np.abs(v - a * b).max() / sigma[y, x]
                ok = smin <= a < smax and c <= k
                if ok and with_tex:
                    d = sorted(abs(tex[y, x] / a - ts[j, 0, y, x]) for j in range(n))
                    ok = d[matches - 1] / tsig[y, x] <= k
                if ok:
                    want_sh[y, x], want_a[y, x], want_c[y, x] = True, a, c
        assert want_sh.sum() > 5  # the case has shadows, and (with texture) fewer of them
        if smax > 1.0:  # ... and highlights
            assert (want_sh & (want_a > 1.0)).sum() > 2
        alpha, sh, cd = got
        np.testing.assert_array_equal(sh, want_sh)
        np.testing.assert_allclose(alpha, want_a, rtol=1e-5)
        np.testing.assert_allclose(cd, want_c, rtol=1e-4, atol=1e-5)
        if not with_tex:
            plain = want_sh.sum()
    assert want_sh.sum() < plain


def test_a_region_s_texture_finds_a_smooth_object_in_front_of_swaying_foliage(tmp_path):
    """``dynamic`` (320 x 240): a person whose mean colour is the swaying foliage's own crosses in front of it. Its
    colour lies within the range the foliage's samples span, and each working pixel's texture spreads as widely
    (the sway moves the leaves' pattern across it), so with ``texture_region=1`` a quarter of a percent of the
    person is found. A region's texture (5 x 5 working pixels) keeps the foliage's texture density while its
    pattern moves: its texture samples are tight, and a sixth of the person or more is found (a quarter with the
    camera noise of consecutive frames, 1.66 grey levels here; 2.22 at the noise lag of 12 frames, the texture's
    floor, one 8-bit step of the working size more), with no more false positives in the foliage."""
    x, gt = _scenario("dynamic", tmp_path, frames=100, h=240, w=320)
    band = np.zeros(gt.shape[1:], bool)
    band[round(0.08 * 240) : round(0.08 * 240) + round(0.30 * 240)] = True
    walker, leaves = gt & band[None], ~gt & band[None]
    own = _masks(x, texture=True, texture_region=1, dynamics="nn", motion="both")
    region = _masks(x, texture=True, texture_region=5, dynamics="nn", motion="both")
    assert own[walker].mean() < 0.05 and region[walker].mean() > 0.15
    assert region[leaves].mean() <= own[leaves].mean() + 0.001
    with pytest.raises(BgsubError, match="texture_region"):
        SampleModel.initialise(x[:10], texture=True, texture_region=4)


def test_the_masked_region_texture_finds_more_of_the_walker_than_silence_and_no_more_in_the_leaves(tmp_path):
    """``texture_halo``: next to colour foreground the old rule silenced the texture (no halo around an object's
    edge), and so silenced the walker itself where colour finds it in specks. ``mask`` measures each region's
    texture over the pixels colour did not claim (normalized convolution) with the noise of that smaller average:
    more of the walker (0.17 -> 0.28 of its pixels here, the model alone thresholded), no more false positives in
    the leaves (0.22% both), and ``camouflage``'s objects found (0.96 -> 0.98)."""
    x, gt = _scenario("dynamic", tmp_path, frames=100, h=240, w=320)
    band = np.zeros(gt.shape[1:], bool)
    band[round(0.08 * 240) : round(0.08 * 240) + round(0.30 * 240)] = True
    walker, leaves = gt & band[None], ~gt & band[None]
    kw = dict(texture=True, texture_region=5, dynamics="nn", motion="both")
    silence = _masks(x, texture_halo="silence", **kw)
    mask = _masks(x, texture_halo="mask", **kw)
    assert mask[walker].mean() > silence[walker].mean() + 0.05
    assert mask[leaves].mean() <= silence[leaves].mean() + 0.001
    y, gty = _scenario("camouflage", tmp_path / "c", frames=100, h=240, w=320)
    assert _masks(y, texture_halo="mask", **kw)[gty].mean() > 0.9
    import dataclasses

    from bgsub.background.state import start
    from bgsub.config import Config

    with pytest.raises(BgsubError, match="texture_halo must be one of bound, outside, silence, mask, got 'edge'"):
        start(x[:10], dataclasses.replace(Config().background, texture_halo="edge"), pixels=19200)


def test_a_striped_object_colour_finds_in_specks_keeps_its_texture_at_the_frames_resolution(tmp_path):
    """``texture_halo=outside`` (the default): the ``camouflage`` scenario's striped object (+-25 grey levels in
    2-pixel stripes, its mean the scene's) at 160 x 120, the working size itself: colour sees each stripe at about
    its noise threshold (25 grey levels against 6 noise levels of 4.4), so it claims the object in specks, and
    ``silence`` silences the texture over the whole object (every pixel is near a speck). ``outside`` lets the
    texture speak in the specks' one-pixel gaps: 0.33 -> 0.65 of the object's pixels here (the model alone
    thresholded; the shipped network on the inputs finds 0.87 of them), no more false positives outside it."""
    x, gt = _scenario("camouflage", tmp_path, frames=100, h=120, w=160)
    stripes = gt.copy()
    stripes[:, 60:] = False  # the striped object (the flat dark ellipse crosses the lower half)
    kw = dict(texture=True, texture_region=5, dynamics="nn", motion="both")
    silence = _masks(x, texture_halo="silence", **kw)
    outside = _masks(x, texture_halo="outside", **kw)
    assert silence[stripes].mean() < 0.4 and outside[stripes].mean() > silence[stripes].mean() + 0.2
    assert outside[~gt].mean() <= silence[~gt].mean() + 0.001


def test_the_halo_bound_against_a_literal_loop():
    """``texture_halo=bound``: each pixel's texture z (the ``matches``-th smallest |texture - sample| over the noise
    level), median-filtered over 3 x 3 (edges replicated); within ``region + 2`` of colour foreground (its one-pixel
    gaps excepted) the ``matches``-th smallest *rise* above the samples less twice the largest colour contrast of
    the foreground within that reach, floored at 0, over the noise level, filtered the same way: a literal loop."""
    from bgsub.background.texture import HALO_BOUND, region_z

    rng = np.random.default_rng(11)
    h, w, n, m, region = 10, 13, 6, 2, 3
    ts = (rng.random((n, h, w)) * 10).astype(np.float32)
    tex = (rng.random((h, w)) * 14).astype(np.float32)
    tsig = (0.5 + rng.random((h, w))).astype(np.float32)
    fg = rng.random((h, w)) < 0.12
    contrast = (rng.random((h, w)) * 3).astype(np.float32)
    r = region + 2

    def box(y, x, half):
        return [(j, i) for j in range(y - half, y + half + 1) for i in range(x - half, x + half + 1)
                if 0 <= j < h and 0 <= i < w]

    near = np.array([[any(fg[j, i] for j, i in box(y, x, r // 2)) for x in range(w)] for y in range(h)])
    dil = np.array([[max(fg[j, i] for j, i in box(y, x, 1)) for x in range(w)] for y in range(h)])
    gaps = np.array([[min(dil[j, i] for j, i in box(y, x, 1)) for x in range(w)] for y in range(h)]) & ~fg
    near &= ~gaps
    z0 = np.zeros((h, w))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            z0[y, x] = sorted(abs(float(tex[y, x]) - float(ts[j, y, x])) for j in range(n))[m - 1] / tsig[y, x]
            rise = sorted(max(float(tex[y, x]) - float(ts[j, y, x]), 0.0) for j in range(n))[m - 1]
            d = max([float(contrast[j, i]) for j, i in box(y, x, r // 2) if fg[j, i]], default=0.0)
            b[y, x] = max(rise - HALO_BOUND * d, 0.0) / tsig[y, x] if near[y, x] else z0[y, x]

    def median3(a):
        return np.array([[np.median([a[min(max(j, 0), h - 1), min(max(i, 0), w - 1)]
                                     for j in range(y - 1, y + 2) for i in range(x - 1, x + 2)])
                          for x in range(w)] for y in range(h)])

    want = median3(z0)
    want[near] = median3(b)[near]
    got = region_z(tex, ts, tsig, m, fg, region, "bound", contrast)
    assert near.any() and gaps.any() and (want[near] > 0).any() and (want[near] < median3(z0)[near]).any()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    outside = region_z(tex, ts, tsig, m, fg, region, "outside")
    np.testing.assert_allclose(outside[~near], want[~near], rtol=1e-5, atol=1e-5)
    assert (outside[near] == 0).all()
    with pytest.raises(ValueError, match="contrast"):
        region_z(tex, ts, tsig, m, fg, region, "bound")


def test_the_halo_bound_keeps_a_low_contrast_objects_texture_and_silences_a_contrasted_edges_halo():
    """A hand-made case (texture samples 2 grey levels, noise level 0.7, region 5): a striped object colour claims
    in 2 x 2 specks 5 grey levels off the scene, 3 pixels apart (its texture 50, far above any halo specks of 5 levels can throw:
    at most 2 x 5), and beside it a flat object of contrast 60 whose edge raises its surroundings' texture by 30
    (within its bound of 120). ``outside`` silences both but the specks' one-pixel gaps; ``bound`` keeps the
    striped object whole and the flat object's halo silent."""
    from bgsub.background.texture import region_z

    h, w = 40, 60
    ts = np.full((20, h, w), 2.0, np.float32)
    tsig = np.full((h, w), 0.7, np.float32)
    tex = np.full((h, w), 2.0, np.float32)
    fg = np.zeros((h, w), bool)
    contrast = np.zeros((h, w), np.float32)
    tex[10:26, 5:21] = 50.0  # the striped object, its specks 2 x 2 every 5 pixels (gaps no closing fills)
    for y in range(10, 26, 5):
        for x in range(5, 21, 5):
            fg[y : y + 2, x : x + 2] = True
            contrast[y : y + 2, x : x + 2] = 5.0
    fg[12:24, 38:50] = True  # the flat object, claimed whole; its edge's halo around it
    contrast[12:24, 38:50] = 60.0
    tex[9:27, 35:53] = 32.0
    tex[12:24, 38:50] = 2.0
    halo = np.zeros((h, w), bool)
    halo[9:27, 35:53] = True
    halo[12:24, 38:50] = False
    inside = np.zeros((h, w), bool)
    inside[11:25, 6:20] = True  # the striped object less its border (the 3 x 3 median reaches across it)
    k = 6.0
    outside = region_z(tex, ts, tsig, 2, fg, 5, "outside") > k
    bound = region_z(tex, ts, tsig, 2, fg, 5, "bound", contrast) > k
    assert outside[inside].mean() < 0.5
    assert bound[inside].all()
    assert not outside[halo].any() and not bound[halo].any()


def test_the_halo_bound_finds_more_of_a_striped_object_at_640_x_480(tmp_path):
    """The ``camouflage`` scenario at 640 x 480 (60 frames; the working size 160 x 120 averages 16 pixels, so the
    colour noise is a quarter of the frame's, and colour claims the striped object in patches wherever the scene's
    shading under it departs from its mean by a few grey levels): the defaults' model thresholded finds about a
    third of the object with ``texture_halo=outside`` and more than two fifths with ``bound`` (0.32 -> 0.44 when
    measured; half the frames lose the 2-pixel stripes on the way to the texture size, twice the working size per
    side, whatever the rule), no more false positives."""
    import dataclasses

    import torch.nn.functional as F

    from bgsub.background.state import start
    from bgsub.config import Config

    x, gt = _scenario("camouflage", tmp_path, frames=60, h=480, w=640)
    stripes = gt.copy()
    stripes[:, 264:] = False  # the striped object (the flat dark ellipse crosses the lower half)
    got = {}
    for halo in ("outside", "bound"):
        bc = dataclasses.replace(Config().background, texture_halo=halo)
        z = start(x[:100], bc, pixels=19200).step(x).amax(1, keepdim=True)
        z = F.interpolate(z, size=x.shape[-2:], mode="bilinear", align_corners=False)
        got[halo] = (z[:, 0] > bc.k).numpy()
    assert got["bound"][stripes].mean() > got["outside"][stripes].mean() + 0.08
    assert got["bound"][~gt].mean() <= got["outside"][~gt].mean() + 0.001


def test_halo_gaps_against_a_literal_closing():
    """The one-pixel gaps of colour's foreground: the pixels not claimed that every 3 x 3 square over them (inside
    the frame) holds a claimed pixel of - the closing (the dilation, then the erosion, each over the frame's pixels
    only) less the claimed pixels: a literal loop."""
    from bgsub.background.texture import halo_gaps

    rng = np.random.default_rng(3)
    fg = (rng.random((9, 12)) < 0.45).astype(np.uint8)
    fg[0, :] = 0
    h, w = fg.shape

    def around(y, x):
        return [(j, i) for j in range(y - 1, y + 2) for i in range(x - 1, x + 2) if 0 <= j < h and 0 <= i < w]

    dil = np.array([[max(fg[j, i] for j, i in around(y, x)) for x in range(w)] for y in range(h)])
    closed = np.array([[min(dil[j, i] for j, i in around(y, x)) for x in range(w)] for y in range(h)])
    want = (closed == 1) & (fg == 0)
    got = halo_gaps(fg)
    assert want.any() and np.array_equal(got, want)


def test_masked_region_against_a_literal_normalized_convolution():
    """Each pixel's box mean of the unclaimed pixels' texture (the frame's edge mirrored), their share of the box,
    and 0 where that share is at most KEPT_MIN: a literal loop over the boxes."""
    import cv2

    from bgsub.background.texture import KEPT_MIN, masked_region

    rng = np.random.default_rng(5)
    raw = (rng.random((9, 11)) * 20).astype(np.float32)
    claimed = np.zeros((9, 11), bool)
    claimed[2:7, 3:9] = True  # a block: boxes inside it keep under KEPT_MIN of their pixels
    claimed[0, 0] = True
    got, share = masked_region(raw, claimed, 5)
    rp = np.pad(raw.astype(np.float64), 2, mode="symmetric")
    kp = np.pad((~claimed).astype(np.float64), 2, mode="symmetric")
    want, want_share = np.zeros((9, 11)), np.zeros((9, 11))
    for y in range(9):
        for x in range(11):
            kb = kp[y : y + 5, x : x + 5]
            want_share[y, x] = kb.sum() / 25
            if want_share[y, x] > KEPT_MIN:
                want[y, x] = (rp[y : y + 5, x : x + 5] * kb).sum() / kb.sum()
    assert (want_share <= KEPT_MIN).any() and (want_share == 1).any()  # the case has both kinds of box
    np.testing.assert_allclose(share, want_share, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    plain = cv2.blur(raw, (5, 5), borderType=cv2.BORDER_REFLECT)
    nothing, _ = masked_region(raw, np.zeros_like(claimed), 5)
    np.testing.assert_allclose(nothing, plain, rtol=1e-5)  # nothing claimed: the plain box average


def test_region_z_against_a_literal_loop():
    """The texture's z (:func:`bgsub.background.texture.region_z`): each pixel's ``matches``-th smallest distance
    to its texture samples over its noise level, the median of the 3 x 3 pixels around it (the frame's edge
    repeated), then 0 within the region + 2 square around colour foreground, except (``outside``) in the one-pixel
    gaps of that foreground (3 x 3 closing less the foreground): a literal loop over the pixels."""
    from bgsub.background.texture import region_z

    rng = np.random.default_rng(7)
    h, w, n = 9, 12, 5
    ts = (rng.random((n, h, w)) * 30).astype(np.float32)
    tex = (rng.random((h, w)) * 30).astype(np.float32)
    tsig = (1 + rng.random((h, w)) * 3).astype(np.float32)
    fg = np.zeros((h, w), bool)
    fg[4, 2] = fg[4, 4] = True  # a one-pixel gap at (4, 3)
    fg[0, 11] = True
    z = np.sort(np.abs(ts.astype(np.float64) - tex), axis=0)[1] / tsig
    zp = np.pad(z, 1, mode="edge")
    med = np.array([[np.median(zp[y:y + 3, x:x + 3]) for x in range(w)] for y in range(h)])

    def square(y, x, r):
        return [(j, i) for j in range(y - r // 2, y + r // 2 + 1) for i in range(x - r // 2, x + r // 2 + 1)
                if 0 <= j < h and 0 <= i < w]

    dil = np.array([[any(fg[j, i] for j, i in square(y, x, 3)) for x in range(w)] for y in range(h)])
    gaps = np.array([[all(dil[j, i] for j, i in square(y, x, 3)) for x in range(w)] for y in range(h)]) & ~fg
    for region, halo in ((1, "silence"), (1, "outside"), (3, "outside")):
        near = np.array([[any(fg[j, i] for j, i in square(y, x, region + 2)) for x in range(w)] for y in range(h)])
        if halo == "outside":
            near &= ~gaps
        want = np.where(near, 0.0, med)
        got = region_z(tex, ts, tsig, 2, fg, region, halo)
        assert got.dtype == np.float32 and (want > 0).sum() > h * w // 3 and (want == 0).sum() > 8
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert gaps[4, 3] and region_z(tex, ts, tsig, 2, fg, 1, "outside")[4, 3] == np.float32(med[4, 3])


def test_the_texture_region_is_a_box_average_of_each_pixel_s_texture():
    """``region`` r: each working pixel's texture averaged over the r x r pixels around it, the frame's edge
    mirrored (a literal loop over the pixels here)."""
    from bgsub.background.working import working_and_texture

    rng = np.random.default_rng(2)
    frames = torch.from_numpy(rng.random((2, 3, 24, 32), dtype=np.float32))
    x1, t1 = working_and_texture(frames, (12, 16))
    x3, t3 = working_and_texture(frames, (12, 16), region=3)
    np.testing.assert_array_equal(x1, x3)
    pad = np.pad(t1.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    want = np.zeros_like(t1, dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            want += pad[:, dy : dy + 12, dx : dx + 16]
    np.testing.assert_allclose(t3, want / 9, rtol=1e-5, atol=1e-4)


def test_a_shadow_keeps_the_texture_it_falls_on(tmp_path):
    """The striped object of ``camouflage`` (stripes 2 pixels wide, +-25 grey levels about the background's mean):
    at the working size its dark columns are the wall scaled by about 0.8 with the wall's chromaticity, a
    Horprasert shadow, and the bright ones beside them are colour foreground, which silences the texture next
    to them. A shadow must also keep the texture it falls on (``shadow_texture``, the default): the object is
    found as without a shadow test; without that rule a shadow test down to half the light loses much of it. (With
    ``texture_halo=silence``: the default, ``outside``, lets the texture speak in the one-pixel gaps between the
    bright columns, and finds the object even without the rule, F 0.970.)"""
    x, gt = _scenario("camouflage", tmp_path, frames=100, h=240, w=320)
    kw = dict(texture=True, texture_halo="silence")
    plain = _f(_masks(x, **kw), gt)
    kept = _f(_masks(x, shadow=True, shadow_min=0.5, **kw), gt)
    lost = _f(_masks(x, shadow=True, shadow_min=0.5, shadow_texture=False, **kw), gt)
    assert kept >= plain - 0.005 and kept > lost + 0.05


@pytest.mark.parametrize("heal", [False, True])
def test_the_fast_step_equals_the_plain_numpy_step(monkeypatch, heal):
    """The model stepped with the fast arithmetic (OpenCV running minima, the channel maximum once) and with plain
    NumPy (float64 running minima cast back, ``z.max(axis=0)``) gives the same residuals and the same samples, bit
    for bit, frame after frame (random updates included)."""
    import bgsub.background.samples as S
    import bgsub.background.stats as T

    rng = np.random.default_rng(5)
    frames = torch.from_numpy(rng.random((60, 3, 36, 44), dtype=np.float32) * 0.1 + 0.4)
    frames[30:, 0, 10:20, 5:25] += 0.4  # an object that arrives and stays, in one channel only
    kw = dict(n=8, pixels=0, heal=heal, still=3 if heal else 8, seed=7)
    fast = SampleModel.initialise(frames[:20], **kw)
    z_fast = fast.step(frames[20:])
    monkeypatch.setattr(T, "_kth_smallest_cv", lambda s, x, k, rc: T.kth_smallest(
        s.astype(np.float64), x.astype(np.float64), k, rc).astype(np.float32))
    monkeypatch.setattr(S, "_channel_max", lambda z: z.max(axis=0))
    plain = SampleModel.initialise(frames[:20], **kw)
    z_plain = plain.step(frames[20:])
    assert torch.equal(z_fast, z_plain)
    assert np.array_equal(fast.samples, plain.samples) and fast.frames_seen == plain.frames_seen == 40
    assert (fast.samples != SampleModel.initialise(frames[:20], **kw).samples).any()  # the updates did run


@pytest.mark.parametrize("n", [1, 5, 20])
def test_median0_equals_numpy_median(n):
    a = np.random.default_rng(n).random((n, 3, 7, 9)).astype(np.float32)
    from bgsub.background.samples import median0

    np.testing.assert_array_equal(median0(a), np.median(a, axis=0))


def test_robust_spread_hand_computed():
    """Samples 10, 10, 11, 9, 100 at one pixel: median 10, median absolute deviation 1 (sigma 1.4826); the
    conservative pass replaces 100 (90 > 6 x 1.4826 off) by 10, and the deviations 0, 0, 1, 1, 0 leave a median of
    0: sigma falls to the floor given (0.5)."""
    from bgsub.background.stats import robust_spread

    s = np.array([10, 10, 11, 9, 100], np.float32).reshape(5, 1, 1, 1)
    _, sigma, low = robust_spread(s, 6.0, 0.5, clean=False)
    assert sigma[0, 0] == pytest.approx(1.4826) and low == pytest.approx(1.4826)
    out, sigma, low = robust_spread(s, 6.0, 0.5, clean=True)
    np.testing.assert_array_equal(out.ravel(), [10, 10, 11, 9, 10])
    assert sigma[0, 0] == pytest.approx(0.5) and low == 0.5
    # some pixels of a frame (the open horizon's): the floor given is the floor, not their own median MAD
    _, sigma, low = robust_spread(s, 6.0, 0.5, clean=False, fixed_floor=True)
    assert sigma[0, 0] == pytest.approx(1.4826) and low == 0.5
    _, sigma, low = robust_spread(s, 6.0, 3.0, clean=False, fixed_floor=True)
    assert sigma[0, 0] == pytest.approx(3.0) and low == 3.0


@pytest.mark.parametrize("shape", [(20, 3, 30, 40), (20, 1, 12, 16), (7, 3, 25, 1), (20, 3, 9)])
@pytest.mark.parametrize("clean", [True, False])
def test_robust_spread_equals_the_literal_recomputation(shape, clean):
    """The conservative pass's second median absolute deviation is taken from the first pass's deviations (a
    replaced sample deviates by 0): the same samples, noise levels and floor as computing the deviations of the
    new samples from scratch with NumPy (the literal definition below), with and without ``over``."""
    from bgsub.background.stats import robust_spread

    rng = np.random.default_rng(sum(shape))
    s = rng.normal(100.0, 3.0, shape).astype(np.float32)
    s[rng.random(shape) < 0.1] += 50.0  # objects that crossed the window: outliers in some channels
    for over in (None, rng.random(shape[2:]) < 0.5):
        med = np.median(s, axis=0)
        mad = np.median(np.abs(s - med[None]).max(axis=1), axis=0) * 1.4826
        low = max(1.0, float(np.median(mad if over is None else mad[over])))
        want_s, want_sig = s, np.maximum(mad, low).astype(np.float32)
        if clean:
            off = np.abs(s - med[None]).max(axis=1) > 6.0 * want_sig[None]
            want_s = np.where(off[:, None], med[None], s).astype(np.float32)
            mad = np.median(np.abs(want_s - med[None]).max(axis=1), axis=0) * 1.4826
            low = max(1.0, float(np.median(mad if over is None else mad[over])))
            want_sig = np.maximum(mad, low).astype(np.float32)
        got_s, got_sig, got_low = robust_spread(s, 6.0, 1.0, clean, over=over)
        assert got_s.dtype == np.float32 and got_low == low
        np.testing.assert_array_equal(got_s, want_s)
        np.testing.assert_array_equal(got_sig, want_sig)


@pytest.mark.parametrize("shape", [(100, 3, 24, 32), (5, 1, 7, 9), (2, 3, 1, 5), (3, 3, 2, 1), (1, 3, 8, 8),
                                   (20, 3, 30, 1)])
def test_window_measures_frame_by_frame_equal_the_whole_array_formulas(shape):
    """The window's gradient, frame differences, displacement and camera noise, computed a frame (a pair) at a time
    in place, against their whole-array NumPy formulas (literal here), bit for bit: 8-bit grey levels and
    arbitrary floats, frames of one row or column."""
    import math

    from bgsub.background.stats import NOISE_LAG, QUANT, _displacement, _gradient, _motion, immerkaer, noise_level

    rng = np.random.default_rng(sum(shape))
    x = np.round(rng.random(shape) * 255).astype(np.float32)
    x[..., :1] += rng.normal(0.0, 1.0, shape[:-1] + (1,)).astype(np.float32)  # not only whole grey levels
    gy, gx = np.zeros(x.shape, np.float32), np.zeros(x.shape, np.float32)
    gy[..., 1:-1, :] = 0.5 * (x[..., 2:, :] - x[..., :-2, :])
    gx[..., :, 1:-1] = 0.5 * (x[..., :, 2:] - x[..., :, :-2])
    grad = np.sqrt(gx * gx + gy * gy).max(axis=1)
    np.testing.assert_array_equal(_gradient(x), grad)
    T = shape[0]
    want = np.zeros((T,) + shape[2:], np.float32)
    if T > 1:
        d = np.abs(np.diff(x, axis=0)).max(axis=1)
        want[0], want[-1] = d[0], d[-1]
        want[1:-1] = np.maximum(d[:-1], d[1:])
    np.testing.assert_array_equal(_motion(x, 1), want)
    np.testing.assert_array_equal(_displacement(want, x, 2.0), (want / np.maximum(grad, np.float32(2.0))))
    floor = QUANT / math.sqrt(4.0)
    spatial = float(np.median([immerkaer(x[t, c]) for t in range(min(T, 5)) for c in range(shape[1])]))
    if T > 1:
        lag = min(T - 1, NOISE_LAG)
        d = x[lag : 64 + lag] - x[: min(64, T - lag)]
        d = np.abs(d - np.median(d.reshape(d.shape[0], d.shape[1], -1), axis=2)[:, :, None, None]).ravel()
        spatial = min(float(np.percentile(d, 25)) / (0.3186 * math.sqrt(2.0)), spatial)
    assert noise_level(x, 4.0) == max(floor, spatial)


def _two_mode_clip(T=60, h=40, w=50, sigma=2.0, seed=4):
    """Grey scene (100) with noise; in a patch a leaf (60, 140, 60) rests in front of it for 10 frames of every 20
    (still in both states): the patch's background has two modes."""
    rng = np.random.default_rng(seed)
    x = np.full((T, 3, h, w), 100.0) + rng.normal(0, sigma, size=(T, 3, h, w))
    leaf = np.array([60.0, 140.0, 60.0])[:, None, None]
    for t in range(T):
        if (t // 10) % 2:
            x[t, :, 10:30, 15:35] = leaf + rng.normal(0, sigma, size=(3, 20, 20))
    return x


def test_the_nn_spread_against_a_literal_loop_and_a_two_mode_pixel_keeps_each_mode_s_width():
    """``dynamics="nn"`` (the config's ``background.spread`` default): sigma is the samples' nearest-neighbour
    spread, per channel (a literal loop over samples and channels here), floored at the MAD floor; the statistic
    is calibrated to Gaussian noise by ``spread_ratio`` (checked against known noise in its own test). A pixel whose
    samples hold two modes (a leaf that rested in front of the scene) gets the modes' own width: an object 40 grey
    levels off both is foreground, where the MAD (spanning both modes) calls it background; either mode itself
    stays background."""
    x = _two_mode_clip()
    frames = torch.from_numpy((x / 255).astype(np.float32))
    nn = SampleModel.initialise(frames, pixels=0, init="window", dynamics="nn")
    mad = SampleModel.initialise(frames, pixels=0, init="window", dynamics="mad")
    ratio = spread_ratio(20, 3, 6, 75.0)  # each sample's 6th nearest other (20 // 3), the 75th percentile
    for y, xx in ((20, 25), (12, 17), (3, 3)):  # two in the patch, one outside
        s = nn.samples[:, :, y, xx].astype(np.float64)  # (n, C)
        per = []
        for j in range(s.shape[0]):
            sixth = [sorted(abs(s[j, c] - s[i, c]) for i in range(s.shape[0]))[6] for c in range(3)]  # itself first
            per.append(max(sixth))
        assert nn.sigma[y, xx] == pytest.approx(max(np.percentile(per, 75) / ratio, nn.noise), rel=1e-4)
    patch = (slice(10, 30), slice(15, 35))
    assert np.median(nn.sigma[patch]) < 6.0 < 15.0 < np.median(mad.sigma[patch])  # the floor (MAD scale) vs the span
    obj = np.full((3, 40, 50), 100.0) + np.random.default_rng(5).normal(0, 2.0, size=(3, 40, 50))
    obj[:, 10:30, 15:35] = np.array([140.0, 100.0, 140.0])[:, None, None]  # 40 off grey, 40-80 off the leaf
    probe = np.stack([x[0], x[10], obj])  # the scene, the leaf, the object
    probe = torch.from_numpy((probe / 255).astype(np.float32))
    z_nn, z_mad = nn.step(probe).amax(1).numpy(), mad.step(probe).amax(1).numpy()
    assert (z_nn[:2][:, patch[0], patch[1]] <= nn.k).mean() > 0.95  # both modes are background
    assert (z_nn[2][patch] > nn.k).mean() > 0.95  # the object is not
    assert (z_mad[2][patch] > mad.k).mean() < 0.05  # the MAD's noise level spans it


def _swaying_clip(T=60, h=40, w=50, sigma=2.0, seed=7):
    """Grey scene (100) with noise; in a patch every frame shows a leaf whose green and red sway over a continuous
    range (green 80-160, red 40-80: a value drawn afresh each frame for each pixel), as a branch moving in the wind
    shows a pixel its leaves, their edges and the sky between."""
    rng = np.random.default_rng(seed)
    x = np.full((T, 3, h, w), 100.0) + rng.normal(0, sigma, size=(T, 3, h, w))
    u = rng.uniform(0.0, 1.0, size=(T, 20, 20))
    x[:, 0, 10:30, 15:35] = 40.0 + 40.0 * u
    x[:, 1, 10:30, 15:35] = 80.0 + 80.0 * u
    x[:, 2, 10:30, 15:35] = 40.0 + 40.0 * u
    return x


def test_one_noise_level_for_every_pixel_the_samples_hold_the_sway():
    """``dynamics="camera"`` (the config's ``background.spread`` default since the thirtieth session): every pixel's
    noise level is the video's (the floor: the same number at a swaying pixel as at a still one), and the samples
    alone carry the sway. A person in front of the swaying leaves whose colour lies 40 grey levels outside their
    range is foreground; with ``"nn"`` the leaves' noise level is their range's width (a Gaussian's standard
    deviation fitted to it), and k of them reach past him: background. The leaves themselves stay background."""
    x = _swaying_clip()
    frames = torch.from_numpy((x / 255).astype(np.float32))
    cam = SampleModel.initialise(frames, pixels=0, init="window", dynamics="camera")
    nn = SampleModel.initialise(frames, pixels=0, init="window", dynamics="nn")
    patch = (slice(10, 30), slice(15, 35))
    assert np.all(cam.sigma == np.float32(cam.noise))  # one number: the swaying patch's as the still scene's
    assert cam.noise < 4.0 < 10.0 < np.median(nn.sigma[patch])  # the camera's (sigma 2) vs the leaves' range
    rng = np.random.default_rng(8)
    obj = np.full((3, 40, 50), 100.0) + rng.normal(0, 2.0, size=(3, 40, 50))
    obj[:, 10:30, 15:35] = np.array([40.0, 200.0, 40.0])[:, None, None]  # green 40 above the leaves' brightest
    leaves = np.full((3, 40, 50), 100.0) + rng.normal(0, 2.0, size=(3, 40, 50))
    u = rng.uniform(0.0, 1.0, size=(20, 20))
    leaves[:, 10:30, 15:35] = np.stack([40.0 + 40.0 * u, 80.0 + 80.0 * u, 40.0 + 40.0 * u])
    probe = torch.from_numpy((np.stack([leaves, obj]) / 255).astype(np.float32))
    z_cam, z_nn = cam.step(probe).amax(1).numpy(), nn.step(probe).amax(1).numpy()
    assert (z_cam[0][patch] <= cam.k).mean() > 0.95  # the leaves: within a noise radius of two samples
    assert (z_cam[1][patch] > cam.k).mean() > 0.95  # the person in front of them
    assert (z_nn[1][patch] > nn.k).mean() < 0.05  # the leaves' range as the noise level hides him


def test_an_object_over_most_of_the_frame_is_not_a_light_change():
    """The illumination offset is kept only when it explains more of the frame than no change at all: leaves
    over 70% of the frame make the median offset theirs (it would bring them into the background's light); a
    real change of light over the whole frame is still undone."""
    from bgsub.background import illumination

    rng = np.random.default_rng(6)
    bg = rng.uniform(60, 200, size=(3, 60, 80)).astype(np.float32)
    sigma = np.full((60, 80), 2.0, np.float32)
    x = bg + rng.normal(0, 1.0, size=bg.shape).astype(np.float32)
    x[:, :, :56] = np.array([40.0, 90.0, 30.0], np.float32)[:, None, None] + rng.normal(0, 1.0, (3, 60, 56))
    off = illumination.offset(x, bg)
    assert np.abs(off).max() > 20  # the median offset is the leaves'
    out = illumination.gain_compensated(x, bg, sigma, 6.0, off)
    np.testing.assert_array_equal(out, x)  # no change of light undone
    lit = bg + 15.0 + rng.normal(0, 1.0, size=bg.shape).astype(np.float32)  # the light, everywhere
    out = illumination.gain_compensated(lit, bg, sigma, 6.0, illumination.offset(lit, bg))
    assert np.abs(out - bg).mean() < 1.5


@pytest.mark.parametrize("override, message", [
    ("background.spread=median", "background.spread must be camera, nn or mad, got 'median'"),
    ("background.shadow=1.5", "background.shadow must be 0 (off)"),
    ("background.open_horizon=-1", "background.open_horizon must be 0 (off) or a frame number, got -1"),
    ("background.short=2", "background.short must be 0 (off) or the share of a short window's frames"),
    ("background.ghost=-1", "background.ghost must be 0 (off) or the frames a region must stand still"),
    ("background.highlight=0.9", "background.highlight must be 1 (off) or the most light"),
    ("background.white=300", "background.white must be 0 (measured from the frames) or the grey level"),
    ("background.white=8", "background.white must be 0 (measured from the frames) or the grey level"),
])
def test_bad_background_settings_are_one_line_errors(override, message):
    from bgsub.background.state import start
    from bgsub.config import load_config
    from bgsub.errors import BgsubError

    cfg = load_config(None, overrides=[override])
    with pytest.raises(BgsubError) as e:
        start(torch.zeros(4, 3, 24, 32), cfg.background, pixels=cfg.model.pixels)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_knn_distance_of_a_transposed_view():
    """Samples laid out as a view whose last axes are transposed (the conservative pass's output can be): the
    same distances as the contiguous copy's, and as the literal pairwise k-th smallest (the sort's flat write-back
    once went to a copy there, returning uninitialised memory)."""
    from bgsub.background.stats import knn_distance

    rng = np.random.default_rng(3)
    base = np.round(rng.normal(50, 10, (20, 3, 1, 5)), 0).astype(np.float32)
    base[1:, :, :, :2] = base[1:2, :, :, :2]  # 19 identical samples in two pixels (a ghost's taken values)
    view = np.ascontiguousarray(base.transpose(0, 3, 2, 1)).transpose(0, 3, 2, 1)  # strides of a transpose
    assert not view.flags.c_contiguous and np.array_equal(view, base)
    got = knn_distance(view, 6)
    ref = np.stack([np.sort(np.abs(base - base[j][None]), axis=0)[6] for j in range(20)])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, knn_distance(base, 6))


@pytest.mark.parametrize("k", [1, 2, 6, 19])
@pytest.mark.parametrize("ties", [False, True])
def test_knn_distance_equals_the_pairwise_kth_smallest(k, ties):
    """One sort per channel gives each sample's k-th nearest other sample: the same values, bit for bit, as the
    pairwise kth_smallest (itself checked against a sort), with and without ties (quantised values)."""
    from bgsub.background.stats import knn_distance

    rng = np.random.default_rng(k)
    s = rng.normal(100, 3, size=(20, 3, 12, 16)).astype(np.float32)
    if ties:
        s = np.round(s)
    ref = np.stack([kth_smallest(s, s[j], k + 1) for j in range(20)])
    np.testing.assert_array_equal(knn_distance(s, k), ref)


@pytest.mark.parametrize("n", [1, 2, 5, 20, 33])
def test_sort_with_index_equals_a_stable_argsort(n):
    """The packed-key sort gives a stable argsort's order and values: negative and positive values, many ties
    (ties keep the index order), a column of one value, odd and even counts; knn_distance on negative values and
    ties equals the pairwise kth_smallest (float64 goes through the argsort itself)."""
    from bgsub.background.stats import knn_distance, sort_with_index

    rng = np.random.default_rng(n)
    s = np.round(rng.normal(0, 2, size=(n, 3, 5, 7))).astype(np.float32)  # ties and negatives
    s[:, 0, 0, 0] = 1.5  # one value in a whole column
    s[:, 1] += rng.normal(0, 1e-3, size=s[:, 1].shape).astype(np.float32)  # distinct values
    v, order = sort_with_index(s)
    ref = np.argsort(s, axis=0, kind="stable")
    np.testing.assert_array_equal(order, ref)
    np.testing.assert_array_equal(v, np.take_along_axis(s, ref, axis=0))
    for k in (1, 2, 6):
        want = np.stack([kth_smallest(s, s[j], min(k, n - 1) + 1) for j in range(n)])
        np.testing.assert_array_equal(knn_distance(s, k), want)
        s64 = s.astype(np.float64)
        want64 = np.stack([np.sort(np.abs(s64 - s64[j]), axis=0)[min(k, n - 1)] for j in range(n)])
        np.testing.assert_array_equal(knn_distance(s64, k), want64)


@pytest.mark.parametrize("q", [0.0, 10.0, 33.3, 50.0, 62.5, 75.0, 90.0, 100.0])
@pytest.mark.parametrize("n", [1, 2, 19, 20])
def test_percentile0_equals_numpy_percentile(q, n):
    """The percentile over axis 0 from one sort: np.percentile's values bit for bit (its linear interpolation,
    from the lower value below a weight of 0.5 and from the upper one above), float32 and float64, with ties."""
    from bgsub.background.stats import percentile0

    rng = np.random.default_rng(n)
    for dtype in (np.float32, np.float64):
        a = (rng.normal(10, 30, size=(n, 6, 9))).astype(dtype)
        a[:, 0] = np.round(a[:, 0] / 20)
        got, want = percentile0(a, q), np.percentile(a, q, axis=0)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 4800, 4801])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_median_rows_equals_numpy_median(n, dtype, ties):
    """The per-row median by one partition gives np.median's values bit for bit: odd and even counts, tiny rows,
    one row (grey video) and three, quantised values with many ties; NaN rows and other types go to np.median."""
    from bgsub.background.stats import median_rows

    rng = np.random.default_rng(n)
    for rows in (1, 3):
        a = (rng.normal(0.3, 5.0, size=(rows, n)) * 1e3).astype(dtype)  # large values: the sum of the middle two
        if ties:  # rounds in the array's own type
            a = np.round(a / 997.0).astype(dtype)
        got = median_rows(a)
        assert got.dtype == np.median(a, axis=-1).dtype
        np.testing.assert_array_equal(got, np.median(a, axis=-1))
    b = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 3.0]], dtype)
    np.testing.assert_array_equal(median_rows(b), np.median(b, axis=-1))  # NaN propagates as np.median's
    c = np.array([[16777216.0, 3.0, 16777218.0, 1.0]], np.float32)  # the middle pair's sum rounds in float32
    assert median_rows(c)[0] == np.median(c, axis=-1)[0] == np.float32(np.float32(3.0) + np.float32(16777216.0)) / 2
    i = np.array([[1, 2, 3, 4]])  # integers: np.median's float64
    np.testing.assert_array_equal(median_rows(i), np.median(i, axis=-1))


@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("contiguous", [True, False])
def test_put_samples_equals_the_fancy_assignment(C, contiguous):
    """The flat per-channel write gives NumPy's 4-D fancy assignment ``s[j, :, ys, xs] = v.T`` bit for bit, repeated
    targets included (the later entry wins in both), for grey and colour samples, contiguous or not."""
    from bgsub.background.stats import put_samples

    rng = np.random.default_rng(C)
    n, h, w = 5, 4, 6
    base = rng.random((n, C, h, w)).astype(np.float32)
    j = rng.integers(0, n, size=200)
    p = rng.integers(0, h * w, size=200)  # many repeats of the same (j, p)
    v = rng.random((C, 200)).astype(np.float32)
    ref = base.copy()
    ys, xs = p // w, p % w
    ref[j, :, ys, xs] = v.T
    got = base.copy() if contiguous else np.swapaxes(np.swapaxes(base, 0, 1).copy(), 0, 1)  # same values, strided
    put_samples(got, j, p, v)
    np.testing.assert_array_equal(got, ref)
    assert (got != base).any()


@pytest.mark.parametrize("h,w", [(1, 1), (1, 5), (4, 1), (5, 7)])
def test_neighbour_index_equals_the_clipped_coordinates(h, w):
    """Each direction's neighbour, clipped to the frame, as a flat index: the same as clipping y + dy and x + dx
    (one-pixel rows and columns included)."""
    from bgsub.background.update import DIRS as _DIRS
    from bgsub.background.stats import neighbour_index

    table = neighbour_index(h, w, _DIRS)
    assert table.shape == (8, h * w)
    for d, (dy, dx) in enumerate(_DIRS):
        for y in range(h):
            for x in range(w):
                assert table[d, y * w + x] == min(max(y + dy, 0), h - 1) * w + min(max(x + dx, 0), w - 1)


def _gain_compensated_literal(x, bg, sigma, k, off):
    """gain_compensated as first written: np.median, boolean indexing, ``.all(axis=0)``, sums (the reference the
    in-place version must equal bit for bit)."""
    from bgsub.background.illumination import grid_step

    C, h, w = x.shape
    s = grid_step(h, w)
    B0, xs = bg[:, ::s, ::s].reshape(C, -1), x[:, ::s, ::s].reshape(C, -1)
    ksig = k * sigma[::s, ::s].reshape(1, -1)
    ok_all = ((B0 > 0.5) & (B0 < 254.5) & (xs > 0.5) & (xs < 254.5)).all(axis=0)

    def inliers(a, b):
        return (np.abs(xs - (a * B0 + b)) <= ksig).all(axis=0) & ok_all

    Bd, Xd = B0.astype(np.float64), xs.astype(np.float64)

    def fit(a, b, wgt=None):
        for _ in range(2):
            wgt = inliers(a, b) if wgt is None else wgt
            cnt = int(wgt.sum())
            if cnt < 64:
                break
            wv = wgt.astype(np.float64) / cnt
            mb, mx = (Bd @ wv)[:, None], (Xd @ wv)[:, None]
            var = ((Bd * Bd) @ wv)[:, None] - mb * mb
            cov = ((Bd * Xd) @ wv)[:, None] - mb * mx
            a = np.clip(np.where(var > 1.0, cov / np.maximum(var, 1e-6), 1.0), 0.25, 4.0).astype(np.float32)
            b = (mx - a * mb).astype(np.float32)
            wgt = None
        return a, b, int((inliers(a, b) if wgt is None else wgt).sum())

    ones = np.ones((C, 1), np.float32)
    b_off = off[:, :, 0].astype(np.float32)
    off_in, zero_in = inliers(ones, b_off), inliers(ones, np.zeros_like(b_off))
    nz = int(zero_in.sum())
    if int(off_in.sum()) <= nz + 3.0 * math.sqrt(max(nz, 1)):
        off, b_off, off_in = np.zeros_like(off), np.zeros_like(b_off), zero_in
    okc = ok_all & (B0 > 8.0).all(axis=0)
    ratio = np.median(xs[:, okc] / B0[:, okc], axis=1, keepdims=True) if okc.sum() >= 64 else ones
    fits = [fit(ones, b_off, off_in), fit(np.clip(ratio, 0.25, 4.0).astype(np.float32), np.zeros((C, 1), np.float32))]
    a, b, kept_gain = max(fits, key=lambda f: f[2])
    kept_off = int(off_in.sum())
    if kept_gain <= kept_off + 3.0 * math.sqrt(max(kept_off, 1)):
        return x - off, ones[:, :, None]
    return (x - b[:, :, None]) / a[:, :, None], a[:, :, None]


@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("h,w", [(90, 130), (120, 160)])  # grid steps 1 and 2
def test_gain_compensated_equals_the_literal_numpy_version(C, h, w):
    """The in-place inlier test, the median by partition and the compressed ratios give the first formulation's
    frame and gain bit for bit: no change, an offset, gains that are kept (one per channel too), a flat scene
    whose gain is refused, clipped pixels, and a tiny frame (grid step 1, too few pixels for a fit)."""
    from bgsub.background import illumination

    rng = np.random.default_rng(C)
    bg = np.clip(np.round(rng.normal(120, 40, size=(C, h, w))), 0, 255).astype(np.float32)
    sigma = rng.choice(np.float32([0.5, 1.0, 1.5]), size=(h, w))  # whole grey levels: ties at k sigma
    s = illumination.grid_step(h, w)
    kept = 0
    cases = [(1.0, 0.0), (1.0, 7.0), (1.3, 0.0), (0.6, 10.0), (rng.uniform(0.7, 1.4, (C, 1, 1)), -3.0), (2.5, 0.0)]
    for scene in (bg, np.full_like(bg, 90.0)):
        for g, o in cases:
            x = np.clip(np.round(scene * np.asarray(g, np.float32) + o + rng.normal(0, 2, scene.shape)), 0, 255)
            x = x.astype(np.float32)
            x[:, :20, :30] = 255.0  # clipped
            x[:, 40:60, 50:90] = rng.uniform(0, 255, (C, 20, 40))  # an object
            off = illumination.offset(x, scene)
            np.testing.assert_array_equal(off, np.median((x[:, ::s, ::s] - scene[:, ::s, ::s]).reshape(C, -1),
                                                         axis=1).astype(np.float32)[:, None, None])
            got = illumination.gain_compensated(x, scene, sigma, 6.0, off, with_gain=True)
            ref = _gain_compensated_literal(x, scene, sigma, 6.0, off)
            np.testing.assert_array_equal(got[0], ref[0])
            np.testing.assert_array_equal(got[1], ref[1])
            kept += bool((ref[1] != 1).any())
    assert kept >= 2  # the gain was kept in some of them
    for o in (0.0, 4.0):  # (almost) every pixel an inlier of the offset: no gain can win, none is fitted
        x = np.clip(bg + o + np.round(rng.normal(0, 1, bg.shape)), 0, 255).astype(np.float32)
        off = illumination.offset(x, bg)
        got = illumination.gain_compensated(x, bg, sigma, 6.0, off, with_gain=True)
        ref = _gain_compensated_literal(x, bg, sigma, 6.0, off)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    x, b, sg = rng.uniform(0, 255, (3, C, 5, 7)).astype(np.float32)
    off = illumination.offset(x, b)
    for r, g in zip(_gain_compensated_literal(x, b, sg[0], 6.0, off), illumination.gain_compensated(
            x, b, sg[0], 6.0, off, with_gain=True)):
        np.testing.assert_array_equal(r, g)


def _texture_literal(grey, size):
    """texture_of as first written: NumPy in-place additions on slices, each frame's sum in the same order."""
    import cv2

    T, th, tw = grey.shape
    out = np.empty((T,) + tuple(size), np.float32)
    for t in range(T):
        p, g = grey[t].astype(np.float32), np.zeros((th, tw), np.float32)
        if tw > 1:
            dx = np.abs(p[:, 1:] - p[:, :-1]) * np.float32(0.5)
            g[:, 1:] += dx
            g[:, :-1] += dx
        if th > 1:
            dy = np.abs(p[1:] - p[:-1]) * np.float32(0.5)
            g[1:] += dy
            g[:-1] += dy
        out[t] = g if (th, tw) == tuple(size) else cv2.resize(g, size[::-1], interpolation=cv2.INTER_AREA)
    return out


@pytest.mark.parametrize("th,tw,size", [(8, 12, (4, 6)), (9, 13, (4, 6)), (6, 10, (6, 10)), (1, 7, (1, 7)),
                                        (5, 1, (5, 1)), (1, 1, (1, 1)), (240, 320, (120, 160))])
def test_texture_of_equals_the_literal_numpy_version(th, tw, size):
    """The zero-padded halved differences give the slice-by-slice sums bit for bit: resized or not, one-pixel rows
    and columns, a single pixel, the 320x240 -> 160x120 case; 8-bit grey levels (ties) and arbitrary floats."""
    from bgsub.background.texture import texture_of

    rng = np.random.default_rng(th * tw)
    for grey in (rng.integers(0, 256, (3, th, tw)).astype(np.float32) / 3, rng.random((3, th, tw)) * 255):
        np.testing.assert_array_equal(texture_of(grey, size), _texture_literal(grey, size))


@pytest.mark.parametrize("C", [1, 2, 3, 4])
def test_channel_mean_equals_numpy_mean(C):
    from bgsub.background.working import channel_mean

    rng = np.random.default_rng(C)
    for x in (rng.random((5, C, 7, 9)).astype(np.float32) * 255,  # arbitrary floats: the division rounds
              np.round(rng.random((5, C, 7, 9)) * 255).astype(np.float32)):  # 8-bit grey levels
        got = channel_mean(x)
        assert got.dtype == np.float32 and got.shape == (5, 7, 9)
        np.testing.assert_array_equal(got, x.mean(axis=1))


@pytest.mark.parametrize("N,H,W,size", [(6, 240, 320, (120, 160)), (3, 12, 18, (4, 6)), (4, 13, 18, (4, 6)),
                                        (3, 10, 15, (4, 6)), (1, 8, 8, (4, 4)), (2, 6, 9, (6, 9))])
def test_area_resized_equals_the_plane_by_plane_resize(N, H, W, size):
    """Planes resized as one tall image give each plane's own INTER_AREA resize bit for bit where the factors are
    whole numbers, and are resized one by one where not (no plane bleeds into the next)."""
    import cv2

    from bgsub.background.working import area_resized

    planes = np.random.default_rng(N * H).random((N, H, W)).astype(np.float32) * 255
    want = np.stack([cv2.resize(p, size[::-1], interpolation=cv2.INTER_AREA) for p in planes])
    np.testing.assert_array_equal(area_resized(planes, size), want)


def test_a_short_clip_takes_each_pixels_stillest_half(tmp_path):
    """A clip shorter than twice the samples (UCSD's clips: 14-111 frames, objects in most of them): people who
    stand for most of it were every pixel's samples (every frame was one); its stillest half leaves them out."""
    x, gt = _scenario("busy-start", tmp_path, frames=16)
    half = _f(_masks(x, window=16, short=0.5), gt)
    every = _f(_masks(x, window=16, short=0.0), gt)
    assert half >= 0.8 and half > every + 0.15
    m = SampleModel.initialise(x[:16], short=0.5)
    assert m.samples.shape[0] == 8  # the stiller half of 16 frames
    assert SampleModel.initialise(x[:16], short=0.0).samples.shape[0] == 20  # every frame, cycled
    assert SampleModel.initialise(torch.cat([x] * 3)[:40], short=0.5).samples.shape[0] == 20  # 40 = 2 x 20: not short


def test_a_short_window_keeps_the_whole_windows_noise_floor():
    """A codec that refreshes the picture once every 6 frames and freezes it in between (a group of pictures): the
    stillest frames of a short window are frozen ones of one group, and their spread alone is 0. The noise floor
    is measured over the whole window (an independent check: 1.4826 x the median over pixels of each pixel's
    median absolute deviation over all frames), so the next group's frames are background."""
    rng = np.random.default_rng(3)
    groups = [np.clip(120 + rng.normal(0, 4.0, size=(3, 40, 60)), 0, 255) for _ in range(5)]
    x = np.stack([groups[t // 6] for t in range(30)]).round().astype(np.float32)  # 5 groups of 6 equal frames
    frames = torch.from_numpy(x / 255.0)
    win = x[:18]  # a short window of 3 groups
    mad = np.median(np.abs(win - np.median(win, axis=0)[None]).max(axis=1), axis=0) * 1.4826
    m = SampleModel.initialise(frames[:18], pixels=0, short=0.5)
    assert m.noise == pytest.approx(float(np.median(mad)), rel=0.05)
    z = m.step(frames[18:]).amax(1).numpy()
    assert (z > m.k).mean() < 0.01  # the next groups: background
    stillest = SampleModel.initialise(frames[:6], pixels=0, short=0.0)  # one frozen group as the samples: no spread
    assert (stillest.step(frames[18:]).amax(1).numpy() > stillest.k).mean() > 0.2


def test_a_light_switched_on_in_a_short_window_is_not_noise():
    """The short window's floor is measured in one light: a light switched on halfway through a 16-frame clip
    (every pixel 30 grey levels brighter) would make every pixel's spread over the window about 15 grey levels;
    with each frame's median offset undone, the floor is the camera's noise, as on the same clip without the
    switch."""
    rng = np.random.default_rng(4)
    scene = np.clip(100 + 40 * rng.random((3, 40, 60)), 0, 255)
    x = np.stack([scene + rng.normal(0, 2.0, scene.shape) for _ in range(16)])
    lit = x.copy()
    lit[8:] += 30.0
    frames = [torch.from_numpy((np.clip(v, 0, 255) / 255.0).astype(np.float32)) for v in (x, lit)]
    same, switched = (SampleModel.initialise(f, pixels=0, short=0.5) for f in frames)
    assert same._floor < 4.0 and switched._floor == pytest.approx(same._floor, rel=0.1)  # (uncompensated: ~22)
    z = switched.step(frames[1][12:]).amax(1).numpy()
    assert (z > switched.k).mean() < 0.01  # the frames after the switch: background (the model undoes the offset)


def test_healing_after_a_change_takes_in_a_ghost():
    """``background.still`` (healing, off by default): an object that stood in every frame of the window leaves a
    ghost when it goes; a ghost pixel changed when it left, stays still, and looks like the (smooth) background a
    few pixels away, so it takes its value in, from the ghost's border inward, within a few rounds of still +
    matches frames. Without healing only the diffused updates eat it, from its border. (The option had silently
    stopped running: the previous frame was never kept.)"""
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[0:48, 0:64] / 64.0
    scene = np.stack([0.35 + 0.2 * xx, 0.4 + 0.1 * yy, 0.45 + 0.0 * xx])
    x = np.stack([scene + rng.normal(0, 0.004, scene.shape) for _ in range(60)]).astype(np.float32)
    x[:30, :, 18:30, 26:38] = 0.9  # an object in the whole window (frames 0-19) that leaves at frame 30
    frames = torch.from_numpy(np.clip(x, 0, 1))
    ghost = np.zeros((48, 64), bool)
    ghost[18:30, 26:38] = True
    share = {}
    for heal in (False, True):
        m = SampleModel.initialise(frames[:20], pixels=0, heal=heal, still=3, seed=1)
        z = m.step(frames[20:]).amax(1).numpy()  # z[i] is frame 20 + i
        assert (z[31 - 20][ghost] > m.k).mean() > 0.9  # the ghost, the frame after the object left
        share[heal] = float((z[40 - 20][ghost] > m.k).mean())  # 10 frames after it left
    assert share[False] > 0.8 and share[True] < 0.05, share


def test_frames_at_gathers_each_pixels_frames_in_every_channel():
    """A literal loop over samples, channels and pixels, and NumPy's take_along_axis, on random frames and indices
    (a broadcast index as the window start gives too)."""
    from bgsub.background.stats import frames_at

    rng = np.random.default_rng(3)
    T, C, h, w, n = 7, 3, 4, 5, 3
    x = rng.normal(100, 20, (T, C, h, w)).astype(np.float32)
    idx = rng.integers(0, T, (n, h, w))
    got = frames_at(x, idx)
    want = np.empty((n, C, h, w), np.float32)
    for j in range(n):
        for c in range(C):
            for y in range(h):
                for z in range(w):
                    want[j, c, y, z] = x[idx[j, y, z], c, y, z]
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.array_equal(got, np.take_along_axis(x, np.broadcast_to(idx[:, None], (n, C, h, w)), axis=0))
    even = np.broadcast_to(np.array([0, 3, 6])[:, None, None], (n, h, w))  # the "window" start's spread frames
    assert np.array_equal(frames_at(x, even), x[[0, 3, 6]])


def test_the_written_spread_ratios_are_their_simulation(monkeypatch):
    """bgsub.background.stats.SPREAD_RATIOS (the defaults' noise-level ratios, written down to save the simulation
    at every start) equal the simulation, bit for bit, on the compiled path and on NumPy's."""
    import bgsub.background.kernels as K
    import bgsub.background.stats as T

    assert T.SPREAD_RATIOS
    for key, value in T.SPREAD_RATIOS.items():
        assert T._simulated_ratio(*key) == value, key
        assert T.spread_ratio(*key) == value
    monkeypatch.setattr(K, "nn_spread", lambda *a, **k: None)  # NumPy's path
    for key, value in T.SPREAD_RATIOS.items():
        assert T._simulated_ratio(*key) == value, key
