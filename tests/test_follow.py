"""A background model that moves with the view (bgsub.background.follow, input.follow): its arrays moved against
literal loops, the model's state after a move against the state before it, registration onto the moving grid
against the ``track`` scenario's exact offsets, and the window's frames brought back to the first view."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from bgsub.background.follow import FOLLOW, LEARN, MOVED_STATE, entered, from_one_frame, shifted
from bgsub.background.state import start
from bgsub.config import Config
from bgsub.io.stabilize import PATH, Stabilizer
from bgsub.pipelines.reading import on_first_grid
from bgsub.scenarios import iter_scenario
from bgsub.scenarios.camera import _jitter_offsets, _track_offsets


def _u8(img):
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()  # RGB [0, 1] -> BGR uint8


@pytest.mark.parametrize("dy,dx", [(0, 0), (2, -1), (-3, 0), (0, 4), (-1, -2), (9, 0)])
def test_shifted_and_entered_against_literal_loops(dy, dx):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 7, 9)).astype(np.float32)
    out, new = shifted(a, dy, dx), entered((7, 9), dy, dx)
    h, w = a.shape[-2:]
    for y in range(h):
        for x in range(w):
            sy, sx = y - dy, x - dx
            assert new[y, x] == (not (0 <= sy < h and 0 <= sx < w))
            np.testing.assert_array_equal(out[..., y, x], a[..., min(max(sy, 0), h - 1), min(max(sx, 0), w - 1)])
    assert out.flags.c_contiguous and out is not a


def test_samples_from_one_frame_come_from_each_pixel_s_neighbourhood():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 6, 8)).astype(np.float32)
    mask = np.zeros((6, 8), bool)
    mask[:, 0] = mask[5, :] = True  # an edge column and row (the neighbourhood clipped there)
    s = from_one_frame(v, mask, 20, np.random.default_rng(2))
    ys, xs = np.nonzero(mask)
    assert s.shape == (20, 3, ys.size)
    for p, (y, x) in enumerate(zip(ys, xs)):
        near = [v[:, yy, xx] for yy in range(max(y - 1, 0), min(y + 2, 6))
                for xx in range(max(x - 1, 0), min(x + 2, 8))]
        for j in range(20):  # every sample is one neighbour's whole colour
            assert any(np.array_equal(s[j, :, p], c) for c in near)
    assert len({tuple(s[j, :, 0]) for j in range(20)}) > 1  # not one value repeated


def _scene(h, w, seed=3):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0.1, 0.9, (h, w, 3)).astype(np.float32), (0, 0), 2.0)


def _frame(f, rng, noise=0.004):
    """A view ``f`` (H, W, 3) in [0, 1] with sensor noise, as the model takes it: (1, 3, H, W)."""
    f = f + rng.normal(0, noise, f.shape).astype(np.float32)
    return np.clip(f, 0, 1).transpose(2, 0, 1)[None]


def _started(view, cfg):
    """The model (the defaults, the search up to frame 500, a working size of 60 x 80) begun on 30 frames of
    ``view(20)``."""
    return start(np.concatenate([view(20) for _ in range(30)]),
                 dataclasses.replace(cfg.background, horizon=500), pixels=4800).model


def test_a_moved_model_is_the_old_one_moved_and_a_panned_frame_matches_it():
    """A model begun on a still textured scene (the defaults at a working size of 60 x 80), then a frame of the same
    scene seen by a camera panned 8 working pixels (16 frame pixels) left. Without the move every textured pixel differs
    from its samples; with it the samples of the pixels still in view are the old ones moved (compared with the
    state before), the 8 columns that came into view take theirs from that frame, and the frame matches the model
    everywhere."""
    H, W = 120, 160
    wide = _scene(H, W + 40)
    rng = np.random.default_rng(4)

    def view(col, noise=0.004):
        return _frame(wide[:, col:col + W], rng, noise)

    cfg = Config()
    frames = np.concatenate([view(20) for _ in range(30)])
    moved = start(frames, cfg.background, pixels=4800).model
    still = start(frames, cfg.background, pixels=4800).model
    assert moved.size == (60, 80)
    before = {name: getattr(moved, name) for name in ("samples", "tsamples", "sigma")}
    before = {k: None if v is None else v.copy() for k, v in before.items()}
    panned = view(36)  # the content 16 frame pixels (8 working) to the left: the model's grid moves by -8 columns
    moved.move(0, -8)
    z_moved = moved.step(panned)[0].max(axis=0)
    z_still = still.step(panned)[0].max(axis=0)
    new = entered((60, 80), 0, -8)
    assert new.sum() == 8 * 60 and new[:, -8:].all()
    old = ~new
    np.testing.assert_array_equal(moved.sigma[old], shifted(before["sigma"], 0, -8)[old])
    kept = np.abs(moved.samples - shifted(before["samples"], 0, -8))[:, :, old] == 0
    assert kept.mean() > 0.9  # (the frame's own update replaces about 1 in 16 of the samples)
    assert moved.moves == [1] and still.moves == []  # the first frame stepped after the window
    inner = np.zeros((60, 80), bool)
    inner[2:-2, 2:-2] = True
    assert np.quantile(z_moved[inner], 0.99) < cfg.background.k  # every pixel background
    assert np.median(z_still[inner & old]) > cfg.background.k  # the unmoved model: the edges everywhere


def test_every_per_pixel_array_of_the_model_moves():
    """Every array of a model (the defaults: ghost test, healing, texture, search past the window) whose last two
    dimensions are the working size is one MOVED_STATE names (or the ghost counts, or a cache made again): a new
    per-pixel state must be moved with the view too."""
    H, W = 120, 160
    rng = np.random.default_rng(5)
    frames = np.stack([_scene(H, W).transpose(2, 0, 1) + rng.normal(0, 0.01, (3, H, W)).astype(np.float32)
                       for _ in range(30)]).clip(0, 1)
    cfg = Config()
    m = start(frames, dataclasses.replace(cfg.background, horizon=200), pixels=cfg.model.pixels).model
    for t in range(5):
        m.step(frames[t:t + 1])
    per_pixel = {name for name, v in vars(m).items()
                 if isinstance(v, np.ndarray) and v.shape[-2:] == tuple(m.size)}
    assert {"samples", "sigma", "still", "prev"} <= per_pixel
    assert per_pixel - set(MOVED_STATE) <= {"_bg", "_poly"}, per_pixel - set(MOVED_STATE)
    assert isinstance(m._ghost, tuple) and all(a.shape == tuple(m.size) for a in m._ghost)


def test_registration_onto_the_moving_grid_matches_the_track_scenario_exactly():
    """`track` at 160 x 120 over 150 frames pans 149 columns, past three quarters of the width (the first frame's
    grid loses it there). Following the view (a grid of 60 x 80 working pixels: 2 frame pixels each), every frame
    is registered: the shift onto the model's grid plus the grid's own offset is the scenario's exact offset, the
    grid moves whenever the frame lies more than FOLLOW of the frame's height from it, and no frame is lost."""
    H, W, N = 120, 160, 150
    off = _track_offsets(N, H, W)
    assert off[-1] > 0.75 * W
    st = Stabilizer()
    st.follow((120, 160))
    moves = 0
    for i, (_, img, _) in enumerate(iter_scenario("track", height=H, width=W, frames=N)):
        _, d = st(_u8(img))
        assert st.registered and not st.lost, i
        o = st._origin()
        assert (d[0] + o[0], d[1] + o[1]) == (0, -int(off[i])), i
        assert max(abs(d[0]), abs(d[1])) <= FOLLOW * H + PATH // 2 + 1  # (the grid follows PATH frames behind)
        moves += st.move is not None
    assert moves == st.follows and 15 <= moves <= 22 and st.lost_frames == 0


def test_a_shaking_camera_is_registered_never_followed():
    """`jitter` (up to 2% of the smaller side a frame): every frame registered onto the first frame's grid as
    without following, and a frame left as it is (phase correlation lost the peak) left on the first frame's view
    too (a shaking camera's rest: until the grid has moved); the grid never moves."""
    H, W, N = 120, 160, 80
    off = _jitter_offsets(N, H, W, 0)
    a, b = Stabilizer(), Stabilizer()
    b.follow((60, 80))
    for i, (_, img, _) in enumerate(iter_scenario("jitter", height=H, width=W, frames=N)):
        assert a(_u8(img))[1] == b(_u8(img))[1], i
        assert a.registered == b.registered, i
    assert b.follows == 0 and np.abs(off).max() > 0


def test_a_shake_beyond_the_reach_is_registered_and_a_bump_that_stays_is_followed():
    """A textured view shaken by up to 14 pixels each way at random (an eighth of the smaller side, past FOLLOW's
    7.5): the grid follows the median of the last PATH frames' offsets, which a shake leaves where the camera
    points, once it lies further than the shake's own spread: it never moves, and every frame is registered at its
    exact offset. Then the camera is bumped 20 pixels and stays there (still shaking by 2): within PATH frames the
    grid moves there, and every frame is still registered."""
    H, W = 120, 160
    r = np.random.default_rng(3)
    big = cv2.GaussianBlur(r.integers(0, 256, (H + 80, W + 80, 3), dtype=np.uint8), (0, 0), 1.5)
    st = Stabilizer()
    st.follow((120, 160))

    def frame(oy, ox):
        f = big[40 + oy: 40 + oy + H, 40 + ox: 40 + ox + W].astype(np.int16) + r.integers(-3, 4, (H, W, 3))
        return np.clip(f, 0, 255).astype(np.uint8)

    shakes = [(0, 0)] + [tuple(int(v) for v in r.integers(-14, 15, 2)) for _ in range(99)]
    bumped = [(int(a), 20 + int(b)) for a, b in r.integers(-2, 3, (30, 2))]
    first_move = None
    for i, (oy, ox) in enumerate(shakes + bumped):
        _, d = st(frame(oy, ox))
        o = st._origin()
        assert st.registered and (d[0] + o[0], d[1] + o[1]) == (-oy, -ox), i
        if i < len(shakes):
            assert st.follows == 0, i
        elif st.move is not None and first_move is None:
            first_move = i - len(shakes)
    assert first_move is not None and first_move < 9 and abs(o[1] + 20) <= 2, (first_move, o)


def test_the_window_s_frames_are_brought_back_to_the_first_view():
    """on_first_grid against a literal loop: frame t moved by the sum of the moves up to it, in frame pixels (the
    frames twice the grid's size), the rows and columns it lacks repeating its edge; and which working pixels of the
    grid each frame shows (those whose source lies in the grid)."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 3, 12, 16)).astype(np.float32)
    moves = {11: (0, -2), 13: (1, -1)}  # frame numbers 10..13
    out, cover = on_first_grid(x, [10, 11, 12, 13], moves, (6, 8))
    cum = [(0, 0), (0, -2), (0, -2), (1, -3)]  # working pixels; x2 in frame pixels
    assert cover.shape == (4, 6, 8) and cover.dtype == bool
    for t, (cy, cx) in enumerate(cum):
        for y in range(12):
            for xx in range(16):
                sy, sx = min(max(y + 2 * cy, 0), 11), min(max(xx + 2 * cx, 0), 15)
                np.testing.assert_array_equal(out[t, :, y, xx], x[t, :, sy, sx])
        for yw in range(6):
            for xw in range(8):
                assert cover[t, yw, xw] == (0 <= yw + cy < 6 and 0 <= xw + cx < 8), (t, yw, xw)
    assert out is not x and np.array_equal(out[0], x[0])


def test_the_sample_model_alone_moves_with_the_view_too(cli, tmp_path):
    """`consensus` (the sample model thresholded, no network) on `track` over 150 frames at 160 x 120: it moves with
    the view as the U-Net's model does (F 0.846 against 0.611 registered to the first frame)."""
    import json

    cli("synth", str(tmp_path / "data" / "track"), "-n", "150", "--scenario", "track")
    f = {}
    for name, sets in (("on", []), ("off", ["--set", "input.follow=false"])):
        cli("benchmark", str(tmp_path / "data"), "-m", "consensus", "-o", str(tmp_path / name), "--contact", "0",
            "--threads", "1", *sets)
        records = json.loads((tmp_path / name / "results.json").read_text())["records"]
        f[name] = records[0]["scores"]["f_measure"]
    assert f["on"] >= 0.75 and f["on"] > f["off"] + 0.15, f


def test_pixels_that_come_into_view_learn_their_samples_over_their_first_frames():
    """After a move, the 8 columns that came into view learn their samples over their first ``LEARN n`` frames,
    then take their ``n`` stillest as samples, set as at every setting (the conservative pass). Meanwhile they are
    compared from the frame after they enter: the scene is background in them, and a bright square that comes into
    them after that frame is foreground in each of the 6 frames it stands there (a sample taken from every frame
    would hold it from its third). A dark square stands in the new columns in the first 5 of those frames, the
    move's own frame included (a start from that frame alone holds it): it is not in their background afterwards,
    and it is foreground when it comes back. The search past the window moves with the view and leaves the new
    pixels out (their kept motions -inf)."""
    H, W = 120, 160
    wide = _scene(H, W + 40)
    rng = np.random.default_rng(7)

    def view(col, square=False, bright=False):
        f = wide[:, col:col + W].copy()
        if square:
            f[50:62, 146:158] = 0.05
        if bright:
            f[90:102, 146:158] = 0.98
        return _frame(f, rng)

    cfg = Config()
    model = _started(view, cfg)
    n, k = model.samples.shape[0], cfg.background.k
    search = model._stable
    before = search.vals.reshape(n, 3, 60, 80).copy()
    model.move(0, -8)
    fresh = entered((60, 80), 0, -8)
    sq = np.zeros((60, 80), bool)
    sq[26:30, 74:78] = True  # (the dark square's inside at the working size)
    near = np.zeros((60, 80), bool)
    near[23:33, 71:80] = True  # (its working pixels and one more each way: the 3 x 3 start reaches it)
    br = np.zeros((60, 80), bool)
    br[46:50, 74:78] = True  # (the bright square's inside)
    assert (sq & fresh).sum() == sq.sum() and (br & fresh).sum() == br.sum()
    for t in range(LEARN * n):
        z = model.step(view(36, square=t < 5, bright=10 <= t < 16))[0].max(axis=0)
        if 10 <= t < 16:
            assert z[br].min() > k, t  # compared from the frame after they enter: the bright square is found
        elif 0 < t < 5:
            # the scene is background in them (but for the dark square's surroundings, whose values come from the
            # start frame, and a few sharp edges' pixels that match fewer than two of their neighbours' values)
            assert (z[fresh & ~near] > k).mean() < 0.03, t
        if t == 0:  # (the search moved: the old pixels' kept values moved with the view)
            assert model._stable is search and np.isneginf(search.mot.reshape(n, 60, 80)[:, fresh]).all()
            moved = shifted(before, 0, -8)
            same = search.vals.reshape(n, 3, 60, 80)[:, :, ~fresh] == moved[:, :, ~fresh]
            assert same.mean() > 0.9  # (this frame may replace a stiller one here and there)
    z_clean = model.step(view(36))[0].max(axis=0)
    assert model._boot is None or (model._boot < 0).all()
    assert np.quantile(z_clean[fresh], 0.99) < k  # the scene: the square was cleaned out of the samples
    z_square = model.step(view(36, square=True))[0].max(axis=0)
    assert z_square[sq].min() > k  # ... and it is foreground again


def test_pixels_that_come_into_view_keep_their_stillest_learning_frames():
    """The pixels that came into view keep the ``n`` stillest of their ``LEARN n`` learning frames as samples. In
    the top half of the 8 new columns the scene shows still for their first 14 frames, then a textured object moves
    through them for the other 26 (the last n frames, and most of all of them, are the object's); in the bottom half
    the object moves through them in the frame they enter with and the next 5, then the scene shows still (the
    samples they started with are the object's, and frames unlike them are not written while they learn). In both
    the scene is their background afterwards, and the object foreground when it passes again."""
    H, W = 120, 160
    wide = _scene(H, W + 40)
    rng = np.random.default_rng(11)
    pattern = rng.uniform(0.0, 1.0, (H, 16, 3)).astype(np.float32)

    def view(col, top=None, bottom=None):
        f = wide[:, col:col + W].copy()
        if top is not None:  # the object, rolled 3 rows a frame: it moves
            f[:60, 144:] = np.roll(pattern, 3 * top, axis=0)[:60]
        if bottom is not None:
            f[60:, 144:] = np.roll(pattern, 3 * bottom, axis=0)[60:]
        return _frame(f, rng)

    cfg = Config()
    model = _started(view, cfg)
    n, k = model.samples.shape[0], cfg.background.k
    model.move(0, -8)
    fresh = entered((60, 80), 0, -8)
    for t in range(LEARN * n):
        model.step(view(36, top=t if t >= 14 else None, bottom=t if t < 6 else None))
    assert model._boot is None or (model._boot < 0).all()
    z_clean = model.step(view(36))[0].max(axis=0)
    top, bottom = fresh.copy(), fresh.copy()
    top[30:], bottom[:30] = False, False
    assert np.quantile(z_clean[top], 0.99) < k and np.quantile(z_clean[bottom], 0.99) < k
    z_obj = model.step(view(36, top=50, bottom=50))[0].max(axis=0)
    assert np.median(z_obj[fresh]) > k


def test_the_window_s_samples_come_from_the_frames_that_show_each_pixel():
    """A window brought back to the first view (a camera followed within it) repeats each frame's edge where the
    frame does not show the scene: constant values, stiller than any real frame. Given which frames show each
    pixel, each pixel's samples are chosen among those alone (its stillest ``n``), and cycle through them where a
    pixel has fewer than ``n``; without it the repeated edge wins (a literal check of the chosen frame indices)."""
    from bgsub.background.start import select

    rng = np.random.default_rng(5)
    T, n, h, w = 30, 6, 12, 16
    x = (100 + 10 * rng.standard_normal((T, 1, h, w))).astype(np.float32)  # every real frame noisy
    cover = np.ones((T, h, w), bool)
    cover[10:, :, :4] = False  # the first 4 columns shown by frames 0-9 alone (10 >= n)
    cover[3:, :, 4:6] = False  # columns 4-5 by frames 0-2 alone (3 < n)
    x[:, 0][~cover] = 50.0  # the repeated edge: the same value frame after frame
    raw = np.abs(np.diff(x, axis=0)).max(axis=1)
    raw = np.concatenate([raw[:1], np.maximum(raw[:-1], raw[1:]), raw[-1:]])
    idx, m, _ = select(x, raw, n, "stable", 3, 10.0, "diff", 1.0, cover)
    shown = np.take_along_axis(cover, idx, axis=0)
    assert shown.all()  # never a frame that does not show the pixel
    assert set(np.unique(idx[:, :, 4:6])) == {0, 1, 2}  # fewer than n: each of the three, cycled
    assert (np.sort(idx[:, :, 4:6], axis=0) == np.array([0, 0, 1, 1, 2, 2])[:, None, None]).all()
    plain, _, _ = select(x, raw, n, "stable", 3, 10.0, "diff", 1.0)
    assert not np.take_along_axis(cover, plain, axis=0)[:, :, :4].all()  # without it the edge's frames are chosen
