"""A texture cue for the sample model: how much the image varies inside each working pixel.

The sample model compares colours at its working size (area averages of the frames: averaging m pixels divides
the noise by sqrt(m)). Averaging also removes what varies inside a working pixel: a striped shirt whose mean
matches the wall, a dark coat's folds in a dark corridor. The texture map keeps that: the mean absolute
difference between neighbouring pixels (grey levels; grey = mean of the channels), measured at up to twice the
working resolution and area-averaged to the working size. A global light change scales it (a gain) but does not
shift it (an offset cancels in the differences). The sample model keeps samples of it beside the colour samples
and treats it as one more channel: a pixel is background when its colour and its texture each match at least
``matches`` samples (LOBSTER and SuBSENSE's colour + local binary similarity patterns, St-Charles & Bilodeau
2014-2015, in a form that averages to the working size).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from bgsub.background.stats import kth_smallest
from bgsub.netinput import network_size


def texture_size(native: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The resolution at which texture is measured: the frames' own, at most twice the working size per side."""
    H, W = native
    h, w = size
    if H <= 2 * h and W <= 2 * w:
        return H, W
    return network_size(H, W, 4 * h * w)


def texture_of(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, th, tw) grey frames (grey levels) at the texture size -> (T, h, w) float32: the mean |difference| of
    horizontally and vertically adjacent pixels (each difference split between its two pixels, the two
    directions summed), area-averaged to ``size``. The halved differences lie in buffers one wider (taller) than
    the frame with zeros at both ends, so each pixel's sum is whole-array additions in one order: left + right,
    + above, + below (a missing neighbour adds 0)."""
    T, th, tw = grey.shape
    h, w = size
    out = np.empty((T, h, w), np.float32)
    g = np.empty((th, tw), np.float32)
    hx = np.zeros((th, tw + 1), np.float32)  # hx[:, x]: half |p[:, x] - p[:, x - 1]|, 0 outside the frame
    hy = np.zeros((th + 1, tw), np.float32)
    for t in range(T):
        p = np.ascontiguousarray(grey[t], dtype=np.float32)
        if tw > 1:  # |difference| of horizontal neighbours, half to each of its two pixels
            cv2.absdiff(p[:, 1:], p[:, :-1], dst=hx[:, 1:-1])
            cv2.multiply(hx[:, 1:-1], 0.5, dst=hx[:, 1:-1])
        if th > 1:
            cv2.absdiff(p[1:], p[:-1], dst=hy[1:-1])
            cv2.multiply(hy[1:-1], 0.5, dst=hy[1:-1])
        cv2.add(hx[:, :-1], hx[:, 1:], dst=g)
        cv2.add(g, hy[:-1], dst=g)
        cv2.add(g, hy[1:], dst=g)
        if (th, tw) == (h, w):
            out[t] = g
        else:
            cv2.resize(g, (w, h), dst=out[t], interpolation=cv2.INTER_AREA)
    return out


KEPT_MIN = 0.3  # the least share of a region's pixels a masked texture is measured over (fewer: no texture there)


def masked_region(raw: np.ndarray, claimed: np.ndarray, region: int) -> tuple[np.ndarray, np.ndarray]:
    """The texture of each pixel's ``region`` x ``region`` neighbourhood over the pixels not ``claimed``: ``raw``
    (h, w) float32 the texture map before its box average, ``claimed`` (h, w) bool. Returns (the mean of ``raw``
    over the unclaimed pixels of each box, 0 where they are fewer than :data:`KEPT_MIN` of it; their share of the
    box), both (h, w) float32, borders reflected as the plain box average's (normalized convolution, Knutsson &
    Westin 1993: the box of ``raw`` times the mask over the box of the mask). Where nothing is claimed this is the
    plain box average."""
    keep = (~claimed).astype(np.float32)
    num = cv2.blur(raw * keep, (region, region), borderType=cv2.BORDER_REFLECT)
    den = cv2.blur(keep, (region, region), borderType=cv2.BORDER_REFLECT)
    ok = den > KEPT_MIN
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0).astype(np.float32), den.astype(np.float32)


def halo_gaps(fg: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels colour did not claim that lie in one-pixel gaps of what it claimed, ``fg`` (h, w)
    uint8 (1: colour foreground): the morphological closing of ``fg`` by a 3 x 3 square (a pixel every 3 x 3 square
    over which holds a claimed pixel) less ``fg`` itself. An object whose colour is within the noise of the scene's
    (a striped shirt on a wall of its mean colour, seen at the frame's own resolution) is claimed by colour in
    specks; the pixels between the specks are the object's, and their texture is the object's own, not the halo an
    object's edge throws on the scene around it (which lies outside the object, beyond any gap a closing fills)."""
    closed = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # (outside the frame: no say)
    return closed > fg


HALO_BOUND = 2.0  # texture_halo=bound: how much a colour edge of contrast D can raise the texture of any pixel
#                  near it, in units of D. A pixel's texture is the sum of half its absolute differences with its
#                  four neighbours (:func:`texture_of`); an edge changes each difference by at most D, so the
#                  pixel's texture by at most 4 x D / 2, and any average of such pixels (a region's texture) too


def region_z(tex: np.ndarray, tsamples: np.ndarray, tsigma: np.ndarray, matches: int, fg: np.ndarray, region: int,
             halo: str, contrast: Optional[np.ndarray] = None) -> np.ndarray:
    """(h, w) float32: the texture's z, each pixel's region texture ``tex`` (h, w) against its texture samples
    ``tsamples`` (n, h, w): the ``matches``-th smallest distance over the noise levels ``tsigma``, median-filtered
    over 3 x 3 (texture is a property of a region: a change seen in one cell alone, a glint on water, is not one).
    Next to colour foreground ``fg`` (h, w, bool), within the texture's ``region`` of it and one pixel more, an
    object's edge changes the texture of the cells around it (a halo). ``halo``: ``"silence"``: the texture says
    nothing there (0); ``"outside"``: nothing but in colour foreground's one-pixel gaps (:func:`halo_gaps`), where an
    object colour finds in specks shows its own texture; ``"bound"``: as ``outside``, and elsewhere there it says
    what its rise exceeds the halo's bound by (:func:`edge_bound_z`; ``contrast`` (h, w): each pixel's colour
    residual in grey levels, needed)."""
    z0 = kth_smallest(tsamples, tex, matches) / tsigma
    zt = cv2.medianBlur(np.ascontiguousarray(z0, dtype=np.float32), 3)
    r = region + 2
    claimed = fg.astype(np.uint8)
    near = cv2.dilate(claimed, np.ones((r, r), np.uint8)) > 0
    if halo in ("outside", "bound"):
        near &= ~halo_gaps(claimed)
    if halo == "bound" and near.any():
        if contrast is None:
            raise ValueError("region_z: texture_halo=bound needs the colour contrast")
        zt[near] = edge_bound_z(z0, tex, tsamples, tsigma, matches, fg, contrast, near, r)[near]
    else:
        zt[near] = 0
    return zt


def edge_bound_z(z0: np.ndarray, tex: np.ndarray, tsamples: np.ndarray, tsigma: np.ndarray, matches: int,
                 fg: np.ndarray, contrast: np.ndarray, near: np.ndarray, reach: int) -> np.ndarray:
    """(h, w) float32: ``texture_halo=bound``'s z, median-filtered over 3 x 3 as :func:`region_z`'s, at the
    pixels ``near`` colour foreground (elsewhere the plain ``z0``, unfiltered, enters the filter). An edge of colour
    contrast D raises the texture of the pixels around it by at most :data:`HALO_BOUND` x D, D the largest colour
    residual (``contrast``, grey levels) of the colour foreground ``fg`` within ``reach`` x ``reach`` of the pixel
    (the halo's own reach). What the texture rises above its samples by (the ``matches``-th smallest rise over
    them: at least ``matches`` samples lie that far below it) beyond that bound, over the noise level, is the
    object's own texture: a striped shirt that colour claims in specks a few grey levels above the scene's noise
    (a high-resolution frame averaged to the working size: little colour noise) has a texture far above any
    halo such specks can throw. A fall in texture there (an untextured object's region spreading over its
    textured surroundings) stays silent, and a contrasted object's halo (D of tens of grey levels) as well."""
    d = cv2.dilate(np.where(fg, contrast, 0).astype(np.float32), np.ones((reach, reach), np.uint8))
    d *= np.float32(HALO_BOUND)
    sig = np.broadcast_to(tsigma, tex.shape)
    b = np.array(z0, dtype=np.float32, copy=True)
    b[near] = 0
    # the rise is at most the distance (the m-th smallest of max(t - s, 0) is at most that of |t - s|): only where
    # the distance exceeds the bound can anything be left (a contrasted object's surroundings: hardly a pixel)
    idx = np.flatnonzero(near & (z0 * sig > d))
    if idx.size:
        s = tsamples.reshape(tsamples.shape[0], -1)[:, idx]
        rise = np.maximum(tex.reshape(-1)[idx][None] - s, 0)
        m = min(max(1, matches), rise.shape[0])
        rise = np.partition(rise, m - 1, axis=0)[m - 1]
        b.reshape(-1)[idx] = np.maximum(rise - d.reshape(-1)[idx], 0) / sig.reshape(-1)[idx]
    return cv2.medianBlur(b, 3)


def masked_z(texm: np.ndarray, share: np.ndarray, claimed: np.ndarray, tsamples: np.ndarray, tsigma: np.ndarray,
             matches: int) -> np.ndarray:
    """(h, w) float32: ``texture_halo=mask``'s texture z, from each region's texture measured over the pixels colour
    did not claim (``texm`` and ``share`` from :func:`masked_region` with ``claimed``, colour foreground dilated by
    one: the differences across its edge are its own), against the same samples as the plain texture. An average
    over a share s of the region has the noise of sigma / sqrt(s), so z is scaled by sqrt(s); median-filtered as
    :func:`region_z`; 0 on the claimed pixels and where under :data:`KEPT_MIN` of the region is left: colour
    decides there. An object that colour finds whole leaves no halo (its pixels and its edge are left out); one it
    finds in specks keeps its own texture."""
    zt = kth_smallest(tsamples, texm, matches) / tsigma
    zt = zt * np.sqrt(np.clip(share, 0.0, 1.0)).astype(np.float32)
    zt = cv2.medianBlur(np.ascontiguousarray(zt, dtype=np.float32), 3)
    zt[(share <= KEPT_MIN) | claimed] = 0
    return zt
