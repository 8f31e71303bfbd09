"""Where the sample model's first samples come from: the frames of the initialisation window chosen per pixel.

The busy start (SBMnet 2016; LaBGen, Laugraud et al. 2017): a background hidden for part of the window shows in
the frames where the pixel stands still, so each pixel's samples are its ``n`` frames of least local motion
(``init="stable"``). What "motion" means (``motion``):

- ``"diff"``: each frame's larger difference to its neighbours (max over channels), box-filtered (LaBGen's).
- ``"flow"``: those differences over the gradient magnitude, the gradient floored at the noise level, box-filtered:
  displacement, in the normal-flow form (LaBGen-OF's idea, Laugraud et al. 2018). A blurred leaf or a flat shirt
  that drifts changes its pixels little but moves.
- ``"both"``: the larger of the two, each divided by the pixel's own median of it over the window (unitless): a
  frame is still only when it is still in both senses. Flow alone cannot see a flat road or sky stand still.

The other starts, kept for the ablation: ``"first"`` (ViBe: the first frame), ``"window"`` (frames spread over
the window), ``"dense"`` (each pixel's most repeated values).

:func:`choose` is the whole of what the window gives the sample model: the camera noise, each pixel's still
frames, a short window's stillest share and noise floor, the samples (:func:`select`; of two still scenes the one
whose outline is no edge, :mod:`bgsub.background.scenes`), and the health check's warning when most pixels never
stand still.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from bgsub.background import illumination, kernels
from bgsub.background.clipping import TOP, clipped_from
from bgsub.background.scenes import two_scenes
from bgsub.background.stats import (QUANT, _blurred, _displacement, _flow, _motion, frames_at, median0, noise_level,
                                    robust_spread)
from bgsub.background.update import DIRS
from bgsub.errors import BgsubError

log = logging.getLogger("bgsub")

MOTIONS = ("diff", "flow", "both")
INITS = ("stable", "dense", "window", "first")
UNSETTLED = 0.5  # the health check: warn when more than this share of the pixels never settles in the window
FLOOR_OVER = ("all", "settled")  # the pixels the frame's noise floor (the median of the pixels' MADs) is taken over
SETTLED_SHARE = 0.1  # "settled": at least this share of the frame must have settled, else every pixel counts


def init_count(init: int, frames: int) -> int:
    """How many of ``frames`` fit frames are the initialisation window of ``init`` frames (at least one)."""
    return max(1, min(init, frames))


def box_size(h: int, w: int, box: int = 0) -> int:
    """The motion's neighbourhood at working size (h, w): ``box``, or an odd sixteenth of the smaller side (>= 3)."""
    return box or max(3, (min(h, w) // 16) | 1)


def stillness(x: np.ndarray, raw: np.ndarray, box: int, noise: float, motion: str
              ) -> tuple[np.ndarray, Optional[tuple[np.ndarray, np.ndarray]]]:
    """(T, h, w) each frame's motion (lower is stiller) of the window x (T, C, h, w), ``raw`` its unfiltered frame
    differences (:func:`bgsub.background.stats._motion` with box 1); and, for ``"both"``, the per-pixel medians that
    make each measure unitless (kept to judge later frames the same way: :func:`frame_motion`)."""
    if motion not in MOTIONS:
        raise BgsubError(f"background.motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    md = _blurred(raw, box)
    if motion == "diff":
        return md, None
    return unitless(md, _flow(x, box, noise, raw), motion)  # (the displacement from the differences already taken)


def unitless(md: np.ndarray, mf: np.ndarray, motion: str
             ) -> tuple[np.ndarray, Optional[tuple[np.ndarray, np.ndarray]]]:
    """The stillness measure ``motion`` from the frames' two measures, differences ``md`` and displacement ``mf``
    (each (T, ...), the frames along axis 0): one of them, or for ``"both"`` the larger of the two, each over the
    pixel's own median along the frames (returned too: later frames are judged by the same medians)."""
    if motion == "diff":
        return md, None
    if motion == "flow":
        return mf, None
    nd = np.maximum(median0(md), 1e-3).astype(np.float32)
    nf = np.maximum(median0(mf), 1e-3).astype(np.float32)
    return np.maximum(md / nd, mf / nf), (nd, nf)


def motion_terms(three, box: int, noise: float, flow: bool = True) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(h, w) each: the middle one of three consecutive frames (each (C, h, w), or stacked)'s differences to its
    neighbours (max over the channels) and, with ``flow``, their ratio to its gradient magnitude floored at
    ``noise``, box-filtered: the window's two measures (:func:`stillness`) for that frame alone. (``(prev, x, x)``:
    frame ``x`` against the one before it.)"""
    # unfiltered: one compiled pass, or the window's whole-array measures (the displacement only when asked for)
    parts = kernels.motion_parts(three[0], three[1], three[2], max(noise, 1e-3))
    if parts is None:
        stacked = np.stack(three)
        d = _motion(stacked, 1)[1]
        r = _displacement(d[None], stacked[1:2], noise)[0] if flow else None
    else:
        d, r = parts
    md = _blurred(d[None], box)[0] if box > 1 else d
    if not flow:
        return md, None
    return md, _blurred(r[None], box)[0] if box > 1 else r


def frame_motion(three, box: int, noise: float, motion: str,
                 norm: Optional[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(h, w) the motion of the middle one of three consecutive frames (each (C, h, w), or stacked), measured as
    in the window (the same values as :func:`stillness`'s for that frame; only the middle frame is computed)."""
    md, mf = motion_terms(three, box, noise, flow=motion != "diff")
    if motion == "diff":
        return md
    if motion == "flow":
        return mf
    nd, nf = norm
    return np.maximum(md / nd, mf / nf)


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """Indices reflected into 0..n-1 as OpenCV's default border does (BORDER_REFLECT_101: -1 -> 1, n -> n - 2)."""
    i = np.abs(i)
    return np.where(i > n - 1, 2 * (n - 1) - i, i) if n > 1 else np.zeros_like(i)


def motion_at(three, idx: np.ndarray, box: int, noise: float, motion: str,
              norm: Optional[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(P,) :func:`frame_motion` of three consecutive frames (each (C, h, w), or stacked) at the flat pixel
    indices ``idx`` alone, from each one's ``box`` x ``box``
    neighbourhood and one pixel more (the frame's edges reflected as the box filter reflects them: with that
    reflection the central differences on the patch have the frame's gradient magnitude, and 0 across the frame's
    outer rows and columns, as :func:`bgsub.background.stats._gradient` has it). The same values up to the last
    bits of the box filter's sums, for a few pixels at a fraction of the frame's cost: the open horizon's search
    goes on for the pixels the window never saw still, often a few dozen. (The window's own measures,
    :func:`bgsub.background.stats._motion` and ``_displacement``, on the patches stacked into one image give the
    same values but take 0.37 ms a frame for 91 pixels against 0.22: they work on every patch pixel and its zero
    borders.)"""
    C, h, w = three[0].shape
    idx = np.asarray(idx, np.intp)
    ys, xs = np.divmod(idx, w)
    r = box // 2 if box > 1 else 0
    off = np.arange(-r - 1, r + 2)
    Y = _reflect(ys[:, None, None] + off[None, :, None], h)  # (P, b + 2, 1)
    X = _reflect(xs[:, None, None] + off[None, None, :], w)  # (P, 1, b + 2)
    flat = (Y * w + X).reshape(-1)
    p0, p1, p2 = (np.take(f.reshape(C, h * w), flat, axis=1).reshape(C, idx.size, 2 * r + 3, 2 * r + 3)
                  for f in three)  # (C, P, b + 2, b + 2) each
    c = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    # (P, b, b): the middle frame's larger difference to its neighbours, max over channels
    d = np.maximum(np.abs(p1[c] - p0[c]), np.abs(p2[c] - p1[c])).max(axis=0)
    md = d.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    if motion == "diff":
        return md
    gy = 0.5 * (p1[:, :, 2:, 1:-1] - p1[:, :, :-2, 1:-1])
    gx = 0.5 * (p1[:, :, 1:-1, 2:] - p1[:, :, 1:-1, :-2])
    g = np.sqrt(gx * gx + gy * gy).max(axis=0)
    np.maximum(g, np.float32(max(noise, 1e-3)), out=g)
    mf = (d / g).mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    if motion == "flow":
        return mf
    nd, nf = norm
    return np.maximum(md / nd.reshape(-1)[idx], mf / nf.reshape(-1)[idx])


def select(x: np.ndarray, raw: np.ndarray, n: int, init: str, box: int, noise: float, motion: str, factor: float,
           cover: Optional[np.ndarray] = None) -> tuple[np.ndarray, Optional[np.ndarray], Optional[tuple]]:
    """Each pixel's ``n`` sample frames of the window x (T, C, h, w): (idx (n, h, w), the window's motion (T, h,
    w) for ``"stable"`` else None, the measure's medians for ``"both"`` else None). ``cover`` (T, h, w) bool, or
    None for every frame everywhere: the frames that show each pixel (a window that a followed camera moved in,
    brought back to its first view: :func:`bgsub.pipelines.reading.on_first_grid`); ``"stable"`` chooses among
    those alone, cycling through them where a pixel has fewer than ``n``."""
    T, C, h, w = x.shape
    if init not in INITS:
        raise BgsubError(f"background init must be stable, dense, window or first, got {init!r}")
    if init == "first" or T == 1:
        return np.zeros((n, h, w), np.int64), None, None
    if init == "window":
        return np.broadcast_to(np.linspace(0, T - 1, n).round().astype(np.int64)[:, None, None], (n, h, w)), None, None
    cyc = np.broadcast_to(np.arange(n)[:, None, None] % T, (n, h, w))
    if init == "stable":
        m, norm = stillness(x, raw, box, noise, motion)
        if cover is not None and cover.shape == m.shape and not cover.all():
            # a frame that does not show a pixel (it repeats its edge there) is never among its stillest
            m = np.where(cover, m, np.float32(np.inf)).astype(np.float32)
            shown = np.maximum(cover.sum(axis=0), 1)  # (the first frame shows every pixel)
            order = np.argsort(m, axis=0, kind="stable")
            return np.take_along_axis(order, np.arange(n)[:, None, None] % shown[None], axis=0), m, norm
        return (cyc if T <= n else np.argpartition(m, n - 1, axis=0)[:n]), m, norm
    # "dense": the densest values of each pixel's window: for each frame, how many frames lie within 3 of the
    # pixel's own noise levels of it (its noise: the 20th percentile of its frame differences, 0.358 sigma for
    # noise); the background is the value that recurs, moving objects and sweeping leaves vary
    dd = np.abs(np.diff(x, axis=0)).max(axis=1)
    sp = np.maximum(np.percentile(dd, 20, axis=0) / 0.358, QUANT / math.sqrt(max(1.0, factor)))
    R = (3.0 * sp).astype(np.float32)
    cnt = np.zeros((T, h, w), np.float32)
    for t in range(T):
        cnt[t] = (np.abs(x - x[t][None]).max(axis=1) <= R[None]).sum(axis=0)
    return (cyc if T <= n else np.argpartition(-cnt, n - 1, axis=0)[:n]), None, None


def _floor_pixels(quiet: Optional[np.ndarray], n: int, over: str) -> Optional[np.ndarray]:
    """(h, w) the pixels whose samples' spread sets the frame's noise floor, None for every pixel. ``"settled"``:
    the pixels the window saw stand still in at least the ``n`` frames their samples need (the health check's
    still frames), when they are at least :data:`SETTLED_SHARE` of the frame. The floor is the spread of a still
    background; leaves that sweep across most of the frame (never still) would set it for every pixel."""
    if over != "settled" or quiet is None:
        return None
    mask = quiet >= n
    return mask if mask.mean() >= SETTLED_SHARE else None


@dataclass
class WindowChoice:
    """What the initialisation window gives the sample model (:func:`choose`)."""

    samples: np.ndarray  # (n, C, h, w) each pixel's chosen frames' values, grey levels at the working size
    idx: np.ndarray  # (n, h, w) the window's frames they come from
    n: int  # samples per pixel (a short window: its stillest share)
    noise: float  # the camera noise at the working size (bgsub.background.stats.noise_level)
    floor: float  # a short window's noise floor, measured over the whole window in one light; 0: none
    quiet: Optional[np.ndarray]  # (h, w) each pixel's still frames in the window (None: a single frame)
    over: Optional[np.ndarray]  # (h, w) the pixels the frame's noise floor is taken over (None: all)
    box: int  # the motion's neighbourhood (box_size)
    motion: Optional[np.ndarray]  # (T, h, w) the window's motion ("stable"), else None
    norm: Optional[tuple]  # the motion measure's medians ("both"), else None


def choose(x: np.ndarray, native: tuple[int, int], *, n: int, k: float, matches: int, init: str, box: int,
           motion: str, short: float, floor_over: str, clean: bool, seed: int, scenes: bool,
           white: float = TOP, cover: Optional[np.ndarray] = None) -> WindowChoice:
    """The sample model's start from its window ``x`` (T, C, h, w) grey levels at the working size, the frames
    being ``native`` (H, W): the camera noise, each pixel's still frames, its ``n`` sample frames (:func:`select`;
    a short window, fewer than ``2 n`` frames with ``short`` > 0 and ``init="stable"``: its stillest ``short``
    share), with ``scenes`` of two still scenes the one whose outline is no edge
    (:func:`bgsub.background.scenes.two_scenes`), and the health check: a warning when most pixels never stand
    still. The arguments are :meth:`bgsub.background.samples.SampleModel.initialise`'s (``cover``: :func:`select`)."""
    H, W = native
    T, C, h, w = x.shape
    factor = (H * W) / (h * w)
    noise = noise_level(x, factor)
    raw = _motion(x, 1)  # each frame's difference to its neighbours (the stable start, the health check)
    # each pixel's still frames: frame difference within 4 noise levels (the health check, the floor's pixels)
    quiet = (raw <= 4.0 * max(noise, 1.0)).sum(axis=0) if T > 1 else None  # (h, w)
    b = box_size(h, w, box)
    floor = 0.0
    short_window = init == "stable" and short > 0 and 1 < T < 2 * n
    if short_window:  # a short window (a clip shorter than the window): each pixel's stillest share
        n = max(matches, min(n, int(T * short)))
    over = _floor_pixels(quiet, n, floor_over)  # the pixels the frame's noise floor is taken over
    if short_window:
        # a short window (a clip shorter than the window, objects in most of it): n stillest of fewer than 2n
        # frames, or every frame, would keep whatever crossed it; its stillest share leaves that out. The noise
        # floor stays the whole window's: the stillest frames are also the least noisy ones (a codec that
        # refreshes a block once in a group of pictures freezes it in between), and their spread alone
        # underestimates the noise (the selection bias the horizon's floor guards against as well). It is
        # measured in one light, each frame's median offset undone as the model undoes it frame by frame (a
        # light switched on in the window is not noise)
        med = median0(x)
        lit = np.stack([x[t] - illumination.offset(x[t], med) for t in range(T)])
        floor = robust_spread(lit, k, noise, clean, over=over)[2]
    idx, m, mnorm = select(x, raw, n, init, b, noise, motion, factor, cover)
    samples = frames_at(x, idx)  # (n, C, h, w): each pixel's selected frames
    if scenes and init == "stable" and T > n:
        # two still scenes at a pixel (someone who stood in view and left, or came and stopped): the one whose
        # region's outline is no edge is the background (bgsub.background.scenes)
        chosen = two_scenes(x, samples, idx, k, noise, top=clipped_from(white))
        if chosen is not None:
            idx = chosen
            samples = frames_at(x, idx)
    if init == "first" or T == 1:  # ViBe: the first frame's neighbours
        rng = np.random.default_rng(seed)
        for j in range(1, n):
            dy, dx = DIRS[rng.integers(8)]
            samples[j] = np.roll(samples[0], (dy, dx), axis=(-2, -1))
    if T > 1:  # the health check: a window in which most pixels never stand still gives no credible model
        # a pixel settles when it stands still (frame difference within 4 noise levels) in at least a quarter
        # of the frames its samples need
        unsettled = float((quiet < max(1, min(n, T) // 4)).mean())
        if unsettled > UNSETTLED:
            log.warning("background: %.0f%% of the pixels never stand still in the first %d frames (a camera "
                        "that moves, or objects everywhere): the background model holds what moved there, and "
                        "the masks may miss it", 100 * unsettled, T)
    return WindowChoice(samples=samples, idx=idx, n=n, noise=noise, floor=floor, quiet=quiet, over=over, box=b,
                        motion=m, norm=mnorm)
