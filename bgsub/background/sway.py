"""A background that sways: branches, leaves against the sky, a flag, moved by a few pixels to and fro.

A pixel's samples are its stillest frames of the window (:mod:`bgsub.background.start`), and the stillest frames of
a sway are its turning points: the positions between, passed quickly, are in no sample, and with one noise level
for every pixel (the camera's) they are foreground twice a period (the ``trees`` scenario: at a clump's edge the
green channel cycles 88 -> 200 -> 88 every 16 frames, its samples hold 93-98 and 177-199). What the pixel shows
between its turning points is what a neighbour shows at one of them: the same pattern, displaced. Elgammal,
Harwood & Davis (2000, "Non-parametric model for background subtraction", built for swaying trees) accept a pixel
that a neighbour's background explains (their displacement probability); ViBe's spatial diffusion spreads the same
idea over time.

Everywhere, that test also explains the edge of a person by the background next to it and leaves near leaves
(``background.shift``: ucsd-peds 0.754 -> 0.675 and sbi-foliage 0.817 -> 0.634 zero-shot with a radius of 2). So it is
applied only where the window shows the background sway (:func:`sway_mask`): the pixels whose own samples miss
the window's frames at least ``matches`` times, most of those misses explained by a neighbour's background
within the radius. A person who crosses the window is no displacement of the background around him; a scene that
leaves sweep across is not explained by the scene next to it; a still pixel never misses. :func:`closer`
gives, at those pixels, each frame's residual against the best neighbour's background (:func:`displaced`) when it
is smaller than against the pixel's own samples; ``background.shift`` is the same everywhere.
"""

from __future__ import annotations

import numpy as np

from bgsub.background.stats import kth_smallest


def displaced(x: np.ndarray, bg: np.ndarray, r: int) -> np.ndarray:
    """(C, h, w): at each pixel, |x - bg| at the neighbour within ``r`` working pixels (the pixel itself left out;
    the frame's edge repeated) whose background ``bg`` (C, h, w) is closest to the frame ``x`` (C, h, w) in its
    worst channel, per channel (the first such neighbour, rows then columns, on a tie). Whole-array slices of the
    padded background: a tenth of the time of gathering the neighbours of chosen pixels, even for a few of them."""
    C, h, w = x.shape
    pad = np.pad(bg, ((0, 0), (r, r), (r, r)), mode="edge")
    best = np.full(x.shape, np.inf, np.float32)
    bestm = np.full((h, w), np.inf, np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy == 0 and dx == 0:
                continue
            d = np.abs(x - pad[:, r + dy: r + dy + h, r + dx: r + dx + w])
            m = d.max(axis=0)
            better = m < bestm
            np.copyto(best, d, where=better[None])
            np.copyto(bestm, m, where=better)
    return best


def closer(x: np.ndarray, res: np.ndarray, bg: np.ndarray, r: int, where: np.ndarray | None = None) -> None:
    """``res`` (C, h, w), the residual against the pixel's own samples, replaced in place by :func:`displaced`'s at
    the pixels (``where`` (h, w) bool; None: all) where a neighbour's background explains the frame ``x`` better
    in its worst channel."""
    d = displaced(x, bg, r)
    better = d.max(axis=0) < res.max(axis=0)
    if where is not None:
        better &= where
    np.copyto(res, d, where=better[None])


def sway_mask(x: np.ndarray, samples: np.ndarray, bg: np.ndarray, sigma: np.ndarray, k: float, matches: int,
              r: int, cover: np.ndarray | None = None) -> np.ndarray:
    """(h, w) bool: the pixels whose window shows a swaying background. ``x`` (T, C, h, w) the window's frames,
    ``samples`` (n, C, h, w) and ``bg`` (C, h, w) the model started on it, ``sigma`` (h, w) its noise levels. A
    frame misses a pixel when its ``matches``-th nearest sample is more than ``k`` noise levels off in some channel;
    a miss is a displacement when a neighbour's background within ``r`` explains it (:func:`displaced`, within k
    noise levels in every channel). The pixels with at least ``matches`` misses, most of them displacements.
    ``cover`` (T, h, w) bool or None: the frames that show each pixel (a camera that moved within the window)."""
    T = x.shape[0]
    thr = np.float32(k) * sigma
    miss = np.zeros(sigma.shape, np.int32)
    moved = np.zeros(sigma.shape, np.int32)
    for t in range(T):
        off = kth_smallest(samples, x[t], matches).max(axis=0) > thr
        if cover is not None:
            off &= cover[t]
        if not off.any():
            continue
        miss += off
        moved += off & (displaced(x[t], bg, r).max(axis=0) <= thr)
    return (miss >= matches) & (2 * moved > miss)
