"""How the sample model takes in what it sees, frame by frame (:class:`bgsub.background.samples.SampleModel`).

- :func:`diffuse`: ViBe's conservative, random, spatially diffused update (Barnich & Van Droogenbroeck 2011). A
  pixel the model calls background (well inside it) replaces one of its samples, chosen at random, with
  probability 1/phi, and, with the same probability, one of a random neighbour's: a wrong start (a ghost) is
  eaten from its border by the background around it, and slow changes of the scene are followed.
- :func:`heal` (off by default, ``background.still``): a foreground pixel that changed, then stayed unchanged for
  ``still_frames`` frames and looks like the background ``reach`` pixels away on enough sides, takes its value as
  one sample a frame.

Both draw from the model's random generator in a fixed order (the model's results are reproducible per seed).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from bgsub.background import kernels
from bgsub.background.stats import neighbour_index, put_samples

DIRS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))  # the 8 neighbours (dy, dx)


def diffuse(samples: np.ndarray, tsamples: Optional[np.ndarray], x: np.ndarray, tex: Optional[np.ndarray],
            bg: np.ndarray, zmax: np.ndarray, *, k: float, phi: int, absorb: bool,
            rng: np.random.Generator) -> None:
    """ViBe's update, in place: ``samples`` (n, C, h, w) from the frame ``x`` (C, h, w) and, with ``tsamples``
    (n, 1, h, w), the texture ``tex`` (h, w), at the pixels ``bg`` (h, w, bool) may enter. With ``absorb`` False a
    value spreads only into a neighbour that is background itself (``zmax`` <= ``k``): foreground is never
    eaten."""
    n, C, h, w = samples.shape
    xf = x.reshape(C, -1)  # flat pixel indices y w + x from here on
    tf = None if tex is None else tex.reshape(1, -1)
    kern = kernels.diffusion()  # the selections and the writes compiled (the same draws, the same values), or NumPy
    if kern is not None and samples.flags.c_contiguous and (tsamples is None or tsamples.flags.c_contiguous):
        drawn, put = kern
        sf = samples.reshape(n, C, -1)
        tsf = None if tf is None else tsamples.reshape(n, 1, -1)
        xf, tf = np.ascontiguousarray(xf), None if tf is None else np.ascontiguousarray(tf)
        bgc = np.ascontiguousarray(bg, dtype=bool)

        def select(r: np.ndarray) -> np.ndarray:  # flat indices of the background pixels drawn (r < 1 / phi)
            return drawn(bgc, r, 1.0 / phi)

        def write(j: np.ndarray, dst: np.ndarray, src: np.ndarray) -> None:  # sample j of dst <- the value at src
            put(sf, xf, j, dst, src)
            if tsf is not None:
                put(tsf, tf, j, dst, src)
    else:
        def select(r: np.ndarray) -> np.ndarray:
            return np.flatnonzero(bg & (r < 1.0 / phi))

        def write(j: np.ndarray, dst: np.ndarray, src: np.ndarray) -> None:
            put_samples(samples, j, dst, xf[:, src])
            if tf is not None:
                put_samples(tsamples, j, dst, tf[:, src])

    p = select(rng.random((h, w)))
    if p.size:
        write(rng.integers(0, n, size=(h, w)).reshape(-1)[p], p, p)  # one draw per pixel, as always
    p = select(rng.random((h, w)))
    if p.size:
        q = neighbour_index(h, w, DIRS)[rng.integers(0, 8, size=p.shape[0]), p]  # a random neighbour
        if not absorb:  # the background spreads only into background: foreground is never eaten
            keep = zmax.reshape(-1)[q] <= k
            p, q = p[keep], q[keep]
        write(rng.integers(0, n, size=p.shape[0]), q, p)


def heal(samples: np.ndarray, sigma: np.ndarray, x: np.ndarray, prev: np.ndarray, zmax: np.ndarray,
         still: np.ndarray, moved: Optional[np.ndarray], *, k: float, still_frames: int, reach: int, matches: int,
         votes_needed: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Healing after a change, ``samples`` updated in place from the frame ``x`` (C, h, w) and the one before it
    ``prev``: returns (each pixel's count of still foreground frames, (h, w) int32; which pixels have changed by
    more than k noise levels since the start, (h, w) bool; ``moved`` None: none yet)."""
    n, C, h, w = samples.shape
    fg = zmax > k
    step = np.abs(x - prev).max(axis=0)
    quiet = step <= 2.0 * sigma
    if moved is None:
        moved = np.zeros(quiet.shape, bool)
    # a ghost is revealed by a change: only a pixel that has changed by more than k noise levels since the start
    # may heal (a person standing still from the first frame is not background waiting)
    moved |= step > k * sigma
    still = np.where(fg & quiet & moved, still + 1, 0).astype(np.int32)
    cand = still >= still_frames
    if cand.any():
        ys, xs = np.nonzero(cand)
        votes = np.zeros(ys.shape[0], np.int32)
        for dy, dx in DIRS:
            ny, nx = np.clip(ys + dy * reach, 0, h - 1), np.clip(xs + dx * reach, 0, w - 1)
            d = np.abs(samples[:, :, ny, nx] - x[None, :, ys, xs]).max(axis=1)  # (n, P)
            thr = k * np.maximum(sigma[ys, xs], sigma[ny, nx])
            votes += (d <= thr[None]).sum(axis=0) >= matches
        hit = votes >= votes_needed  # like the background on one side at least (a border's 3)
        if hit.any():
            # one sample a frame: a revealed background becomes background after `matches` frames, and a dynamic
            # pixel keeps its other samples
            hy, hx = ys[hit], xs[hit]
            j = rng.integers(0, n, size=hy.shape[0])
            samples[j, :, hy, hx] = x[:, hy, hx].T
    return still, moved
