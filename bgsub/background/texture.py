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


def region_z(tex: np.ndarray, tsamples: np.ndarray, tsigma: np.ndarray, matches: int, fg: np.ndarray, region: int,
             halo: str) -> np.ndarray:
    """(h, w) float32: the texture's z, each pixel's region texture ``tex`` (h, w) against its texture samples
    ``tsamples`` (n, h, w): the ``matches``-th smallest distance over the noise levels ``tsigma``, median-filtered
    over 3 x 3 (texture is a property of a region: a change seen in one cell alone, a glint on water, is not one),
    and 0 next to colour foreground ``fg`` (h, w, bool): an object's edge changes the texture of the cells next to
    it, so within the texture's ``region`` of it and one pixel more the texture says nothing new (no halo); with
    ``halo="outside"``, except in its one-pixel gaps (:func:`halo_gaps`), where an object colour finds in specks
    shows its own texture; ``"silence"``: nowhere there."""
    zt = kth_smallest(tsamples, tex, matches) / tsigma
    zt = cv2.medianBlur(np.ascontiguousarray(zt, dtype=np.float32), 3)
    r = region + 2
    claimed = fg.astype(np.uint8)
    near = cv2.dilate(claimed, np.ones((r, r), np.uint8)) > 0
    if halo == "outside":
        near &= ~halo_gaps(claimed)
    zt[near] = 0
    return zt


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
