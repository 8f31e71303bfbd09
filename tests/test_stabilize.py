"""Camera jitter (bgsub.io.stabilize, input.stabilize): the frame moved back onto the first frame's grid, the
mask moved back to the frame; checked against literal loops, the jitter scenario's exact offsets and ground
truth, and scenes that must be left alone (a still camera, a large object crossing, a pan past the limit)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import segment_json  # tests/ is on sys.path (rootdir conftest, no __init__.py)

from bgsub.io.stabilize import MAX_SHIFT, PAN_SHIFT, STOPPED, Stabilizer, shift_image, unshift_mask
from bgsub.io.stream import FrameStream
from bgsub.scenarios import iter_scenario
from bgsub.scenarios.camera import _jitter_amplitude, _jitter_offsets, _track_offsets


def _u8(img):
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()  # RGB [0, 1] -> BGR uint8


@pytest.mark.parametrize("dy,dx", [(0, 0), (2, -1), (-3, 0), (0, 4), (-1, -2)])
def test_shift_and_unshift_against_literal_loops(dy, dx):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    out = shift_image(img, dy, dx)
    h, w = img.shape[:2]
    for y in range(h):
        for x in range(w):  # out[y, x] = img[y + dy, x + dx], the nearest row/column where that is outside
            assert np.array_equal(out[y, x], img[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)])
    mask = rng.integers(0, 2, (7, 9), dtype=np.uint8) * 255
    back = unshift_mask(mask, dy, dx)
    for y in range(h):
        for x in range(w):  # back[y, x] = mask[y - dy, x - dx], 0 outside
            sy, sx = y - dy, x - dx
            want = mask[sy, sx] if 0 <= sy < h and 0 <= sx < w else 0
            assert back[y, x] == want


def test_the_jitter_scenario_s_offsets_are_recovered():
    """Frame n is the big frame cropped at (J + dy, J + dx): its content sits at -(dy, dx) from frame 1's."""
    H, W, N = 96, 128, 60
    off = _jitter_offsets(N, H, W, 0)
    assert _jitter_amplitude(H, W) == 2 and np.abs(off).max() == 2 and (off[1:] != 0).any(axis=1).mean() > 0.7
    st = Stabilizer()
    got = np.array([st.shift_of(_u8(img)) for _, img, _ in iter_scenario("jitter", height=H, width=W, frames=N)])
    right = (got == -off).all(axis=1)
    moved = (got != 0).any(axis=1)
    # most frames found; a frame moved is moved right (a 1-pixel shake in the blurred texture under the camera
    # noise is sometimes too weak for the test: left as it is, never moved wrong)
    assert right.mean() >= 0.85 and right[moved].mean() >= 0.97, (right.mean(), right[moved].mean())
    assert st.moved == int(moved.sum())
    # registered, the frames line up with the first: the textured background agrees to the noise where no object is
    frames = list(iter_scenario("jitter", height=H, width=W, frames=N))
    first = _u8(frames[0][1]).astype(np.int16)
    for n in [i + 1 for i in range(N) if np.abs(off[i]).max() == 2][:3]:
        img, mask = _u8(frames[n - 1][1]), frames[n - 1][2] | frames[0][2]
        dy, dx = -off[n - 1]
        reg = shift_image(img, int(dy), int(dx)).astype(np.int16)
        keep = ~unshift_mask(mask.astype(np.uint8), -int(dy), -int(dx)).astype(bool)  # not an object in either
        inner = np.zeros_like(keep)
        inner[3:-3, 3:-3] = True
        d_reg = np.abs(reg - first)[keep & inner].mean()
        d_raw = np.abs(img.astype(np.int16) - first)[keep & inner].mean()
        assert d_reg < 6 and d_raw > 2 * d_reg, (n, d_reg, d_raw)


def test_a_pan_of_two_pixels_a_frame_is_followed_at_its_velocity():
    """``track`` at 320 x 240 (the camera panning two pixels a frame after a person near the centre): past the
    quarter, phase correlation against the first frame, sharing less of its view with the person in the middle,
    loses the peak, and the nine shifts around the last one kept do not reach the next frame's (two columns on).
    The pan's velocity carries the search there (a camera moves smoothly): every frame registered exactly, to
    the scenario's own offsets (without the velocity: 76 exact, 17 a pixel behind the pan, 7 left as they are)."""
    H, W, N = 240, 320, 100
    off = _track_offsets(N, H, W)
    assert off[-1] > MAX_SHIFT * H + 20 and np.diff(off).max() == 2
    st = Stabilizer()
    got = [st.shift_of(_u8(img)) for _, img, _ in iter_scenario("track", height=H, width=W, frames=N)]
    assert got == [(0, -int(o)) for o in off]
    assert st.moved == int(np.count_nonzero(off)) and st.refused == 0


def test_a_fast_pan_within_the_quarter_is_followed_at_its_velocity():
    """``pan-stop`` over 120 frames of 160 x 120: the camera pans four pixels a frame from standing still (144
    columns in 36 frames), then stands still. Within the quarter, phase correlation against the first frame's view
    comes out short as less of it is shared (three pixels behind at 28 columns), and the nine shifts around it and
    around the last one kept do not reach the frame's; the pan's velocity carries the search there from its second
    frame, not only past the quarter. Following the view, every frame is registered at the scenario's own offset
    (before: 83 of the 120 frames off, most of them left as they are, and the grid moved twice)."""
    from bgsub.scenarios.camera import _pan_stop_offsets

    H, W, N = 120, 160, 120
    off = _pan_stop_offsets(N, H, W)
    assert np.diff(off).max() == 4 and off[-1] == 144
    st = Stabilizer()
    st.follow((H, W))
    got = []
    for _, img, _ in iter_scenario("pan-stop", height=H, width=W, frames=N):
        _, (dy, dx) = st(_u8(img))
        oy, ox = st._origin()
        got.append((dy + oy, dx + ox))  # the frame's offset from the first frame's view
    assert got == [(0, -int(o)) for o in off]
    assert st.follows >= 4  # (each move to where the last 9 frames point: 20 working columns or more)


def test_a_still_camera_is_left_alone():
    """The default clip (objects of several sizes crossing, light drift, noise): not one frame moved."""
    st = Stabilizer()
    for _, img, _ in iter_scenario("default", height=96, width=128, frames=80):
        assert st.shift_of(_u8(img)) == (0, 0)
    assert st.moved == 0


def test_a_large_object_crossing_is_not_a_camera_move():
    """A textured block a third of the frame wide crossing a still textured scene at 3 pixels a frame: phase
    correlation may see its motion, the texture test does not move the frame."""
    rng = np.random.default_rng(1)
    H, W = 120, 160
    scene = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (0, 0), 1.5)
    block = cv2.GaussianBlur(rng.integers(0, 256, (70, 55, 3), dtype=np.uint8), (0, 0), 1.0)
    st = Stabilizer()
    for n in range(40):
        img = scene.copy()
        x = 3 * n
        if x + 55 <= W:
            img[25:95, x:x + 55] = block
        noisy = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        assert st.shift_of(noisy) == (0, 0), n
    assert st.moved == 0


def test_a_pan_past_the_limit_is_refused_and_a_bump_within_it_is_followed():
    rng = np.random.default_rng(2)
    H, W = 120, 160
    big = cv2.GaussianBlur(rng.integers(0, 256, (H + 80, W + 80), dtype=np.uint8), (0, 0), 1.5)
    limit = max(2, int(MAX_SHIFT * H))
    st = Stabilizer()
    assert st.shift_of(big[40:40 + H, 40:40 + W]) == (0, 0)
    # the camera bumped by 5 rows and -4 columns and staying there: followed
    for _ in range(3):
        assert st.shift_of(big[45:45 + H, 36:36 + W]) == (-5, 4)
    # panned by more than the limit: left as it is
    far = 40 + limit + 6
    img = big[40:40 + H, far:far + W]
    refused = st.refused
    out, shift = st(img)
    assert shift == (0, 0) and out is img and st.refused == refused + 1


def test_a_fade_from_black_takes_the_first_textured_frame_as_the_reference():
    """Flat frames (black, then grey) have nothing to register: the first frame with texture becomes the
    reference, and a later shake is registered against it."""
    rng = np.random.default_rng(3)
    H, W = 96, 128
    big = cv2.GaussianBlur(rng.integers(0, 256, (H + 20, W + 20, 3), dtype=np.uint8), (0, 0), 1.5)
    st = Stabilizer()
    assert st.shift_of(np.zeros((H, W, 3), np.uint8)) == (0, 0)
    assert st.shift_of(np.full((H, W, 3), 128, np.uint8)) == (0, 0)
    assert st.shift_of(big[10:10 + H, 10:10 + W]) == (0, 0)  # the reference from here on
    assert st.shift_of(big[13:13 + H, 8:8 + W]) == (-3, 2)  # its content 3 rows up, 2 columns right
    assert st.moved == 1


def test_the_stream_registers_frames_and_keeps_native_shifts_when_decoding_reduced(tmp_path):
    """A folder of JPEG files read reduced by 2 after the first (as segment reads HD frames): the frames handed out
    are registered at the reduced size, the shifts kept in native pixels."""
    rng = np.random.default_rng(4)
    H, W = 240, 320
    big = cv2.GaussianBlur(rng.integers(0, 256, (H + 40, W + 40, 3), dtype=np.uint8), (0, 0), 3)
    offs = [(0, 0), (4, -6), (-2, 8), (0, 0), (6, 2)]
    for i, (dy, dx) in enumerate(offs, start=1):
        cv2.imwrite(str(tmp_path / f"in{i:06d}.jpg"), big[20 + dy:20 + dy + H, 20 + dx:20 + dx + W],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    with FrameStream.open(tmp_path, stabilize=True) as s:
        s.record_shifts = True
        assert s.size == (H, W)
        s.decode_reduced(2)
        got = [(n, img.shape[:2]) for n, img, _ in s.images()]
    assert [g[1] for g in got] == [(H, W)] + [(H // 2, W // 2)] * 4
    assert s.shifts == {n: (-dy, -dx) for n, (dy, dx) in enumerate(offs, start=1) if (dy, dx) != (0, 0)}
    with FrameStream.open(tmp_path) as s:  # off: nothing registered, nothing kept
        s.record_shifts = True
        list(s.images())
    assert s.stabilizer is None and s.shifts == {}
    with FrameStream.open(tmp_path, stabilize=True) as s:  # a pass that writes no masks keeps no shifts
        imgs = [img for _, img, _ in s.images()]
    assert s.shifts == {} and s.stabilizer.moved == 3 and imgs[1].shape == (H, W, 3)


def _score(cli, tmp_path, name, extra=(), summary=None):
    out = segment_json(tmp_path / name, tmp_path / f"masks-{len(extra)}", extra, summary)
    return json.loads(cli("evaluate", str(out), "--gt", str(tmp_path / name), "--json").stdout)["scores"]


def test_segment_on_a_shaking_camera_needs_the_registration(cli, tmp_path):
    """`bgsub synth --scenario jitter` (the default clip, +-2 pixels a frame) segmented zero-shot: with the
    registration (the default) as good as a still camera's clip; without it every edge of the scene flickers."""
    cli("synth", str(tmp_path / "jit"), "-n", "100", "--scenario", "jitter")
    on = _score(cli, tmp_path, "jit")
    off = _score(cli, tmp_path, "jit", ["input.stabilize=false"])
    assert on["f_measure"] >= 0.85 and on["f_measure"] > off["f_measure"] + 0.2, (on, off)


def test_segment_on_a_panning_camera_follows_the_pan(cli, tmp_path):
    """`bgsub synth --scenario pan` (the default clip, the view moving steadily right to 40% of the frame's
    smaller side, past the quarter that a shake may reach): followed as a pan's continuation, every moving frame
    registered; without the registration (and with a pan held to the quarter, the previous rule) every edge the
    pan sweeps is foreground. The strip that leaves the first frame's view is background in the masks (recall)."""
    cli("synth", str(tmp_path / "pan"), "-n", "150", "--scenario", "pan")
    summary: dict = {}
    on = _score(cli, tmp_path, "pan", summary=summary)
    off = _score(cli, tmp_path, "pan", ["input.stabilize=false"])
    assert on["f_measure"] >= 0.7 and on["precision"] >= 0.85 and on["f_measure"] > off["f_measure"] + 0.2, (on, off)
    # the --json summary: every frame whose view moved registered (the scenario's own offsets: the first few frames
    # stand where the first one does) but one (against a reference retaken from the pan's frames, a frame whose
    # phase correlation lost the peak is taken where the reference is: bgsub.background.follow), none refused
    from bgsub.scenarios.camera import _pan_offsets

    moved = int(np.count_nonzero(_pan_offsets(150, 120, 160)))
    assert moved > 140 and moved - 2 <= summary["stabilized"] <= moved and summary["unregistered"] == 0, summary
    assert summary["follows"] >= 4 and summary["lost"] == 0, summary


def test_segment_on_a_tracking_camera_follows_it(cli, tmp_path):
    """`bgsub synth --scenario track` (a camera panning a pixel a frame to follow a person near the centre, the
    short hand-held clips of the UCSD set): followed to the end (89 columns, past the quarter of the frame that a
    shake may reach), the person found; without the registration the pan's edges swamp it (F 0.40, and 0.40 with
    the previous rule, which stopped at the quarter)."""
    cli("synth", str(tmp_path / "track"), "-n", "90", "--scenario", "track")
    on = _score(cli, tmp_path, "track")
    off = _score(cli, tmp_path, "track", ["input.stabilize=false"])
    assert on["f_measure"] >= 0.7 and on["f_measure"] > off["f_measure"] + 0.2, (on, off)


def test_sampled_frames_are_registered_as_the_stream_registers_them(cli, tmp_path):
    """A method that fits on sampled frames (read_clip) sees them on the grid segment registers to: the first
    selected frame, read for that even when the sample leaves it out."""
    from bgsub.io.frames import _convert, read_clip

    cli("synth", str(tmp_path / "jit"), "-n", "40", "--height", "96", "--width", "128", "--scenario", "jitter")
    nums = [5, 17, 33]
    sampled = read_clip(tmp_path / "jit", numbers=nums, grayscale=False, stabilize=True)
    assert sampled.numbers == nums
    with FrameStream.open(tmp_path / "jit", stabilize=True) as s:
        s.record_shifts = True
        streamed = {n: _convert(img, grayscale=False, scale=1.0, where="") for n, img, _ in s.images() if n in nums}
        shifts = dict(s.shifts)
    off = _jitter_offsets(40, 96, 128, 0)
    assert any(n in shifts for n in nums) and all(shifts.get(n, (0, 0)) == tuple(-off[n - 1]) for n in nums)
    for i, n in enumerate(nums):
        assert np.array_equal(sampled.frames[i].numpy(), streamed[n])
    raw = read_clip(tmp_path / "jit", numbers=nums, grayscale=False)
    moved = [i for i, n in enumerate(nums) if n in shifts]
    assert all(not np.array_equal(raw.frames[i].numpy(), sampled.frames[i].numpy()) for i in moved)


@pytest.mark.parametrize("kind", ["grey16", "bgra", "grey"])
def test_other_decodings_register_alike(kind):
    """Frames as OpenCV decodes other files (16-bit grey PNG, BGRA PNG, 8-bit grey): the same shifts."""
    H, W, N = 96, 128, 30
    off = _jitter_offsets(N, H, W, 0)
    st = Stabilizer()
    got = []
    for _, img, _ in iter_scenario("jitter", height=H, width=W, frames=N):
        u8 = _u8(img)
        if kind == "grey16":
            x = cv2.cvtColor(u8, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
        elif kind == "bgra":
            x = cv2.cvtColor(u8, cv2.COLOR_BGR2BGRA)
        else:
            x = cv2.cvtColor(u8, cv2.COLOR_BGR2GRAY)
        out, d = st(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        got.append(d)
    got = np.array(got)
    moved = (got != 0).any(axis=1)
    assert moved.mean() > 0.6 and (got[moved] == -off[moved]).all()


def test_the_mask_is_resized_to_the_native_size_then_moved_back(tmp_path):
    """write_mask with a working-size mask, the native size and a native shift: a literal nearest upscale by 2,
    then out[y, x] = up[y - dy, x - dx], 0 outside."""
    from bgsub.io.masks import write_mask

    rng = np.random.default_rng(5)
    m = rng.integers(0, 2, (12, 16)).astype(bool)
    dy, dx = 3, -1
    write_mask(tmp_path, 7, m, size=(24, 32), shift=(dy, dx))
    got = cv2.imread(str(tmp_path / "bin000007.png"), cv2.IMREAD_GRAYSCALE)
    up = np.repeat(np.repeat(m, 2, axis=0), 2, axis=1)  # INTER_LINEAR of 0/255 then > 127: nearest for 2x
    want = np.zeros((24, 32), bool)
    for y in range(24):
        for x in range(32):
            if 0 <= y - dy < 24 and 0 <= x - dx < 32:
                want[y, x] = up[y - dy, x - dx]
    # bilinear upsampling may move an edge by a pixel where neighbours differ: compare away from the mask's edges
    inner = cv2.erode((want * 255).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    outer = cv2.dilate((want * 255).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert (got[inner] == 255).all() and (got[~outer] == 0).all()
    assert (got[:dy] == 0).all() and (got[:, 32 + dx:] == 0).all()  # outside the first frame's view


def test_a_jump_just_past_the_limit_is_refused_not_taken_for_the_limit():
    rng = np.random.default_rng(6)
    H, W = 120, 160
    limit = max(2, int(MAX_SHIFT * H))
    big = cv2.GaussianBlur(rng.integers(0, 256, (H + 2 * limit + 10, W + 10), dtype=np.uint8), (0, 0), 1.5)
    y0 = limit + 4
    st = Stabilizer()
    st.shift_of(big[y0:y0 + H, 4:4 + W])
    assert st.shift_of(big[y0 - limit - 1:y0 - limit - 1 + H, 4:4 + W]) == (0, 0)  # a jump one past it: refused
    assert st.refused == 1
    assert st.shift_of(big[y0 - limit:y0 - limit + H, 4:4 + W]) == (limit, 0)  # at the limit: followed
    # one more row from there is a pan's continuation (within STEP of the last shift kept): followed
    assert st.shift_of(big[y0 - limit - 1:y0 - limit - 1 + H, 4:4 + W]) == (limit + 1, 0)
    assert st.refused == 1 and st.moved == 2


def test_a_steady_pan_is_followed_to_three_quarters_of_the_width_then_refused():
    """A camera panning a pixel a frame: every frame registered (the quarter passed as a continuation) up to three
    quarters of the frame's width (a quarter of the view still shared); past it left as it is, and counted as
    refused."""
    rng = np.random.default_rng(8)
    H, W = 120, 160
    limit, pan = max(2, int(MAX_SHIFT * H)), int(PAN_SHIFT * W)
    assert pan > limit + 10
    big = cv2.GaussianBlur(rng.integers(0, 256, (H, W + pan + 8, 3), dtype=np.uint8), (0, 0), 1.5)
    st = Stabilizer()
    for k in range(pan + 4):
        got = st.shift_of(big[:, 2 + k:2 + k + W])
        assert got == ((0, -k) if k <= pan else (0, 0)), (k, got)
    assert st.moved == pan and st.refused == 3


def test_frames_after_a_lost_pan_are_lost_until_it_stops_there():
    """A camera panning a pixel a frame past three quarters of the width, then standing still there: every frame
    past the limit is *lost* (left as it is after a pan's continuation: a view no model has seen), and once the
    view has stood still for STOPPED frames in a row against the frame before, that frame becomes the reference:
    nothing is lost any more, and a shake of a pixel is registered against the new reference. A shake within the
    quarter that is refused (a still camera's first frame, a jump) is never lost."""
    rng = np.random.default_rng(8)
    H, W = 120, 160
    pan = int(PAN_SHIFT * W)
    big = cv2.GaussianBlur(rng.integers(0, 256, (H + 8, W + pan + 40, 3), dtype=np.uint8), (0, 0), 1.5)
    view = lambda k, dy=0: big[4 + dy:4 + dy + H, 2 + k:2 + k + W]  # noqa: E731
    st = Stabilizer()
    lost = []
    for k in range(pan + 10):  # the pan: followed to the limit, then lost
        _, d = st(view(k))
        lost.append(st.lost)
        assert d == ((0, -k) if k <= pan else (0, 0)), (k, d)
    assert not any(lost[:pan + 1]) and all(lost[pan + 1:]) and st.lost_frames == 9
    end = pan + 9
    flags = []
    for _ in range(STOPPED + 2):  # the camera stands still there (as the last frame of the pan)
        st(view(end))
        flags.append((st.lost, st.anchors))
    # lost, each frame still against the one before, until the STOPPED-th: the reference from the next frame on
    assert flags == [(True, 0)] * (STOPPED - 1) + [(True, 1)] + [(False, 1)] * 2, flags
    _, d = st(view(end + 1, dy=1))  # a shake against the new reference: registered, not lost
    assert d == (-1, -1) and not st.lost
    still = Stabilizer()
    for k in (0, 0, 40, 0):  # a jump from a still camera: refused, not a lost pan
        still(view(k))
        assert not still.lost
    assert still.refused == 1 and still.lost_frames == 0


def test_segment_writes_the_masks_of_frames_after_a_lost_pan_empty(cli, tmp_path):
    """`track` over 150 frames at 160 x 120 pans 149 columns, past three quarters of the width. Registered to the
    first frame (``input.follow=false``: a model that does not move with the view) the frames after it are left as
    they are, and compared with a background of another view their masks were the scene's edges (precision 0.44
    over the clip). They are written empty, the summary counts them (``lost``), a warning says so; the frames
    before them are as before."""
    cli("synth", str(tmp_path / "track"), "-n", "150", "--scenario", "track")
    summary = {}
    scores = _score(cli, tmp_path, "track", ["input.follow=false"], summary=summary)
    assert 20 <= summary["lost"] <= 40 and summary["anchors"] == 0 and summary["follows"] == 0
    masks = {int(p.stem[3:]): cv2.imread(str(p), 0) for p in (tmp_path / "masks-1").glob("bin*.png")}
    empty = [n for n in sorted(masks) if not masks[n].any()]
    assert len(empty) >= summary["lost"] and empty[-summary["lost"]:] == list(range(151 - summary["lost"], 151))
    assert scores["precision"] > 0.9 and scores["f_measure"] > 0.5, scores


def test_segment_moves_the_background_model_with_a_tracking_camera(cli, tmp_path):
    """The same clip segmented with the defaults: the background model moves with the view
    (:mod:`bgsub.background.follow`), so no frame is lost and the person, who leaves the first frame's view after
    half of the pan, is found to the end (F 0.823 against 0.561 registered to the first frame, zero-shot)."""
    cli("synth", str(tmp_path / "track"), "-n", "150", "--scenario", "track")
    summary = {}
    on = _score(cli, tmp_path, "track", summary=summary)
    off = _score(cli, tmp_path, "track", ["input.follow=false"])
    assert summary["lost"] == 0 and summary["unregistered"] == 0 and 15 <= summary["follows"] <= 22, summary
    assert summary["stabilized"] == int(np.count_nonzero(_track_offsets(150, 120, 160))), summary
    assert on["f_measure"] >= 0.75 and on["f_measure"] > off["f_measure"] + 0.15, (on, off)
    masks = [cv2.imread(str(p), 0) for p in sorted((tmp_path / "masks-0").glob("bin*.png"))]
    gts = [cv2.imread(str(p), 0) for p in sorted((tmp_path / "track" / "groundtruth").glob("*.png"))]
    late = [(m > 127) & (g == 255) for m, g in zip(masks[-30:], gts[-30:])]  # the last 30 frames: the person found
    assert sum(int(x.sum()) for x in late) > 0.6 * sum(int((g == 255).sum()) for g in gts[-30:])


def test_a_pan_s_continuation_needs_the_frames_before_it():
    """The same far view as a pan's end, reached in one jump from a still camera (as phase correlation can say of
    a flock or a leaf filling the view), or from a shift further than STEP away: refused."""
    rng = np.random.default_rng(9)
    H, W = 120, 160
    limit, pan = max(2, int(MAX_SHIFT * H)), int(PAN_SHIFT * H)
    big = cv2.GaussianBlur(rng.integers(0, 256, (H, W + pan + 8), dtype=np.uint8), (0, 0), 1.5)
    st = Stabilizer()
    assert st.shift_of(big[:, 2:2 + W]) == (0, 0)
    far = limit + 8
    assert st.shift_of(big[:, 2 + far:2 + far + W]) == (0, 0) and st.refused == 1
    assert st.shift_of(big[:, 2 + 10:2 + 10 + W]) == (0, -10)  # a bump within the quarter: followed
    assert st.shift_of(big[:, 2 + far:2 + far + W]) == (0, 0) and st.refused == 2  # 18 columns on: a jump


def test_flat_frames_are_not_counted_as_pans_and_tiny_frames_are_left_alone():
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (0, 0), 1.5)
    st = Stabilizer()
    st.shift_of(scene)
    for _ in range(3):  # a fade to black: no texture, no peak
        assert st.shift_of(np.zeros_like(scene)) == (0, 0)
    assert st.refused == 0 and st.moved == 0
    for shape in ((1, 300, 3), (300, 1, 3), (5, 2000, 3), (12, 12, 3)):
        tiny = Stabilizer()
        frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(3)]
        assert [tiny(f)[1] for f in frames] == [(0, 0)] * 3 and all(tiny(f)[0] is f for f in frames)


def test_label_frames_moved_by_the_registration_are_named(cli, tmp_path):
    """Ground-truth masks given for training are not moved with their frames: when a label frame was registered,
    one warning line says so (and how to label a shaking camera); with input.stabilize=false, none."""
    cli("synth", str(tmp_path / "jit"), "-n", "30", "--height", "96", "--width", "128", "--scenario", "jitter")
    args = ["train", str(tmp_path / "jit"), "--label-frames", "4", "--set", "train.epochs=1", "--set",
            "train.tune_epochs=1"]
    r = cli(*args, "-o", str(tmp_path / "a.pt"))
    assert r.code == 0, r.stderr
    assert "label frames were registered to the first frame" in r.stderr and "input.stabilize=false" in r.stderr
    r = cli(*args, "-o", str(tmp_path / "b.pt"), "--set", "input.stabilize=false")
    assert r.code == 0 and "registered" not in r.stderr
