"""Ghosts: a region the model calls foreground only because its samples hold something that has left.

Someone who stood in view through the initialisation window (or a leaf that rested there) is in the samples; when
they walk away, the scene they hid is "foreground" wherever it differs from them, and it stays so until the
stillest-frame search (:mod:`bgsub.background.stable`) has seen the scene still for as long as it saw them, or
ViBe's diffused updates have eaten it from its border. An object that walks in and stops looks the same at each
pixel: foreground, unchanged from frame to frame. What tells them apart is the region's border (Cucchiara et al.
2003, Sakbot's ghost test; SuBSENSE's edge-based absorption, St-Charles et al. 2015): a ghost is the scene
itself, so the frame continues the background around it without an edge, while the model's background image (its
samples' median) has one there, the outline of what left. A stopped object is the other way round: the frame
has the edge, the model's background continues.

:func:`counts` counts each pixel's frames in a row "off" (unlike the model's background image: foreground,
or matching only a minority of its samples) and unchanged (within k noise levels of the frame before), its frames
in a row "on", and whether it has changed since the model started. :func:`ghost_regions` takes the connected
regions of pixels off and unchanged for ``frames`` frames or more that have changed (a ghost is revealed by a
change: someone standing still in view from the first frame is not one), holes filled, and judges each by its
outline, the pairs of a region pixel p and a 4-neighbour q outside it:

- a pair *tells* when q is on (matches the model's background image) and has been since before p stood still (a
  part of a stopped object that the model has begun to take in has been background to it only since then);
- a telling pair *sees an edge* when the model's image or the frame differs across it by more than k noise levels;
  one that sees none (a stretch of the outline where what stood there matched the scene, or the model has half
  taken it in) says nothing about whether it left or stays;
- a telling pair is a ghost's when the model's image differs across it by more than k noise levels and the frame
  by less than half of that.

A region is a ghost when nine in ten of its outline's pairs tell (it lies in settled background: a still patch of
a person who moves a little, surrounded by their moving parts, is not judged), at least half of those see an edge,
and nine in ten of the pairs that see one are a ghost's. A stopped object has its edge in the frame; a camouflaged
one has no edge in either image: neither is taken. (Counting every telling pair instead of those that see an edge,
as the nineteenth to twenty-first sessions did, left a ghost whose outline was a tenth edgeless in place: the
``busy-start`` scenario with ``background.texture_halo=mask``, 0.88 of the pairs a ghost's; twenty-second
session.) :func:`absorb` then puts the frame's values in place of the samples
that disagree with them (and in the stillest-frame search's kept values, which would otherwise bring them back).

Measured (README, "Ghosts"): the ``busy-start`` scenario at 160 x 120 (zero-shot F 0.54 -> 0.68), the eight
sequences unchanged; a looser rule (half of the telling pairs, however few) took in CDnet office's worker and
sbi-board's people (office 0.93 -> 0.87 per video).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from bgsub.background import kernels

GHOST_EDGE = 0.5  # a border pair is a ghost's when the frame's difference across it is below this share of the
#                   model background's (and that one above k noise levels)
GHOST_SHARE = 0.9  # a region is a ghost when its ghost pairs are more than this share of its border's pairs that
#                    can tell (the outside pixel the background the model's image has)
TOLD_SHARE = 0.9  # ... and those pairs are at least this share of its outline: a region with moving foreground or
#                   unsettled pixels around it (a still patch of a person who moves a little) is not judged
SEEN_SHARE = 0.5  # ... and the pairs that see an edge (in the model's image or the frame) are at least this share
#                   of them: a region whose outline shows no edge in either image (a camouflaged object) is not
#                   judged
GHOST_PAIRS = 4  # ... and there are at least this many of those


def counts(state: Optional[tuple], x: np.ndarray, last: Optional[np.ndarray], bg: np.ndarray, fg: np.ndarray,
           sigma: np.ndarray, k: float) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """((count, moved, quiet), off), each (h, w), from the last frame's (``state``; None: the first frame, nothing
    counted yet). ``off`` (bool): the pixels unlike the model's background image ``bg`` (C, h, w): foreground
    (``fg``), or more than ``k`` noise levels (``sigma``) from it in a channel of ``x`` (C, h, w). ``count``
    (int32): each pixel's frames in a row off and within ``k`` noise levels of the frame before (``last``) in every
    channel, this frame included; ``moved`` (bool): whether the pixel has changed by more than that from one frame
    to the next since the model started (a ghost is revealed by a change: someone standing still in view since the
    first frame has not changed, and is not one); ``quiet`` (int32): its frames in a row not off. The arrays of
    ``state`` are updated in place by the compiled pass (:func:`bgsub.background.kernels.ghost_counts`, the same
    values), or replaced."""
    thr = np.float32(k) * sigma
    if last is not None and state is not None:
        off = kernels.ghost_counts(x, last, bg, fg, thr, *state)
        if off is not None:
            return state, off
    off = fg | (np.abs(x - bg).max(axis=0) > thr)
    if last is None or state is None:
        return (np.zeros(fg.shape, np.int32), np.zeros(fg.shape, bool), np.where(off, 0, 1).astype(np.int32)), off
    count, moved, quiet = state
    same = np.abs(x - last).max(axis=0) <= thr
    moved = moved | ~same
    count = count + 1
    count[~(same & off)] = 0
    quiet = quiet + 1
    quiet[off] = 0
    return (count.astype(np.int32, copy=False), moved, quiet.astype(np.int32, copy=False)), off


def _holes(mask: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels outside ``mask`` (h, w, bool) that the outside of the frame cannot reach through
    other pixels outside it (4-connected): the holes of its regions."""
    n, lab = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    inner = np.ones(n, bool)
    inner[edge] = False
    inner[0] = False  # (label 0: the mask itself)
    return inner[lab]


def outline_pairs(region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The outline of ``region`` (h, w, bool) as pairs of a region pixel p and a 4-neighbour q outside it: (py, px,
    qy, qx), each (P,), by coordinates (an outline is a few pixels of the frame), the neighbours below, above, to
    the right and to the left in turn."""
    h, w = region.shape
    out = []
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ps = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
        qs = (slice(max(0, dy), h + min(0, dy)), slice(max(0, dx), w + min(0, dx)))
        py, px = np.nonzero(region[ps] & ~region[qs])
        py += ps[0].start
        px += ps[1].start
        out.append((py, px, py + dy, px + dx))
    return tuple(np.concatenate(c) for c in zip(*out))


def ghost_regions(count: np.ndarray, moved: np.ndarray, quiet: np.ndarray, frames: int, x: np.ndarray,
                  bg: np.ndarray, fg: np.ndarray, sigma: np.ndarray, k: float) -> Optional[np.ndarray]:
    """(h, w) bool: the pixels of the regions off and unchanged for ``frames`` frames or more (``count``), after a
    change (``moved``), whose outline says ghost (module docstring), or None when there are none. ``quiet``: each
    pixel's frames in a row not off; ``x`` (C, h, w) the frame and ``bg`` (C, h, w) the model's background image,
    in the same light; ``fg`` (h, w) the pixels off; ``sigma`` (h, w) the noise levels."""
    cand = (count >= frames) & moved
    if not cand.any():
        return None
    # each region with its holes filled: a region's border is its outline (a pixel of a stopped object that
    # matches the scene behind it, a hole in the region, is no border of the object)
    cand = cand | _holes(cand)
    nlab, lab = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    # each region pixel p and its 4-neighbour q outside the region
    py, px, qy, qx = outline_pairs(cand)
    labels = lab[py, px]
    outline = np.bincount(labels, minlength=nlab)
    xq, bq = x[:, qy, qx], bg[:, qy, qx]
    # the pairs that can tell: the outside pixel background in the frame, and the background that the model's
    # image has there (a pixel that matched a minority of its samples, inside a still object or a ghost's
    # edge, says nothing about where the border is), since before the region stood still (a part of a stopped
    # object that the model has begun to take in is background to it only since then)
    told = ((quiet[qy, qx] >= count[py, px]) & ~fg[qy, qx]
            & (np.abs(xq - bq).max(axis=0) <= k * sigma[qy, qx]))
    py, px, qy, qx, labels = py[told], px[told], qy[told], qx[told], labels[told]
    pairs = np.bincount(labels, minlength=nlab)
    e_frame = np.abs(x[:, py, px] - xq[:, told]).max(axis=0)
    e_model = np.abs(bg[:, py, px] - bq[:, told]).max(axis=0)
    s = np.maximum(sigma[py, px], sigma[qy, qx])
    ghost = (e_model > k * s) & (e_frame < GHOST_EDGE * e_model)
    votes = np.bincount(labels[ghost], minlength=nlab)
    # the pairs that see an edge, in either image: a stretch of the outline where what stood there matched
    # the scene (no edge in the model's image, none in the frame) says nothing about whether it left or stays
    seen = np.bincount(labels[(e_model > k * s) | (e_frame > k * s)], minlength=nlab)
    is_ghost = ((votes > GHOST_SHARE * seen) & (seen >= GHOST_PAIRS) & (seen >= SEEN_SHARE * pairs)
                & (pairs >= TOLD_SHARE * outline))
    is_ghost[0] = False  # (label 0: outside every region)
    if not is_ghost.any():
        return None
    return is_ghost[lab]


def take_in(vals: np.ndarray, v: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """(n, C, P) float32: ``vals`` (n, C, P) with each value more than ``thr`` (P,) from the frame's ``v`` (C, P)
    in any channel replaced by ``v``: a ghost's samples that hold what left become the scene it shows; those that
    already match it stay (a ghost's pixel keeps the modes it had)."""
    off = np.abs(vals - v[None]).max(axis=1) > thr
    return np.where(off[:, None], v[None], vals).astype(np.float32)


def absorb(model, mask: np.ndarray, xc: np.ndarray, tex: Optional[np.ndarray]) -> None:
    """A ghost's pixels ``mask`` (h, w) taken into a sample model (``model``,
    :class:`bgsub.background.samples.SampleModel`): at each, the samples more than k noise levels off the frame's
    value ``xc`` (C, h, w, the model's light) in any channel become that value (:func:`take_in`), in the
    stillest-frame search's kept values as well (the search sets the samples again from them); the texture samples
    likewise from ``tex`` (h, w). The pixels' samples are then set again as at every setting
    (:meth:`bgsub.background.samples.SampleModel._settle_open`)."""
    idx = np.flatnonzero(mask)
    n, C = model.samples.shape[:2]
    v = xc.reshape(C, -1)[:, idx]  # (C, P)
    thr = np.float32(model.k) * model.sigma.reshape(-1)[idx]  # (P,)
    if model._stable is not None:  # (the search sets the samples again from its kept values)
        model._stable.take_in(idx, v, thr)
    model._settle_open(idx, take_in(model.samples.reshape(n, C, -1)[:, :, idx], v, thr))
    if model.tsamples is not None and tex is not None and model.tsigma is not None:
        model.tsamples = np.ascontiguousarray(model.tsamples)
        ts = model.tsamples.reshape(n, 1, -1)
        tthr = np.float32(model.k) * np.broadcast_to(model.tsigma, model.tsamples.shape[1:]).reshape(-1)[idx]
        ts[:, :, idx] = take_in(ts[:, :, idx], tex.reshape(1, -1)[:, idx], tthr)
