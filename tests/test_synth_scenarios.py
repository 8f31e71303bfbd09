"""The named synthetic scenarios (``bgsub synth --scenario``): each one shows the property it is documented to have.

The frame numbers below come from the formulas in the bgsub.scenarios docstring (N = 60 frames, 64 x 80), and the
checks look at the pixels and masks, not at the generator's internals.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from bgsub.errors import BgsubError
from bgsub.scenarios import SCENARIOS, iter_scenario, scenario_events
from bgsub.synth import iter_synth, synth

H, W, N = 64, 80, 60
NAMES = ["busy-start", "dynamic", "trees", "lossless", "camouflage", "stop", "light-switch", "sweep", "jitter", "pan",
         "pan-stop", "track", "cut"]
COVER = {"sweep": (0.3, 0.7)}  # the share of pixels that are foreground; the others' (0.01, 0.2)


def r(v):
    """Round half up, as the scenarios' docstring does."""
    return int(np.floor(v + 0.5))


def clip(name, noise=None, h=H, w=W, n=N, seed=0):
    frames = list(iter_scenario(name, height=h, width=w, frames=n, seed=seed, noise=noise))
    return np.stack([f[1] for f in frames]), np.stack([f[2] for f in frames])


def test_registry_and_shapes():
    assert list(SCENARIOS) == ["default", *NAMES]
    for name in NAMES:
        for h, w, n in ((16, 16, 2), (H, W, N)):
            imgs, masks = clip(name, h=h, w=w, n=n)
            assert imgs.shape == (n, h, w, 3) and imgs.dtype == np.float32 and masks.dtype == bool
            assert imgs.min() >= 0 and imgs.max() <= 1
        assert masks.any(axis=(1, 2)).mean() >= 0.5, name  # objects in most frames at 64 x 80
        lo, hi = COVER.get(name, (0.01, 0.2))
        assert lo < masks.mean() < hi, name
    with pytest.raises(BgsubError, match="unknown scenario 'nope'.*busy-start"):
        iter_scenario("nope")


def test_default_scenario_is_the_default_clip():
    for (n1, a, ma), (n2, b, mb) in zip(iter_scenario("default", height=32, width=48, frames=8, seed=3),
                                        iter_synth(height=32, width=48, frames=8, seed=3)):
        assert n1 == n2 and np.array_equal(a, b) and np.array_equal(ma, mb)


def test_trees_sway_over_a_range_and_the_person_lies_outside_it():
    """``trees``: the band's pixels sway over a continuous range of colours (leaf, sky and their mixtures; ground
    truth 0), and the person in front of it lies in some channel at least 20 grey levels from every colour the band
    shows at the same pixel, 95% of his pixels 30 or more (what a noise level spread over the sway hides)."""
    imgs, masks = clip("trees")
    y0, y1 = scenario_events("trees", frames=N, height=H, width=W)["band_rows"]
    assert (y0, y1) == (r(0.08 * H), r(0.08 * H) + max(r(0.38 * H) + 2, r(0.42 * H)))
    band, on = imgs[:, y0:y1], masks[:, y0:y1]
    assert on.any() and not masks[:, y1:].any() and not masks[:, :y0].any()  # the person only in front of it
    shown = np.where(on[..., None], np.nan, band)  # the band where the person is not
    span = (np.nanmax(shown, axis=0) - np.nanmin(shown, axis=0)).max(axis=-1)
    assert np.percentile(span, 50) > 60 / 255 and np.percentile(span, 75) > 120 / 255
    t, y, x = np.nonzero(on)
    near = np.array([np.nanmin(np.abs(shown[:, yy, xx] - band[tt, yy, xx]).max(axis=-1)) for tt, yy, xx in
                     zip(t, y, x)])
    assert near.min() > 20 / 255 and np.percentile(near, 5) > 30 / 255
    first, last = scenario_events("trees", frames=N, height=H, width=W)["walker"]
    assert (first, last) == (r(0.2 * N), r(0.8 * N))


def test_busy_start_objects_stand_in_the_first_frames_then_leave_ghosts():
    imgs, masks = clip("busy-start")
    S = round(0.4 * N)  # 24: last standing frame
    first = masks[0]
    assert first.sum() > 0.03 * H * W  # two persons at frame 1: foreground from the very start
    assert all(np.array_equal(m, first) for m in masks[:S])  # standing still (and marked) through frame S
    assert not masks[-1][first].any()  # gone by the end: where they stood is background
    median = np.median(imgs[:S], axis=0)  # a naive model from the first frames ...
    assert np.abs(median[first] - imgs[0][first]).mean() < 0.02  # ... contains the persons,
    assert np.abs(median[first] - imgs[-1][first]).mean() > 0.1  # ... so it leaves ghosts after they leave
    assert masks[S + 3].any() and not np.array_equal(masks[S + 3], first)  # walking out after S
    assert masks[-1].any()  # something moves later


def test_dynamic_band_varies_a_lot_but_is_background():
    imgs, masks = clip("dynamic")
    y0, y1 = round(0.08 * H), round(0.08 * H) + round(0.30 * H)
    band = np.zeros((H, W), bool)
    band[y0:y1] = True
    assert 0.25 <= band.mean() <= 0.35
    never = ~masks.any(0)
    std = imgs.std(0).mean(-1)  # per-pixel temporal std
    assert np.median(std[band & never]) > 0.05  # foliage: large per-pixel variance ...
    assert np.median(std[~band & never]) < 0.02  # ... the static background: sensor noise only
    walker = [r(0.25 * N), r(0.75 * N)]
    in_band = masks[:, y0:y1].any(axis=(1, 2))
    assert in_band[walker[0] : walker[1] - 1].all() and not in_band[: walker[0] - 1].any()  # GT 0 without walker
    # the walker's colour lies within the foliage's range but does not copy it pixel for pixel
    n = N // 2
    on = masks[n] & band
    foliage = imgs[:, band & never].reshape(-1, 3)
    lo, hi = np.percentile(foliage, 5, axis=0), np.percentile(foliage, 95, axis=0)
    mean = imgs[n][on].mean(0)
    assert ((lo <= mean) & (mean <= hi)).all()
    assert np.abs(imgs[n][on] - imgs[0][on]).mean() > 0.05
    assert masks[:, round(0.75 * H) :].any(axis=(1, 2)).mean() > 0.8  # and a car elsewhere


def test_lossless_frames_differ_by_a_grey_level_or_two(tmp_path):
    n = 40
    synth(tmp_path / "c", height=H, width=W, frames=n, seed=0, scenario="lossless")
    read = lambda k: cv2.imread(str(tmp_path / "c" / "input" / f"in{k:06d}.png")).astype(int)  # noqa: E731
    gt = lambda k: cv2.imread(str(tmp_path / "c" / "groundtruth" / f"gt{k:06d}.png"), 0)  # noqa: E731
    free = r(0.2 * n)  # frames 1..8: no object
    frames = [read(k) for k in range(1, free + 1)]
    assert all(not gt(k).any() for k in range(1, free + 1))
    for a, b in zip(frames, frames[1:]):
        d = np.abs(a - b)
        assert d.max() <= 5  # 1 from the flicker's rounding, 2 + 2 from blocks
        assert (d == 0).mean() > 0.6  # most pixels identical
        assert (d <= 1).mean() > 0.9
    assert any((a != b).any() for a, b in zip(frames, frames[1:]))  # but not a frozen clip
    for a in frames[1:]:
        assert (np.abs(a - frames[0]) <= 5).all()
    # the written frames are the generated ones exactly (no noise, 8-bit values)
    imgs, masks = clip("lossless", n=n)
    written = np.stack([read(k) for k in range(1, n + 1)])[..., ::-1]  # BGR -> RGB
    assert np.array_equal(np.floor(imgs * 255 + 0.5).astype(int), written)
    # moderate-contrast objects later
    k = n // 2
    on = masks[k - 1]
    contrast = np.abs(imgs[k - 1][on] - imgs[0][on]).mean()
    assert on.any() and 0.05 < contrast < 0.35
    with pytest.raises(BgsubError, match="png or bmp"):
        synth(tmp_path / "j", height=H, width=W, frames=4, scenario="lossless", ext="jpg")


def test_camouflage_mean_matches_background_texture_does_not():
    imgs, masks = clip("camouflage", noise=0.0)
    bg = imgs[0]  # frame 1: no object in view yet
    assert not masks[0].any()
    upper = np.zeros((H, W), bool)
    upper[: H // 2] = True  # the striped object's rows (the ordinary one is below)
    seen = 0
    for n in range(N):
        obj = masks[n] & upper
        if obj.sum() < 20:
            continue
        seen += 1
        assert np.abs(imgs[n][obj].mean(0) - bg[obj].mean(0)).max() <= 10 / 255
    assert seen > N / 2
    n = N // 2
    obj = masks[n] & upper
    pair = obj[:, 1:] & obj[:, :-1]  # horizontal neighbours both on the object
    dx = lambda img: np.abs(img[:, 1:] - img[:, :-1]).mean(-1)[pair]  # noqa: E731
    assert dx(imgs[n]).mean() > 20 / 255 and dx(bg).mean() < 5 / 255  # stripes on a smooth background
    assert imgs[n][obj].std(0).min() > 20 / 255
    # the ordinary object is plainly visible
    other = masks[n] & ~upper
    assert other.any() and np.abs(imgs[n][other] - bg[other]).mean() > 0.2


def test_stop_object_enters_late_and_stays_still_to_the_end():
    imgs, masks = clip("stop", noise=0.0)
    E = max(2, r(0.3 * N) + 1)
    S = max(E, r(0.45 * N))  # 19, 27
    upper = masks[:, : int(0.74 * H)]  # the person's rows (the car loops below)
    assert not upper[: E - 1].any() and upper[E - 1].any()  # enters after the initialisation period
    final = upper[-1]
    assert final.sum() > 100  # foreground at the last frame, where it stopped
    still = [k for k in range(N) if np.array_equal(upper[k], final)]
    assert still == list(range(S - 1, N)) and len(still) >= 0.4 * N  # stopped from frame S to the end
    pix = imgs[S - 1 :, : int(0.74 * H)][:, final]
    assert (pix == pix[0]).all()  # identical over the stop (no noise here)
    noisy, _ = clip("stop")
    assert noisy[S - 1 :, : int(0.74 * H)][:, final].std(0).max() < 0.05  # up to the sensor noise
    ev = scenario_events("stop", frames=N, height=H, width=W)
    assert (ev["enter"], ev["stop"], ev["stopped_frames"]) == (E, S, N - S + 1)


def test_light_switch_drops_brightness_at_mid_clip():
    imgs, masks = clip("light-switch", noise=0.0)
    L = N // 2 + 1  # 31: first frame under the new light
    bgpix = ~masks[L - 3 : L + 1].any(0)
    means = [imgs[k][bgpix].mean() for k in range(L - 3, L + 1)]  # frames L-2 .. L+1
    before = means[1]
    assert abs(means[0] - means[1]) < 1e-6 and abs(means[2] - means[3]) < 1e-6  # constant otherwise
    assert abs((before - means[2]) - (0.25 * before - 0.02)) < 0.005  # gain 0.75 on average, offset +0.02
    assert before - means[2] > 0.05
    ratio = (imgs[L - 1] - 0.02) / imgs[L - 2]  # per pixel: the gain field
    left, right = bgpix.copy(), bgpix.copy()
    left[:, 4:] = False
    right[:, :-4] = False
    assert abs(ratio[left].mean() - 0.70) < 0.01 and abs(ratio[right].mean() - 0.80) < 0.01
    assert masks.any(axis=(1, 2)).all()  # objects throughout


def test_sweep_leaves_cover_the_scene_from_the_first_frame_and_move():
    """Leaves in front of the scene from frame 1 to the end, about half of it on average, never still for long
    (the mask changes every few frames); the scene behind shows at every pixel they cover some of the time, and
    there it is the static scene (sensor noise only between the frames that show it)."""
    imgs, masks = clip("sweep")
    assert masks[0].mean() > 0.1 and all(m.any() for m in masks)
    assert 0.3 < masks.mean() < 0.7
    changed = [not np.array_equal(masks[t], masks[t + 3]) for t in range(N - 3)]
    assert np.mean(changed) > 0.9
    sometimes = masks.any(0) & ~masks.all(0)
    assert sometimes.mean() > 0.5  # most of the frame is covered at some times and shows the scene at others
    shown = np.where(~masks[..., None], imgs, np.nan)  # the scene where no leaf is
    spread = np.nanstd(shown[:, sometimes], axis=0).mean(-1)
    assert np.nanmedian(spread) < 0.02  # the same scene each time it shows: noise only
    leaf = imgs[masks].mean(0)
    assert leaf[1] > leaf[0] and leaf[1] > leaf[2]  # green


def test_jitter_is_the_default_clip_cropped_at_the_stated_offsets():
    """Frame n is the default clip rendered 2 J larger each way, cropped at (J + dy, J + dx) with the offsets of
    _jitter_offsets (frame 1 centred), its mask with it: a literal crop of iter_synth's frames."""
    from bgsub.scenarios.camera import _jitter_offsets

    J = r(0.02 * min(H, W))
    assert J == 1 and scenario_events("jitter", frames=N, height=H, width=W) == {"amplitude": J}
    off = _jitter_offsets(N, H, W, 0)
    assert tuple(off[0]) == (0, 0) and np.abs(off).max() == J and (off[1:] != 0).any(axis=1).mean() > 0.5
    big = list(iter_synth(height=H + 2 * J, width=W + 2 * J, frames=N, seed=0))
    imgs, masks = clip("jitter")
    for n in (1, 2, 17, N):
        dy, dx = off[n - 1]
        ys, xs = slice(J + dy, J + dy + H), slice(J + dx, J + dx + W)
        assert np.array_equal(imgs[n - 1], big[n - 1][1][ys, xs]) and np.array_equal(masks[n - 1], big[n - 1][2][ys, xs])


def test_pan_is_the_default_clip_cropped_along_a_steady_pan():
    """Frame n is the default clip rendered P = r(0.4 min(H, W)) wider, cropped at column (n - 1) P // (N - 1): 0
    first, P last, never back; its mask with it (a literal crop of iter_synth's frames)."""
    from bgsub.scenarios.camera import _pan_offsets

    P = r(0.4 * min(H, W))
    assert scenario_events("pan", frames=N, height=H, width=W) == {"span": P}
    off = _pan_offsets(N, H, W)
    assert off[0] == 0 and off[-1] == P and (np.diff(off) >= 0).all() and np.diff(off).max() <= 1
    big = list(iter_synth(height=H, width=W + P, frames=N, seed=0))
    imgs, masks = clip("pan")
    for n in (1, 2, 17, N):
        x0 = (n - 1) * P // (N - 1)
        assert np.array_equal(imgs[n - 1], big[n - 1][1][:, x0:x0 + W])
        assert np.array_equal(masks[n - 1], big[n - 1][2][:, x0:x0 + W])


def test_pan_stop_is_the_default_clip_cropped_along_a_pan_that_stops():
    """Frame n is the default clip rendered P = r(0.9 W) wider, cropped at column 0 up to frame A = r(0.25 N) + 1,
    at (n - A) P // (B - A) up to B = r(0.55 N) + 1 and at P from there (a literal crop of iter_synth's frames)."""
    P, A, B = r(0.9 * W), r(0.25 * N) + 1, r(0.55 * N) + 1
    assert scenario_events("pan-stop", frames=N, height=H, width=W) == {"span": P, "pan": A, "stop": B}
    big = list(iter_synth(height=H, width=W + P, frames=N, seed=0))
    imgs, masks = clip("pan-stop")
    for n in (1, A - 1, A, A + 1, (A + B) // 2, B - 1, B, N):
        x0 = 0 if n <= A else (P if n >= B else (n - A) * P // (B - A))
        assert np.array_equal(imgs[n - 1], big[n - 1][1][:, x0:x0 + W]), n
        assert np.array_equal(masks[n - 1], big[n - 1][2][:, x0:x0 + W]), n


def test_track_is_the_default_clip_panned_with_a_person_at_the_stated_place():
    """Frame n is the default clip rendered P = r((N - 1) W / 160) wider, cropped at column (n - 1) P // (N - 1),
    with the person (busy-start's size, an ellipse) at row r((H - h) / 2 + 0.05 H sin(n / 5)), column
    r((W - w) / 2 + 0.06 W sin(n / 9)): the mask is the crop's mask plus that ellipse, and every pixel outside the
    ellipse is the crop's (a literal crop and placement)."""
    P = r((N - 1) * W / 160)
    assert scenario_events("track", frames=N, height=H, width=W) == {"span": P}
    big = list(iter_synth(height=H, width=W + P, frames=N, seed=0))
    imgs, masks = clip("track")
    ph, pw = max(8, r(0.38 * H)), max(4, r(0.14 * min(H, W)))
    yy, xx = np.mgrid[0:ph, 0:pw]
    ell = ((yy - (ph - 1) / 2) / (ph / 2)) ** 2 + ((xx - (pw - 1) / 2) / (pw / 2)) ** 2 <= 1.0
    for n in (1, 2, 17, N):
        x0 = (n - 1) * P // (N - 1)
        y, x = r((H - ph) / 2 + 0.05 * H * np.sin(n / 5)), r((W - pw) / 2 + 0.06 * W * np.sin(n / 9))
        person = np.zeros((H, W), bool)
        person[y:y + ph, x:x + pw] = ell
        want = big[n - 1][2][:, x0:x0 + W] | person
        assert np.array_equal(masks[n - 1], want), n
        assert np.array_equal(imgs[n - 1][~person], big[n - 1][1][:, x0:x0 + W][~person]), n


def test_cut_is_the_default_clip_re_pointed_once():
    """Frame n is the default clip rendered J = r(0.5 min(H, W)) larger each way, cropped at (0, 0) before frame
    C = r(0.65 N) + 1 and at (J, J) from it on: the same view up to C - 1, then the moved one (a literal crop)."""
    J, C = r(0.5 * min(H, W)), r(0.65 * N) + 1
    assert scenario_events("cut", frames=N, height=H, width=W) == {"cut": C, "jump": J}
    big = list(iter_synth(height=H + J, width=W + J, frames=N, seed=0))
    imgs, masks = clip("cut")
    for n in (1, C - 1, C, N):
        o = J if n >= C else 0
        assert np.array_equal(imgs[n - 1], big[n - 1][1][o:o + H, o:o + W]), n
        assert np.array_equal(masks[n - 1], big[n - 1][2][o:o + H, o:o + W]), n


def test_files_deterministic_and_recorded(tmp_path):
    for name in NAMES:
        kw = dict(height=24, width=32, frames=10, seed=1, scenario=name)
        res = synth(tmp_path / name / "a", **kw)
        synth(tmp_path / name / "b", **kw)
        a, b = tmp_path / name / "a", tmp_path / name / "b"
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        assert len(files) == 2 * 10 + 3
        assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files), name
        meta = yaml.safe_load((a / "synth.yaml").read_text())
        assert meta["scenario"] == name == res["scenario"] and meta["events"]
        first = "1" if name in ("busy-start", "sweep", "track") else "2"  # these are scored from frame 1
        assert (a / "temporalROI.txt").read_text().split() == [first, "10"]
    synth(tmp_path / "other", height=24, width=32, frames=10, seed=2, scenario="stop")
    assert (tmp_path / "other/input/in000010.png").read_bytes() != (tmp_path / "stop/a/input/in000010.png").read_bytes()


def test_cli_scenario_option(tmp_path, cli):
    r_ = cli("synth", tmp_path / "x", "--scenario", "nope")
    assert r_.code == 1 and r_.stderr.count("\n") == 1
    assert "unknown scenario 'nope'" in r_.stderr and all(name in r_.stderr for name in NAMES)
    assert not (tmp_path / "x").exists()
    r_ = cli("synth", tmp_path / "s", "--scenario", "stop", "-n", "12", "--height", "32", "--width", "40", "--json")
    assert r_.code == 0 and json.loads(r_.stdout)["scenario"] == "stop"
    assert (tmp_path / "s" / "groundtruth" / "gt000012.png").is_file()
    r_ = cli("synth", "--help")
    assert r_.code == 0 and all(name in r_.stdout for name in NAMES)
