"""The mask's edge at the frame's resolution (bgsub.background.boundary): against a literal loop, and on scenes
with exact ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bgsub.background.boundary import band_radius, refine


def _literal(masks, frames, background, noise, factor, ratio=1 / 3, margin=6.0, window=4):
    """The rule written out pixel by pixel: band = mask pixels with a non-mask pixel within r (Chebyshev, inside
    the frame); interior = the other mask pixels; a band pixel is dropped when the interior within window * r
    exists, its mean colour differs from the background by more than margin * noise in some channel, and the
    pixel's squared distance to the background is below ratio^2 times its squared distance to that mean."""
    T, H, W = masks.shape
    r = math.ceil(math.sqrt(factor))
    R = window * r
    out = masks.copy()
    for t in range(T):
        m = masks[t]
        inner = np.zeros_like(m)
        for y in range(H):
            for x in range(W):
                if m[y, x]:
                    win = m[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1]
                    inner[y, x] = win.all()
        for y in range(H):
            for x in range(W):
                if not m[y, x] or inner[y, x]:
                    continue
                ys, xs = np.nonzero(inner[max(0, y - R): y + R + 1, max(0, x - R): x + R + 1])
                if ys.size == 0:
                    continue
                ys, xs = ys + max(0, y - R), xs + max(0, x - R)
                o = frames[t][:, ys, xs].astype(np.float64).mean(axis=1)
                px = frames[t][:, y, x].astype(np.float64)
                b = background[t][:, y, x].astype(np.float64)
                if not (np.abs(o - b) > margin * noise).any():
                    continue
                if ((px - b) ** 2).sum() < ratio * ratio * ((px - o) ** 2).sum():
                    out[t, y, x] = False
    return out


def test_refine_equals_the_literal_rule():
    rng = np.random.default_rng(0)
    T, C, H, W = 3, 3, 30, 34
    frames = rng.random((T, C, H, W), dtype=np.float32)
    background = rng.random((T, C, H, W), dtype=np.float32)
    masks = np.zeros((T, H, W), bool)
    masks[0, 4:22, 6:25] = True  # a block touching nothing
    masks[1, 0:14, 20:34] = True  # one at the frame's corner
    masks[1, 20:24, 2:6] = True  # a small one: all band
    masks[2] = rng.random((H, W)) < 0.6  # ragged
    frames[0, :, 8:18, 10:20] = 0.9  # a bright interior: far from most backgrounds
    got = refine(masks, frames, background, noise=0.01, factor=4.0)
    want = _literal(masks, frames, background, 0.01, 4.0)
    assert np.array_equal(got, want)
    assert (got != masks).any()  # something was dropped
    assert not (got & ~masks).any()  # nothing added


def _scene(contrast=0.5, shadow=0.9, noise=0.01, two_tone=False, size=22, seed=1, ramp=0.1, grow=2):
    """A grey background with a square object of ``contrast`` more brightness, a soft shadow ring (the background
    times ``shadow``) ``grow`` pixels wide around it, Gaussian noise; the network's mask is the object grown by
    ``grow`` pixels (2: one working pixel for factor 4), shadow included."""
    rng = np.random.default_rng(seed)
    H, W = 64, 80
    bg = np.full((3, H, W), 0.4, np.float32) + np.linspace(0, ramp, W, dtype=np.float32)[None, None]
    gt = np.zeros((H, W), bool)
    y0, x0 = 20, 25
    gt[y0:y0 + size, x0:x0 + size] = True
    grown = np.zeros_like(gt)
    grown[y0 - grow:y0 + size + grow, x0 - grow:x0 + size + grow] = True
    img = bg.copy()
    img[:, grown & ~gt] *= shadow
    base = bg[:, gt].mean(axis=1, keepdims=True) if gt.any() else bg[:, :1, 0]
    obj = base + np.array([1.0, 0.8, 0.9], np.float32)[:, None] * contrast
    img[:, gt] = obj
    if two_tone:  # a rim of another tone: the object's three left columns, nearer the background than the body
        left = gt.copy()
        left[:, x0 + 3:] = False
        img[:, left] = base + np.array([1.0, 0.8, 0.9], np.float32)[:, None] * (0.3 * contrast)
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return img[None], bg[None], grown[None], gt


def test_the_grown_edge_and_its_soft_shadow_are_dropped():
    frames, bg, masks, gt = _scene()
    got = refine(masks, frames, bg, noise=0.01, factor=4.0)[0]
    wrong_before = int((masks[0] != gt).sum())
    wrong_after = int((got != gt).sum())
    assert wrong_before > 150
    assert wrong_after <= 0.1 * wrong_before
    assert got[gt].all()  # the object itself is kept whole


def test_a_two_tone_object_keeps_both_tones():
    """An object's rim of another tone (a boat's windshield): the rim is nearer the background than the body's mean
    colour, but not ``ratio`` times nearer: it stays in the mask (a plain nearest mean, ratio 1, drops it)."""
    frames, bg, masks, gt = _scene(two_tone=True, grow=1)  # the band reaches a pixel into the object
    got = refine(masks, frames, bg, noise=0.01, factor=4.0)[0]
    assert got[gt].mean() > 0.99
    assert (got & ~gt).sum() < 0.2 * (masks[0] & ~gt).sum()
    plain = refine(masks, frames, bg, noise=0.01, factor=4.0, ratio=1.0)[0]
    assert plain[gt].mean() < 0.95  # the rim lost


def test_an_object_the_colour_of_its_background_keeps_its_mask():
    """Contrast below margin noise levels: nothing to decide the edge by; the mask is left as it is."""
    frames, bg, masks, _ = _scene(contrast=0.03, shadow=1.0, noise=0.01, ramp=0.0)
    got = refine(masks, frames, bg, noise=0.01, factor=4.0)
    assert np.array_equal(got, masks)


def test_small_objects_and_frame_size_decisions_are_left_alone():
    frames, bg, masks, _ = _scene(size=0)  # a 4 x 4 mask, narrower than a band's 2 r + 1: no interior
    assert np.array_equal(refine(masks, frames, bg, noise=0.01, factor=4.0), masks)
    frames, bg, masks, _ = _scene()
    assert np.array_equal(refine(masks, frames, bg, noise=0.01, factor=1.0), masks)  # decided at frame size


@pytest.mark.parametrize("factor,r", [(1.0, 1), (2.0, 2), (4.0, 2), (4.5, 3), (9.0, 3), (16.0, 4)])
def test_band_radius(factor, r):
    assert band_radius(factor) == r
