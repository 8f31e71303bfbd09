"""Two still scenes at a pixel in the initialisation window: which one is the background.

The stillest-frame start (:mod:`bgsub.background.start`) gives each pixel the frames in which it moved least. When
something stood still in view for part of the window and the scene showed still for another part (someone who
stood there from the first frame and walked away; someone who walked in and stopped), both stretches are equally
still: motion cannot tell them apart, and the pixel's stillest frames are a draw from the two (the conservative
pass then keeps whichever the draw made the majority, or both). What tells them apart is the outline of the region
where the two differ, as in the ghost test (:mod:`bgsub.background.ghost`; Cucchiara et al. 2003, St-Charles et
al. 2015): the image that holds the object has an edge all along that outline, against the settled background
around it; the scene's image continues that background without one.

:func:`two_scenes` compares, at each pixel, what its samples saw first (the stretch of its stillest frames seen
first: two centres started from the earliest and the latest sample's value, each sample given to the nearer) with
what the window shows at its end (the median of its last :data:`END` frames, where the pixel stood unchanged
through them and the camera did not clip it), the end in the first's light (a gain and an offset, as the model
undoes a light change: a light switched in the window is not a second scene). The pixels where the two differ by
more than k noise levels make regions (8-connected, holes filled), each judged by its outline: the pairs of a
region pixel p and its 4-neighbour q outside it. A pair tells when q stood still at the end (settled background;
its value there is the background q shows); it sees an edge in one image when that image's value at p differs
from q's by more than k noise levels, and votes for the other image when the other differs by less than half of
that. A region is judged when nine in ten of its outline's pairs tell (it lies in settled background: the foam
of a breaking wave, whose edges still move, is not), at least half of those see an edge (four at least), and it
keeps the image that more than three in four of them vote for: at its pixels the samples nearer the other image
are replaced by frames of the scene (the pixel's own samples of it in turn, or the window's last frames). Leaves,
water, a region whose two images both have the edge (two objects) or neither (a camouflaged one) are left as the
draw made them. After the window, an object that stopped is treated as always (the stopped-object policy of the
updates and the stillest-frame search): this decides only where the window's samples come from.

Measured (twenty-third session, zero-shot with the shipped network, README "Two still scenes in the window"):
``busy-start`` 0.657 -> 0.983 and ``stop`` 0.774 -> 0.973 at 160 x 120, 0.928 -> 0.995 and 0.959 -> 0.997 at
320 x 240; the eight real sequences' mean within 0.001.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from bgsub.background.clipping import CLIPPED
from bgsub.background.illumination import gain_compensated, grid_step, offset
from bgsub.background.stats import median0
from bgsub.background.ghost import GHOST_EDGE, GHOST_PAIRS, SEEN_SHARE, TOLD_SHARE, _holes, outline_pairs

SCENE_SHARE = 0.75  # a region keeps the image that more than this share of its outline's pairs that see an edge
#                     vote for (the ghost test asks nine in ten, as taking in an object that stopped costs more
#                     than waiting; here either choice costs the same when wrong, and not choosing keeps the draw)
CLIP_LOW, CLIP_HIGH = 0.5, CLIPPED  # grey levels beyond which a working pixel is taken as clipped (as the gain fit)
ROUNDS = 3  # the two centres' refinements (each sample to the nearer centre, each centre the mean of its samples)


def split(samples: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pixel's samples (n, C, h, w) split into the stretch seen first and the one seen last, ``idx`` (n, h, w)
    their frames: (the first's centre (C, h, w), the last's (C, h, w), whether each sample is the last's (n, h, w)
    bool). The centres start at the earliest and the latest sample's values; each sample goes to the nearer (the
    largest channel difference; a tie to the first), each centre becomes the mean of its samples (a centre with
    none keeps its value), :data:`ROUNDS` times."""
    n = samples.shape[0]
    first = np.take_along_axis(samples, np.argmin(idx, axis=0)[None, None], axis=0)[0]
    last = np.take_along_axis(samples, np.argmax(idx, axis=0)[None, None], axis=0)[0]
    late = np.zeros(idx.shape, bool)
    for _ in range(ROUNDS):
        late = np.abs(samples - last[None]).max(axis=1) < np.abs(samples - first[None]).max(axis=1)
        nl = late.sum(axis=0)
        ne = n - nl
        sl = (samples * late[:, None]).sum(axis=0)
        se = samples.sum(axis=0) - sl
        last = np.where(nl > 0, sl / np.maximum(nl, 1), last).astype(np.float32)
        first = np.where(ne > 0, se / np.maximum(ne, 1), first).astype(np.float32)
    return first, last, late


END = 8  # the window's last frames that show what the pixel looks like at its end: unchanged through them (as
#          long as the ghost test asks a region to stand still, bgsub.background.ghost)


def end_scene(x: np.ndarray, thr: np.ndarray, top: float = CLIP_HIGH) -> tuple[np.ndarray, np.ndarray]:
    """What the window ``x`` (T, C, h, w) shows at its end: (the median of its last :data:`END` frames (C, h, w),
    whether the pixel stood unchanged through them (h, w): each frame within ``thr`` of the one before in every
    channel, none clipped by the camera: at 0.5 or less, or at ``top`` or more)."""
    tail = np.ascontiguousarray(x[-END:], dtype=np.float32)
    still = np.abs(np.diff(tail, axis=0)).max(axis=(0, 1)) <= thr
    # a value the camera clipped is a bound, not a measurement (the light fit leaves such pixels out too)
    still &= (tail.min(axis=(0, 1)) > CLIP_LOW) & (tail.max(axis=(0, 1)) < top)
    return median0(tail).astype(np.float32, copy=False), still


def two_scenes(x: np.ndarray, samples: np.ndarray, idx: np.ndarray, k: float, noise: float,
               top: float = CLIP_HIGH) -> Optional[np.ndarray]:
    """``idx`` (n, h, w), the frames of the window ``x`` (T, C, h, w) each pixel's ``samples`` (n, C, h, w) come
    from, with the frames that hold an object replaced by frames of the scene, in the regions where the window's
    two still scenes' outline says which is which (module docstring); None when no region is decided.
    ``noise``: the camera's noise level (grey levels at the working size); ``top``: a value at or above it was
    clipped (the white level less half a grey level)."""
    T = x.shape[0]
    if T <= END:
        return None
    n, C, h, w = samples.shape
    thr = np.float32(k * noise)
    end, still = end_scene(x, thr, top)  # what the window shows at its end, ...
    # ... in the light of what the samples saw first (a light switched in the window is no second scene): the fit
    # reads a grid of pixels (bgsub.background.illumination.grid_step), so what the samples saw first is needed
    # there alone
    s = grid_step(h, w)
    ref = end.copy()
    ref[:, ::s, ::s] = split(samples[:, :, ::s, ::s], idx[:, ::s, ::s])[0]
    end = gain_compensated(end, ref, np.full((h, w), noise, np.float32), k, offset(end, ref), top=top)
    # what the samples saw first differs from the end only where a sample does (it is a mean of samples): the
    # two stretches are told apart at those pixels alone, a few in most windows
    d_end = np.abs(samples - end[None]).max(axis=1)  # (n, h, w)
    cand = np.flatnonzero(still & (d_end > thr).any(axis=0))
    if not cand.size:
        return None
    first = end.copy()  # (elsewhere the samples' first stretch is within thr of the end: not two scenes)
    sub = split(samples.reshape(n, C, -1)[:, :, cand], idx.reshape(n, -1)[:, cand])[0]
    first.reshape(C, -1)[:, cand] = sub
    two = still & (np.abs(first - end).max(axis=0) > thr)
    if not two.any():
        return None
    region = two | _holes(two)
    nlab, lab = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    py, px, qy, qx = outline_pairs(region)  # each region pixel p and its 4-neighbour q outside the region
    outline = np.bincount(lab[py, px], minlength=nlab)
    # q tells when it stood still at the end and showed there what its samples saw first: settled background
    told = still[qy, qx]
    py, px, qy, qx = py[told], px[told], qy[told], qx[told]
    labels = lab[py, px]
    bq = end[:, qy, qx]
    e_first = np.abs(first[:, py, px] - bq).max(axis=0)
    e_end = np.abs(end[:, py, px] - bq).max(axis=0)
    pairs = np.bincount(labels, minlength=nlab)
    seen = np.bincount(labels[(e_first > thr) | (e_end > thr)], minlength=nlab)
    # the pairs whose edge is one image's alone vote for the other as the scene
    for_first = np.bincount(labels[(e_end > thr) & (e_first < GHOST_EDGE * e_end)], minlength=nlab)
    for_end = np.bincount(labels[(e_first > thr) & (e_end < GHOST_EDGE * e_first)], minlength=nlab)
    told = (seen >= GHOST_PAIRS) & (seen >= SEEN_SHARE * pairs) & (pairs >= TOLD_SHARE * outline)
    keep_first = told & (for_first > SCENE_SHARE * seen)
    keep_end = told & (for_end > SCENE_SHARE * seen)
    keep_first[0] = keep_end[0] = False  # (label 0: outside every region)
    if not (keep_first.any() or keep_end.any()):
        return None
    kf, ke = keep_first[lab] & two, keep_end[lab] & two
    dec = np.flatnonzero(kf | ke)  # the decided pixels, flat
    sm, ix = samples.reshape(n, C, -1)[:, :, dec], idx.reshape(n, -1)[:, dec]
    d_first = np.abs(sm - first.reshape(C, -1)[:, dec][None]).max(axis=1)  # (n, P)
    d_end = d_end.reshape(n, -1)[:, dec]
    on_first = kf.reshape(-1)[dec]
    new = ix.copy()
    # the first is the scene: the samples nearer the end's object become the pixel's other samples' frames, in turn
    new[:, on_first] = refill(ix[:, on_first], (d_end < d_first)[:, on_first])
    # the end is the scene: the samples nearer what left become the window's last frames (what it showed), in turn
    on_end = ~on_first
    tail = (T - END + np.arange(n) % END)[:, None]
    new[:, on_end] = np.where(d_first[:, on_end] <= d_end[:, on_end], tail, ix[:, on_end])
    out = idx.copy()
    out.reshape(n, -1)[:, dec] = new
    return out


def refill(idx: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """``idx`` (n, ...) with each ``wrong`` sample's frame replaced by one of the pixel's other samples' frames, in
    turn (the j-th sample's slot gets the (j mod r)-th of the r others: the scene's own frames, its noise kept). A
    pixel with no other sample keeps its frames."""
    n = idx.shape[0]
    right = n - wrong.sum(axis=0)
    order = np.argsort(wrong, axis=0, kind="stable")  # each pixel's other samples first, in their order
    turn = np.arange(n).reshape((n,) + (1,) * (idx.ndim - 1)) % np.maximum(right, 1)[None]
    src = np.take_along_axis(idx, np.take_along_axis(order, turn, axis=0), axis=0)
    return np.where(wrong & (right > 0)[None], src, idx)
