"""Two still scenes in the initialisation window (bgsub.background.scenes): the outline says which is the scene."""

from __future__ import annotations

import numpy as np
import pytest

from bgsub.background.scenes import END, refill, split, two_scenes


def _scene(h=40, w=48, seed=0):
    """A textured still scene in grey levels (3, h, w): smooth shading and a few grey levels of fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 30 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 3 * rng.normal(0, 1, (h, w))
    return np.repeat(base[None], 3, axis=0).astype(np.float32)


def _window(scene, box, value, frames, T=100, noise=1.0, seed=1):
    """T frames of ``scene`` with sensor noise and a flat object of ``value`` over ``box`` (y0, x0, y1, x1) in the
    frames ``frames`` (a range)."""
    rng = np.random.default_rng(seed)
    x = np.repeat(scene[None], T, axis=0) + rng.normal(0, noise, (T,) + scene.shape).astype(np.float32)
    y0, x0, y1, x1 = box
    for t in frames:
        x[t, :, y0:y1, x0:x1] = value + rng.normal(0, noise, (3, y1 - y0, x1 - x0))
    return x.astype(np.float32)


def _draw(T, n, object_frames, seed=2):
    """Each pixel's n sample frames drawn from the window's T frames as a tie of stillness draws them: a random
    choice, so that both stretches are in most pixels' samples."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(T)[:n] for _ in range(40 * 48)], axis=1).reshape(n, 40, 48)


def test_split_against_a_literal_two_centre_loop():
    """Each pixel's samples split by two centres started at its earliest and latest sample's value: each sample to
    the nearer (largest channel difference, a tie to the first), each centre the mean of its samples, three
    rounds; a literal loop over the pixels."""
    rng = np.random.default_rng(4)
    n, C, h, w = 7, 2, 3, 4
    samples = (rng.integers(0, 4, (n, C, h, w)) * 20 + rng.normal(0, 2, (n, C, h, w))).astype(np.float32)
    idx = np.stack([rng.permutation(30)[:n] for _ in range(h * w)], axis=1).reshape(n, h, w)
    first, last, late = split(samples, idx)
    for y in range(h):
        for x in range(w):
            s = samples[:, :, y, x].astype(np.float64)
            a, b = s[np.argmin(idx[:, y, x])].copy(), s[np.argmax(idx[:, y, x])].copy()
            for _ in range(3):
                lt = np.array([np.abs(v - b).max() < np.abs(v - a).max() for v in s])
                if lt.any():
                    b = s[lt].mean(axis=0)
                if (~lt).any():
                    a = s[~lt].mean(axis=0)
            assert np.array_equal(late[:, y, x], lt)
            assert np.allclose(first[:, y, x], a, atol=1e-3) and np.allclose(last[:, y, x], b, atol=1e-3)


def test_refill_gives_each_wrong_sample_one_of_the_others_in_turn():
    idx = np.array([10, 11, 12, 13, 14])[:, None, None] * np.ones((1, 1, 2), np.int64)
    wrong = np.zeros((5, 1, 2), bool)
    wrong[[0, 2, 3], 0, 0] = True  # pixel 0: the others are frames 11 and 14
    wrong[:, 0, 1] = True  # pixel 1: no other sample: kept
    got = refill(idx, wrong)
    assert got[:, 0, 0].tolist() == [11, 11, 11, 14, 14]  # slot j takes the (j mod 2)-th other: 0 -> 11, 2 -> 11, 3 -> 14
    assert got[:, 0, 1].tolist() == [10, 11, 12, 13, 14]


@pytest.mark.parametrize("kind", ["left", "came"])
def test_the_scene_is_the_image_without_the_outline(kind):
    """An object stands still for part of the window and the scene shows still for the rest, each pixel's samples a
    draw from both. ``left``: it stood there from the first frame and left at frame 60 (the scene is the window's
    end); ``came``: it came at frame 40 and stayed (the scene is what the samples saw first). Either way every
    object sample inside it becomes a scene frame, and nothing changes outside it."""
    T, n, k, noise = 100, 20, 6.0, 1.0
    scene = _scene()
    box = (12, 14, 26, 30)
    frames = range(0, 60) if kind == "left" else range(40, T)
    x = _window(scene, box, 40.0, frames, T=T, noise=noise)
    idx = _draw(T, n, frames)
    samples = np.take_along_axis(x, idx[:, None].repeat(3, axis=1), axis=0)
    got = two_scenes(x, samples, idx, k, noise)
    assert got is not None
    inside = np.zeros((40, 48), bool)
    inside[12:26, 14:30] = True
    on_object = np.isin(got, list(frames))
    assert not on_object[:, inside].any()  # the object's frames are gone from its pixels' samples
    assert np.array_equal(got[:, ~inside], idx[:, ~inside])  # elsewhere the draw is as it was
    before = np.isin(idx, list(frames))[:, inside].mean()
    assert 0.3 < before < 0.7  # (the draw held both)


def test_a_light_switched_in_the_window_and_a_camouflaged_object_are_left_alone():
    """A gain of 0.75 on the whole frame from frame 60 is no second scene (the end is compared in the first's
    light); an object of the scene's own colour has no outline in either image: nothing is decided."""
    T, n, k, noise = 100, 20, 6.0, 1.0
    scene = _scene()
    x = _window(scene, (12, 14, 26, 30), 0.0, range(0), T=T, noise=noise)
    x[60:] *= 0.75
    idx = _draw(T, n, range(60, T))
    samples = np.take_along_axis(x, idx[:, None].repeat(3, axis=1), axis=0)
    assert two_scenes(x, samples, idx, k, noise) is None
    flat = np.full_like(scene, 110.0)
    y = _window(flat, (12, 14, 26, 30), 110.0, range(0, 60), T=T, noise=noise)
    s2 = np.take_along_axis(y, idx[:, None].repeat(3, axis=1), axis=0)
    assert two_scenes(y, s2, idx, k, noise) is None
    assert END < T


def test_a_busy_start_s_persons_are_foreground_while_they_stand(tmp_path):
    """The ``busy-start`` scenario at 160 x 120 (the working size itself), 150 frames: two persons stand still from
    the first frame to frame 60 and walk out by frame 82; the scene shows still for the rest of the 100-frame
    window. Their standing frames and the scene's are equally still, so the stillest-frame start draws from both
    (14.5 of 20 samples the persons' at their pixels here). With ``scenes`` the persons' outline says they are the
    object: found while they stand (the model alone thresholded: 0.18 -> 0.98 of their pixels, no pixel outside
    them in either), not without."""
    import cv2

    from bgsub.background.samples import SampleModel
    from bgsub.io.frames import read_clip
    from bgsub.synth import synth

    synth(tmp_path / "b", frames=150, height=120, width=160, seed=0, scenario="busy-start")
    x = read_clip(tmp_path / "b" / "input", grayscale=False).frames
    gt = np.stack([cv2.imread(str(tmp_path / "b" / "groundtruth" / f"gt{n:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
                   for n in range(1, 57)])
    kw = dict(texture=True, texture_region=5, dynamics="nn", motion="both", ghost=8)
    found = {}
    for on in (False, True):
        m = SampleModel.initialise(x[:100], scenes=on, **kw)
        found[on] = (m.step(x[:56]).amax(1) > m.k).numpy()
    assert found[False][gt].mean() < 0.5 and found[True][gt].mean() > 0.8
    assert found[True][~gt].mean() <= found[False][~gt].mean() + 0.002
