"""The compiled kernels (bgsub.background.kernels) against literal NumPy references, and the fallback without them."""

import numpy as np
import pytest

from bgsub.background import kernels
from bgsub.background.stats import _kth_smallest_cv, kth_smallest


def _reference(s, x, k):  # the k-th smallest |s_j - x| over j by a full sort (NumPy, float32 throughout)
    return np.sort(np.abs(s - x[None]), axis=0)[k - 1]


SHAPES = [(20, 3, 12, 16), (20, 12, 16), (20, 57), (7, 2, 3, 1), (3, 1, 5), (1, 4, 6), (2, 4, 6)]


@pytest.mark.parametrize("shape", SHAPES)
def test_kth_smallest_rows_matches_a_sort(shape):
    pytest.importorskip("numba")
    assert kernels.available()
    rng = np.random.default_rng(sum(shape))
    s = (rng.random(shape) * 255).astype(np.float32)
    x = (rng.random(shape[1:]) * 255).astype(np.float32)
    s[: max(1, shape[0] // 3)] = np.round(s[: max(1, shape[0] // 3)])  # ties: repeated distances
    x = np.round(x)
    for k in range(1, min(shape[0], 5) + 1):
        xx = x if x.ndim >= 2 else x[None]
        got = kernels.kth_smallest_rows(s, xx, k).reshape(x.shape)
        np.testing.assert_array_equal(got, _reference(s, x, k))
        np.testing.assert_array_equal(kth_smallest(s, x, k), _reference(s, x, k))


def test_kth_smallest_rows_hand_made():
    pytest.importorskip("numba")
    s = np.array([[[3.0, 0.0]], [[1.0, 5.0]], [[2.5, 4.0]]], np.float32)  # (3 samples, 1 row, 2 pixels)
    x = np.array([[2.0, 3.0]], np.float32)  # distances: (1, 1, 0.5) and (3, 2, 1)
    assert kernels.kth_smallest_rows(s, x, 1).tolist() == [[0.5, 1.0]]
    assert kernels.kth_smallest_rows(s, x, 2).tolist() == [[1.0, 2.0]]
    assert kernels.kth_smallest_rows(s, x, 3).tolist() == [[1.0, 3.0]]


def test_without_the_kernels_the_whole_array_path_gives_the_same_values(monkeypatch):
    rng = np.random.default_rng(3)
    s = (rng.random((20, 3, 9, 11)) * 255).astype(np.float32)
    x = (rng.random((3, 9, 11)) * 255).astype(np.float32)
    with_kernels = kth_smallest(s, x, 2)
    monkeypatch.setattr(kernels, "_kernels", {})
    assert not kernels.available() and kernels.kth_smallest_rows(s, x, 2) is None
    np.testing.assert_array_equal(kth_smallest(s, x, 2), with_kernels)
    np.testing.assert_array_equal(_kth_smallest_cv(s, x, 2, False), _reference(s, x, 2))


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("BGSUB_NUMBA", "0")
    assert kernels._build() == {}


def test_warm_up_builds_once_in_a_thread(monkeypatch):
    calls = []
    monkeypatch.setattr(kernels, "_kernels", None)
    monkeypatch.setattr(kernels, "_warming", False)
    monkeypatch.setattr(kernels, "_build", lambda: calls.append(1) or {})
    kernels.warm_up()
    kernels.warm_up()  # a second call starts nothing
    assert kernels.available() is False  # waits for the thread's build, or builds; either way once
    assert calls == [1]


@pytest.mark.parametrize("C", [3, 1])
def test_refine_with_and_without_the_kernels_drops_the_same_pixels(monkeypatch, C):
    """The kernel's integral images (the colour frame's four running sums in one loop, a grey frame's two one after
    the other) against the NumPy path's cv2.integral, on frames with arbitrary float values inside the object."""
    from bgsub.background.boundary import refine

    pytest.importorskip("numba")
    rng = np.random.default_rng(5)
    T, H, W = 4, 48, 64
    frames = (rng.integers(0, 256, (T, C, H, W)) / 255.0).astype(np.float32)
    frames[:, :, 10:30, 15:45] = (np.array([0.9, 0.2, 0.4][:C], np.float32)[:, None, None]
                                  + 0.02 * rng.standard_normal((T, C, 20, 30)).astype(np.float32))
    background = (rng.integers(0, 256, (C, H, W)) / 255.0).astype(np.float32)
    masks = np.zeros((T, H, W), bool)
    masks[:, 8:33, 12:48] = True  # the object and a band of background around it
    masks[1, 40:44, 2:6] = True  # a speck with no interior
    offsets = (0.01 * rng.standard_normal((T, C))).astype(np.float32)
    got = refine(masks, frames, background, 0.01, 4.0, offsets=offsets)
    monkeypatch.setattr(kernels, "_kernels", {})
    want = refine(masks, frames, background, 0.01, 4.0, offsets=offsets)
    assert (got != masks).any()  # the band was refined
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,size", [((3, 3, 24, 32), (12, 16)), ((2, 1, 24, 32), (12, 16)), ((2, 3, 17, 23), (17, 23)),
                                        ((2, 3, 30, 41), (11, 14)), ((1, 3, 1, 9), (1, 9)), ((1, 3, 7, 1), (7, 1))])
def test_working_and_texture_with_and_without_the_kernels(monkeypatch, shape, size):
    import torch

    from bgsub.background.working import working_and_texture

    pytest.importorskip("numba")
    rng = np.random.default_rng(sum(shape))
    frames = torch.from_numpy((rng.integers(0, 256, shape) / 255.0).astype(np.float32))
    x1, t1 = working_and_texture(frames, size, 3)
    monkeypatch.setattr(kernels, "_kernels", {})
    x0, t0 = working_and_texture(frames, size, 3)
    np.testing.assert_array_equal(x1, x0)
    np.testing.assert_array_equal(t1, t0)
    assert t1.std() > 0 or 1 in shape[2:]


@pytest.mark.parametrize("shape,size", [((8, 3, 240, 320), (120, 160)), ((3, 3, 24, 32), (12, 16)),
                                        ((2, 1, 24, 32), (12, 16)), ((3, 3, 30, 41), (11, 14)),
                                        ((2, 3, 60, 80), (12, 16))])
@pytest.mark.parametrize("numba", [True, False])
def test_working_and_texture_frame_by_frame_equals_the_whole_array_path(monkeypatch, shape, size, numba):
    """Frames whose texture is measured above the working size go through scratch buffers one frame at a time:
    the same values as the whole chunk at once (grey levels, the texture at the texture size, both area-averaged
    plane by plane, the texture box-averaged), with and without the compiled texture kernel."""
    import cv2

    from bgsub.background.texture import texture_of, texture_size
    from bgsub.background.working import to_working, working_and_texture

    if numba:
        pytest.importorskip("numba")
    else:
        monkeypatch.setattr(kernels, "_kernels", {})
    rng = np.random.default_rng(sum(shape))
    frames = (rng.integers(0, 256, shape) / 255.0).astype(np.float32)
    T, C = shape[:2]
    ts = texture_size(shape[2:], size)
    assert tuple(ts) != size
    xt = to_working(frames, ts)  # the whole chunk in grey levels at the texture size
    want_x = np.stack([[cv2.resize(xt[t, c], size[::-1], interpolation=cv2.INTER_AREA) for c in range(C)]
                       for t in range(T)])
    want_t = texture_of(xt.mean(axis=1), size)
    for t in range(T):
        cv2.blur(want_t[t], (5, 5), dst=want_t[t], borderType=cv2.BORDER_REFLECT)
    got_x, got_t = working_and_texture(frames, size, 5)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_array_equal(got_t, want_t)


def test_grey_texture_against_a_literal_sum():
    pytest.importorskip("numba")
    rng = np.random.default_rng(9)
    xt = (rng.random((2, 3, 5, 6)) * 255).astype(np.float32)
    got = kernels.grey_texture(xt)
    g = (xt.astype(np.float64).sum(axis=1) / 3)  # the grey, then the mean |difference| to the 4 neighbours, halved
    want = np.zeros_like(g)
    for t in range(2):
        for y in range(5):
            for x in range(6):
                for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                    if 0 <= y + dy < 5 and 0 <= x + dx < 6:
                        want[t, y, x] += abs(g[t, y, x] - g[t, y + dy, x + dx]) / 2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_gain_compensated_with_and_without_the_kernels(monkeypatch):
    from bgsub.background.illumination import gain_compensated

    pytest.importorskip("numba")
    rng = np.random.default_rng(11)
    bg = (rng.random((3, 60, 80)) * 200 + 20).astype(np.float32)
    sigma = (rng.random((60, 80)) * 3 + 1).astype(np.float32)
    cases = [bg * 1.3 + 5, bg - 12, bg.copy()]
    cases[2][:, :30] = 250  # half the frame an object
    for x in cases:
        x = (x + rng.standard_normal(x.shape).astype(np.float32)).astype(np.float32)
        off = np.median((x - bg).reshape(3, -1), axis=1).astype(np.float32)[:, None, None]
        got = gain_compensated(x, bg, sigma, 6.0, off, with_gain=True)
        monkeypatch.setattr(kernels, "_kernels", {})
        want = gain_compensated(x, bg, sigma, 6.0, off, with_gain=True)
        monkeypatch.setattr(kernels, "_kernels", None)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("n,C,order,q,hw", [(20, 3, 6, 75.0, (9, 13)), (20, 3, 1, 50.0, (9, 13)),
                                             (7, 1, 2, 50.0, (9, 13)), (5, 3, 10, 75.0, (9, 13)),
                                             (1, 3, 6, 75.0, (9, 13)), (12, 2, 4, 30.0, (9, 13)),
                                             (20, 3, 6, 75.0, (23, 29)), (33, 1, 11, 50.0, (23, 29))])
def test_nn_spread_with_and_without_the_kernels(monkeypatch, n, C, order, q, hw):
    """(23 x 29 pixels: more than one of the kernel's blocks of 256 pixels, the last one partial.)"""
    from bgsub.background.stats import nn_spread

    pytest.importorskip("numba")
    rng = np.random.default_rng(n * 100 + C)
    s = (rng.random((n, C) + hw) * 60).astype(np.float32)
    s[: n // 3] = np.round(s[: n // 3])  # ties
    got = nn_spread(s, order, q)
    monkeypatch.setattr(kernels, "_kernels", {})
    want = nn_spread(s, order, q)
    np.testing.assert_array_equal(got, want)
    # and against a literal loop: each sample's order-th nearest other sample, max over channels, then the percentile
    k = min(order, n - 1)
    d = np.zeros((n,) + hw, np.float32)
    for j in range(n):
        dist = np.sort(np.abs(s - s[j][None]), axis=0)[k]  # (C, 9, 13): index 0 is the sample itself
        d[j] = dist.max(axis=0)
    lit = np.median(d, axis=0) if q == 50.0 else np.percentile(d, q, axis=0)
    np.testing.assert_allclose(got, lit, rtol=1e-6, atol=1e-5)


def test_defer_keeps_the_whole_array_path_until_warm_up(monkeypatch):
    calls = []
    monkeypatch.setattr(kernels, "_kernels", None)
    monkeypatch.setattr(kernels, "_warming", False)
    monkeypatch.setattr(kernels, "_deferred", False)
    monkeypatch.setattr(kernels, "_build", lambda: calls.append(1) or {"kth_rows": None})
    kernels.defer()
    assert kernels._get() == {} and calls == []  # nothing loaded on first use
    rng = np.random.default_rng(0)
    s = (rng.random((5, 2, 3, 4)) * 9).astype(np.float32)
    x = (rng.random((2, 3, 4)) * 9).astype(np.float32)
    np.testing.assert_array_equal(kth_smallest(s, x, 2), _reference(s, x, 2))  # the whole-array path
    kernels.warm_up()
    kernels._get()
    assert calls == [1]


def test_a_clip_that_is_all_window_defers_the_kernels(monkeypatch):
    from bgsub.methods.unet import UNetMethod

    seen = []
    monkeypatch.setattr(kernels, "defer", lambda: seen.append("defer"))
    monkeypatch.setattr(kernels, "warm_up", lambda: seen.append("warm"))
    m = UNetMethod()
    assert m.streams and m.begin_frames() == 100
    m.warm_up(90)
    m.warm_up(100)
    m.warm_up(101)
    m.warm_up(None)  # a live source: length unknown
    assert seen == ["defer", "defer", "warm", "warm"]


def test_segment_end_to_end_gives_the_same_masks_with_and_without_the_kernels(tmp_path, monkeypatch):
    """The whole zero-shot segment of a clip longer than the initialisation window (every kernel in use: the
    residuals, the texture, the light's fit, the noise levels' settling, the mask's edge at 320 x 240), once with
    the compiled kernels and once on the whole-array path: byte-identical masks."""
    from bgsub.config import Config
    from bgsub.methods.base import create
    from bgsub.pipelines.run import decompose_video
    from bgsub.synth import synth

    pytest.importorskip("numba")
    clip = tmp_path / "clip"
    synth(clip, height=240, width=320, frames=130, seed=3, scenario="busy-start")
    outs = []
    for use in (True, False):
        monkeypatch.setattr(kernels, "_kernels", None if use else {})
        monkeypatch.setattr(kernels, "_deferred", False)
        out = tmp_path / f"masks-{use}"
        decompose_video(create("unet-pretrained"), clip, out, cfg=Config(), window=8, progress=False)
        if use:
            assert kernels.available()
        outs.append({p.name: p.read_bytes() for p in sorted(out.glob("bin*.png"))})
    assert len(outs[0]) == 130 and outs[0] == outs[1]


@pytest.mark.parametrize("absorb,texture", [(True, True), (False, True), (True, False)])
def test_diffuse_with_and_without_the_kernels(monkeypatch, absorb, texture):
    from bgsub.background.update import diffuse

    pytest.importorskip("numba")
    rng = np.random.default_rng(21)
    n, C, h, w = 20, 3, 30, 40
    samples = (rng.random((n, C, h, w)) * 255).astype(np.float32)
    tsamples = (rng.random((n, 1, h, w)) * 30).astype(np.float32) if texture else None
    runs = []
    for use in (True, False):
        monkeypatch.setattr(kernels, "_kernels", None if use else {})
        monkeypatch.setattr(kernels, "_deferred", False)
        s, ts = samples.copy(), None if tsamples is None else tsamples.copy()
        draws = np.random.default_rng(5)
        frames = np.random.default_rng(6)
        for _ in range(12):  # a few frames, each with its own selection
            x = (frames.random((C, h, w)) * 255).astype(np.float32)
            tex = (frames.random((h, w)) * 30).astype(np.float32) if texture else None
            zmax = (frames.random((h, w)) * 12).astype(np.float32)
            diffuse(s, ts, x, tex, zmax <= 3.0, zmax, k=6.0, phi=4, absorb=absorb, rng=draws)
        runs.append((s, ts, draws.random()))  # the generator's state after: the same draws were made
    assert not np.array_equal(runs[0][0], samples)  # samples were replaced
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    if texture:
        np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 13, 16, 20, 21, 32, 33, 100])
def test_the_sorting_network_sorts_every_zero_one_input(n):
    """Batcher's network pruned to n inputs sorts (the 0-1 principle: a comparator network that sorts every 0-1
    sequence sorts every sequence; all 2^n of them for small n, 3000 random ones beside random reals for large
    ones), compared with NumPy's sort."""
    ci, cj = kernels.sorting_network(n)
    assert (ci < cj).all() and cj.max() < n

    def run(v):  # the compare-exchanges applied literally, each column of v (n, m) a sequence
        v = v.copy()
        for a, b in zip(ci, cj):
            lo, hi = np.minimum(v[a], v[b]), np.maximum(v[a], v[b])
            v[a], v[b] = lo, hi
        return v

    rng = np.random.default_rng(n)
    if n <= 13:
        cols = ((np.arange(2**n)[None, :] >> np.arange(n)[:, None]) & 1).astype(np.float32)
    else:
        cols = (rng.random((n, 3000)) < rng.random(3000)).astype(np.float32)
    np.testing.assert_array_equal(run(cols), np.sort(cols, axis=0))
    reals = rng.standard_normal((n, 200)).round(1)  # with ties
    np.testing.assert_array_equal(run(reals), np.sort(reals, axis=0))


@pytest.mark.parametrize("shape", [(2, 5), (3, 7, 9), (20, 3, 23, 29), (21, 600), (64, 2, 3), (7,)])
def test_median0_with_and_without_the_kernels(monkeypatch, shape):
    """stats.median0 of float32 arrays: the compiled pass (a sorting network a block of columns at a time) gives
    np.median's values bit for bit, and a NumPy scalar for a 1-D array as the sort does."""
    from bgsub.background.stats import median0

    pytest.importorskip("numba")
    rng = np.random.default_rng(sum(shape))
    a = (rng.standard_normal(shape) * 20).astype(np.float32)
    a[: shape[0] // 3] = np.round(a[: shape[0] // 3])  # ties
    got = median0(a)
    assert kernels.median0(a) is not None  # the compiled pass was taken
    monkeypatch.setattr(kernels, "_kernels", {})
    want = median0(a)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, np.median(a, axis=0).astype(np.float32))
    assert np.shape(got) == shape[1:] and type(got) is type(want)
    b = a.copy()
    b.flat[3] = np.nan  # NaNs go to NumPy's path
    assert kernels.median0(b) is None


@pytest.mark.parametrize("shape", [(240, 320, 3), (7, 5, 3), (1, 1, 3), (31, 17, 4), (9, 11)])
def test_frame_conversion_with_the_table_equals_numpy_s_division(monkeypatch, shape):
    """8-bit frames to float32 planes in [0, 1] (RGB from BGR): the compiled table lookup, once the kernels are
    loaded, gives NumPy's float32 division exactly, for every byte value; before they are loaded (or without
    them) NumPy divides, and asking never loads them."""
    from bgsub.io.frames import _convert

    pytest.importorskip("numba")
    assert kernels.available()
    rng = np.random.default_rng(sum(shape))
    img = rng.integers(0, 256, shape).astype(np.uint8)
    img.reshape(-1)[:256] = np.arange(256)[: img.size]  # every byte value where there is room
    rgb = img[..., :3].transpose(2, 0, 1)[::-1] if img.ndim == 3 else img[None]
    want = np.divide(rgb, np.float32(255.0), dtype=np.float32)  # (float32 operands: an independent division)
    want = want if img.ndim == 3 else np.repeat(want, 3, axis=0)  # a grey image is read as colour
    out = np.empty(want.shape, np.float32)
    assert _convert(img, grayscale=False, scale=1.0, where="t", out=out) is out
    np.testing.assert_array_equal(out, want)
    if img.ndim == 3 and shape[2] == 3:
        assert kernels.loaded_unit_planes(img, np.empty(want.shape, np.float32)) is not None
        np.testing.assert_array_equal(_convert(img, grayscale=False, scale=1.0, where="t"), want)
    monkeypatch.setattr(kernels, "_kernels", None)  # not loaded (yet): NumPy's path, and nothing is built
    monkeypatch.setattr(kernels, "_build", lambda: pytest.fail("loaded by the conversion"))
    assert kernels.loaded_unit_planes(img[..., :3].copy(), np.empty((3,) + shape[:2], np.float32)) is None
    np.testing.assert_array_equal(_convert(img, grayscale=False, scale=1.0, where="t"), want)


@pytest.mark.parametrize("shape", [(3, 120, 160), (3, 30, 40), (1, 7, 9), (3, 1, 6), (3, 5, 1), (3, 2, 2), (2, 1, 1)])
def test_motion_parts_against_the_whole_array_measures(shape):
    """The compiled motion measures of the middle of three frames (rows of each channel at a time) against the
    window's whole-array ones, bit for bit: the larger frame difference (max over channels) and its ratio to the
    gradient magnitude floored (central differences, 0 across the outer rows and columns), on frames with the
    outer rows and columns, a single row or column, and one or two channels."""
    from bgsub.background.stats import _displacement, _motion

    pytest.importorskip("numba")
    rng = np.random.default_rng(sum(shape))
    three = (rng.random((3,) + shape) * 100).astype(np.float32)
    three[:, :, :, :1] = np.round(three[:, :, :, :1])  # ties between channels and frames
    for floor in (0.5, 40.0):
        d, r = kernels.motion_parts(three[0], three[1], three[2], floor)
        want_d = _motion(three, 1)[1]
        np.testing.assert_array_equal(d, want_d)
        np.testing.assert_array_equal(r, _displacement(want_d[None], three[1:2], floor)[0])


@pytest.mark.parametrize("C,P", [(3, 4800), (1, 37), (2, 1)])
def test_fit_inliers_against_numpy(C, P):
    """The light fit's inlier test (a channel at a time over the pixels, and-ed) against the NumPy expression:
    every channel's |(a B0 + b) - xs| <= ksig (float32), and ``ok``; residuals exactly at the bound included."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(C * P)
    a = rng.uniform(0.5, 2.0, C).astype(np.float32)
    b = rng.normal(0.0, 5.0, C).astype(np.float32)
    B0 = (rng.random((C, P)) * 255).astype(np.float32)
    xs = ((a[:, None] * B0 + b[:, None]) + rng.normal(0.0, 4.0, (C, P))).astype(np.float32)
    ksig = np.full(P, 6.0, np.float32)
    ksig[::3] = np.abs((a[0] * B0[0, ::3] + b[0]) - xs[0, ::3])  # on the bound in channel 0
    ok = rng.random(P) < 0.9
    want = (np.abs((a[:, None] * B0 + b[:, None]) - xs) <= ksig[None]).all(axis=0) & ok
    got = kernels.fit_inliers()(a, b, B0, xs, ksig, ok, np.empty(P, bool))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("stiller", [1.0, 0.7])
def test_stable_search_with_and_without_the_kernel_keeps_the_same_frames(monkeypatch, stiller):
    """The stable search's update (the kept values a stiller frame replaces, each changed pixel's least still
    kept frame found again) compiled and by NumPy's whole-array steps: the same kept values, motions, least still
    frames and settings, frame after frame, for every pixel up to the horizon and for the open pixels past it
    (their neighbourhoods alone, then the whole frame's motion at them)."""
    from bgsub.background.stable import StableSearch

    pytest.importorskip("numba")
    rng = np.random.default_rng(int(stiller * 10))
    n, C, h, w, T = 6, 3, 20, 24, 40
    frames = np.round(rng.random((T, C, h, w)) * 255).astype(np.float32)
    frames[:, :, :, :8] = 100 + rng.normal(0, 1.0, (T, C, h, 8)).astype(np.float32)  # a still part
    vals = frames[:n].copy()
    mot = (rng.random((n, h, w)) * 4).astype(np.float32)
    mot[:2, :3, :3] = 5.0  # tied motions: np.argmax's first
    norm = ((rng.random((h, w)) + 0.5).astype(np.float32), (rng.random((h, w)) + 0.5).astype(np.float32))
    open_mask = rng.random((h, w)) < 0.1
    sparse_mask = np.zeros((h, w), bool)
    sparse_mask[[3, 10, 17], [2, 12, 20]] = True  # a few open pixels: their neighbourhoods alone

    def run(compiled: bool, box: int, opened: np.ndarray):
        if not compiled:
            monkeypatch.setattr(kernels, "_kernels", {})
        s = StableSearch(vals, mot, first=n, horizon=20, box=box, camera=1.0, motion="both", norm=norm,
                         open_mask=opened, open_horizon=T + 5, stiller=stiller)
        out = []
        for t in range(n, T):
            act = s.step(frames[t], t)
            out.append((None if act is None else (act[0], act[1].copy()), s.vals.copy(), s.mot.copy(),
                        s.worst.copy(), s.wm.copy()))
        monkeypatch.undo()
        return out, s.idx is not None, s.sparse

    for box, opened, sparse in ((3, open_mask, False), (5, open_mask, False), (3, sparse_mask, True)):
        got, past, sp = run(True, box, opened)
        want, _, _ = run(False, box, opened)
        assert past and sp == sparse  # past the horizon: the open pixels alone
        assert (got[-1][2] != mot.reshape(n, -1)[:, :got[-1][2].shape[1]]).any()  # frames were replaced
        for g, e in zip(got, want):
            assert (g[0] is None) == (e[0] is None)
            if g[0] is not None:
                assert (g[0][0] is None) == (e[0][0] is None)
                if g[0][0] is not None:
                    np.testing.assert_array_equal(g[0][0], e[0][0])
                np.testing.assert_array_equal(g[0][1], e[0][1])
            for a, b in zip(g[1:], e[1:]):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("C,textured,matches,smax", [(3, True, 2, 1.0), (3, False, 2, 1.0), (1, True, 1, 1.0),
                                                     (3, True, 25, 1.0), (3, True, 2, 1.1), (3, False, 2, 1.1)])
def test_shadow_test_with_and_without_the_kernel(monkeypatch, C, textured, matches, smax):
    """The cast-shadow test compiled (one pass over the pixels) and by NumPy's steps at the foreground pixels:
    the same alpha, mask and chromaticity distortion, bit for bit, with pixels on each bound of the test
    (alpha at shadow_min, just below 1, a distortion at k), with and without the texture test (an order of the
    texture samples above their count included), with and without highlights (``shadow_max`` 1.1: alpha just
    below it), and None for none."""
    from bgsub.background.shadow import shadowed

    pytest.importorskip("numba")
    rng = np.random.default_rng(C * 10 + matches)
    h, w, n, k, smin = 30, 40, 20, 6.0, 0.7  # (float32(0.7) is below 0.7: NumPy compares in float32)
    bg = (rng.random((C, h, w)) * 200 + 20).astype(np.float32)
    alpha = rng.uniform(0.5, 1.1, (h, w)).astype(np.float32)
    alpha[0, :10] = np.float32(smin)
    alpha[1, :10] = np.nextafter(np.float32(smax), np.float32(0.0))
    xc = (bg * alpha[None] + rng.normal(0.0, 2.0, (C, h, w))).astype(np.float32)
    xc[:, 0, :10] = bg[:, 0, :10] * np.float32(smin)  # exactly on the bound (if the rounding allows)
    sigma = rng.uniform(0.5, 3.0, (h, w)).astype(np.float32)
    zmax = rng.uniform(0.0, 12.0, (h, w)).astype(np.float32)
    zmax[2, :5] = np.float32(k)  # not above k: not foreground
    tex = (rng.random((h, w)) * 20).astype(np.float32)
    tsamples = (tex[None, None] / alpha[None, None] + rng.normal(0.0, 2.0, (n, 1, h, w))).astype(np.float32)
    tsamples[:3, 0, 3, :6] = tex[3, :6] / alpha[3, :6]  # ties in the texture distances
    tsigma = rng.uniform(0.2, 1.0, (h, w)).astype(np.float32)
    args = (xc, zmax, bg, sigma, k, smin) + ((tex, tsamples, tsigma) if textured else (None, None, None))
    got = shadowed(*args, matches=matches, shadow_max=smax)
    monkeypatch.setattr(kernels, "_kernels", {})
    want = shadowed(*args, matches=matches, shadow_max=smax)
    assert got is not None and want is not None and want[1].sum() > 20
    assert ((want[0] > 1.0) & want[1]).any() == (smax > 1.0)  # highlights found only above 1
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    assert shadowed(xc, np.zeros((h, w), np.float32), bg, sigma, k, smin) is None  # no foreground
