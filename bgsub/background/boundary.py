"""The mask's edge at the frame's resolution: the last step of the reference U-Net's masks.

The network decides at its pixel budget (160 x 120 for 320 x 240 frames), and its logits, upsampled bilinearly,
put each edge near the outer border of the working pixels an object touches. A working pixel that an object covers
in part differs from its background by that share of the object's contrast, over a noise divided by sqrt(m) for m
frame pixels averaged: a small share is enough to make it foreground. So every mask grows by up to one working
pixel on each side, and a soft shadow beside the object, averaged into the object's working pixels, joins it
(cdnet-office: 55-75% of the false positives within 2.5 pixels of the worker's outline).

Within that band (the mask's pixels less than one working pixel, ceil(sqrt(f)) frame pixels for f frame pixels a
working pixel, from its edge) each frame pixel goes to whichever of two local models explains it, a two-class
nearest mean in colour: the background (the background state's image at the frame's size, in the frame's light)
and the object (the mean colour of the mask's interior, the pixels further in, within ``window`` working pixels).
A band pixel is dropped when it lies ``ratio`` times nearer the background than the object (Euclidean distance over
the channels), and only where the two means differ by more than ``margin`` noise levels at the frame's resolution
(an object the colour of its background has no edge to find by colour: its mask is kept). Only removals: in the
band the network's mask is an upper bound of the object. An object with no interior (a bird, a far car: all band)
is left as it is.

Measured one lever at a time (README, "Fifth session"): the ratio 1 (plain nearest mean) lost boats' two-tone
hulls, 1/3 keeps them.
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from bgsub.background.kernels import band_drop

RATIO = 1.0 / 3.0  # a band pixel is dropped when its distance to the background is below this share of its
#                    distance to the object's mean
MARGIN = 6.0  # frame noise levels the object's mean must differ from the background by (the model's k)
WINDOW = 4  # working pixels around a band pixel whose interior gives the object's mean colour


def band_radius(factor: float) -> int:
    """Frame pixels in one working pixel's width, for ``factor`` frame pixels a working pixel (at least 1)."""
    return max(1, math.ceil(math.sqrt(max(factor, 1.0)) - 1e-9))


def refine(masks: np.ndarray, frames: np.ndarray, background: np.ndarray, noise: float, factor: float, *,
           offsets: Optional[np.ndarray] = None, ratio: float = RATIO, margin: float = MARGIN,
           window: int = WINDOW) -> np.ndarray:
    """masks (T, H, W) bool with their band decided at the frame's resolution (see the module docstring): a new
    array. frames (T, C, H, W) float32, C 1 or 3; background: each frame's (T, C, H, W), or one (C, H, W) for all with
    ``offsets`` (T, C) added per frame (the frame's light); noise: the camera noise at the frame's resolution, in
    the frames' units; factor: frame pixels per working pixel of the masks' decision."""
    masks = np.ascontiguousarray(masks, dtype=bool)
    out = masks.copy()
    if factor <= 1.0 + 1e-6 or ratio <= 0:
        return out  # decided at the frame's resolution already: no band to refine
    r = band_radius(factor)
    ker = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    R = window * r  # the object's mean from the interior within R frame pixels
    thr = margin * noise
    rr = ratio * ratio
    T, H, W = masks.shape
    for t in range(T):
        m = masks[t].view(np.uint8)
        bx, by, bw, bh = cv2.boundingRect(m)  # the work stays within the mask's box, plus the window
        if bw == 0:
            continue
        y0, y1, x0, x1 = max(0, by - R), min(H, by + bh + R), max(0, bx - R), min(W, bx + bw + R)
        mm = np.ascontiguousarray(m[y0:y1, x0:x1])
        # the box reaches R >= r past the mask but for the frame's edges: eroding it is eroding the frame
        inner = cv2.erode(mm, ker, borderType=cv2.BORDER_REPLICATE)
        band = cv2.subtract(mm, inner)  # the mask's pixels that erosion removed
        if not cv2.countNonZero(inner) or not cv2.countNonZero(band):
            continue
        pts = cv2.findNonZero(band).reshape(-1, 2)  # (P, 2) x, y in row-major order, as np.nonzero gives them
        ys, xs = pts[:, 1].astype(np.intp), pts[:, 0].astype(np.intp)
        h, w = mm.shape
        # box sums over (2R + 1)^2 windows at the band pixels only, from integral images (zero outside the frame)
        ya, yb = np.maximum(ys - R, 0), np.minimum(ys + R + 1, h)
        xa, xb = np.maximum(xs - R, 0), np.minimum(xs + R + 1, w)

        x = frames[t][:, y0:y1, x0:x1]
        bgt = (background[t] if background.ndim == 4 else background)[:, y0:y1, x0:x1]
        off = np.zeros(x.shape[0]) if offsets is None else np.asarray(offsets[t], np.float64)
        # compiled (bgsub.background.kernels) for float32 frames (the product below is rounded to float32), or:
        drop = band_drop(inner, x, bgt, off, ys, xs, R, thr, rr) if x.dtype == np.float32 else None
        if drop is not None:
            if drop.any():
                out[t, ys[drop] + y0, xs[drop] + x0] = False
            continue
        C = x.shape[0]
        inn = inner.astype(np.float32)
        planes = np.empty((h, w, C + 1), np.float32)  # the interior and the frame on it, one integral image
        planes[..., 0] = inn
        for c in range(C):
            np.multiply(x[c], inn, out=planes[..., c + 1])
        ii = cv2.integral(planes, sdepth=cv2.CV_64F).reshape(-1, C + 1)  # ((h + 1)(w + 1), C + 1)
        ya *= w + 1
        yb *= w + 1
        sums = ii.take(yb + xb, axis=0) - ii.take(ya + xb, axis=0) - ii.take(yb + xa, axis=0) + ii.take(ya + xa, axis=0)
        count = sums[:, 0]
        o = sums[:, 1:] / np.maximum(count, 1.0)[:, None]  # (P, C) the interior's mean colour
        px = x[:, ys, xs].T.astype(np.float64)  # (P, C)
        b = bgt[:, ys, xs].T.astype(np.float64)
        if offsets is not None:
            b += off[None]
        dxo = ((px - o) ** 2).sum(axis=1)
        dxb = ((px - b) ** 2).sum(axis=1)
        far = (np.abs(o - b) > thr).any(axis=1)
        drop = (count > 0.5) & far & (dxb < rr * dxo)
        if drop.any():
            out[t, ys[drop] + y0, xs[drop] + x0] = False
    return out
