"""Illumination compensation for the sample model: a frame brought into the background model's light.

Each function takes a frame ``x`` (C, h, w) and the model's background image ``bg`` (C, h, w), both grey levels
at the working size, and returns what is needed to undo the frame's light change before it is compared with the
samples. The statistics come from a regular grid of pixels (a median of 4096 samples is within about 0.02 noise
levels of the all-pixel one).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from bgsub.background.clipping import CLIPPED
from bgsub.background.kernels import fit_inliers
from bgsub.background.stats import median_rows


OFFSET_SAMPLES = 4096  # pixels the illumination offset is estimated from (at least; a regular grid)


def grid_step(h: int, w: int, at_least: int = OFFSET_SAMPLES) -> int:
    """The largest step of a regular pixel grid that keeps at least ``at_least`` pixels (1 for small frames)."""
    return max(1, int((h * w / at_least) ** 0.5))


def offset(x: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """(C, 1, 1) the frame's per-channel median offset from the background over the grid."""
    s = grid_step(*x.shape[-2:])
    d = (x[:, ::s, ::s] - bg[:, ::s, ::s]).reshape(x.shape[0], -1)
    return median_rows(d).astype(np.float32)[:, None, None]


def gain_compensated(x: np.ndarray, bg: np.ndarray, sigma: np.ndarray, k: float, off: np.ndarray,
                     with_gain: bool = False, top: float = CLIPPED):
    """The frame with a per-channel gain and offset (x = a bg + b) undone: (x - b) / a, fitted by least squares
    over the grid's pixels within ``k`` noise levels (``sigma`` (h, w)) of the fit (two reweighting rounds; clipped
    samples left out). A light that dims or brightens the scene multiplies it (exposure, a lamp). Two starts, as
    RANSAC's hypotheses: the median offset ``off`` (a = 1) and the median ratio (b = 0, a pure gain: the offset
    alone can miss every pixel of a textured scene when a gain is large); the fit with more inliers is kept.
    Model selection by consensus (as RANSAC): the offset itself is kept only when it brings back more of the grid's
    pixels within k noise levels than no change at all (the null hypothesis) by more than chance (three standard
    deviations of a count, 3 sqrt(n)): when most of the frame is an object (leaves across the lens), the median
    offset is the object's, not the light's. The gain is kept only when it beats the kept offset (or no change) the
    same way; a flat or ever-changing background (sky, water) cannot tell a gain from noise and keeps the offset:
    x - off. Clipped: a value at 0.5 or less, or at ``top`` or more (the white level less half a grey level,
    :func:`bgsub.background.clipping.clipped_from`). With ``with_gain`` returns (frame, gain (C, 1, 1), ones when refused)."""
    C, h, w = x.shape
    s = grid_step(h, w)
    B0 = bg[:, ::s, ::s].reshape(C, -1)
    xs = x[:, ::s, ::s].reshape(C, -1)
    sig = sigma[::s, ::s].reshape(1, -1)
    ok = (B0 > 0.5) & (B0 < top) & (xs > 0.5) & (xs < top)
    ok_all, ksig = ok.all(axis=0), k * sig
    # inliers in every channel, |xs - (a B0 + b)| <= k sigma: compiled (bgsub.background.kernels, one pass; the
    # model's float32 frames), or with NumPy in place; the same values
    kern = fit_inliers() if B0.dtype == np.float32 and xs.dtype == np.float32 else None
    if kern is not None:
        B0c, xsc = np.ascontiguousarray(B0), np.ascontiguousarray(xs)
        ksigc = np.ascontiguousarray(ksig.reshape(-1))  # its own type (float32, or float64 for a float64 k)

        def inliers(a, b):
            return kern(np.ascontiguousarray(a, dtype=np.float32).reshape(-1),
                        np.ascontiguousarray(b, dtype=np.float32).reshape(-1), B0c, xsc, ksigc, ok_all,
                        np.empty(ok_all.shape, bool))
    else:
        t, le = np.empty_like(xs), np.empty(xs.shape, bool)  # the buffers

        def inliers(a, b):
            np.multiply(a, B0, out=t)
            np.add(t, b, out=t)
            np.subtract(t, xs, out=t)  # the same magnitude as xs - (a B0 + b)
            np.abs(t, out=t)
            np.less_equal(t, ksig, out=le)
            out = le[0] & ok_all
            for c in range(1, C):
                out &= le[c]
            return out

    def fit(a, b, wgt=None):  # wgt: the start's inliers, when already known
        for _ in range(2):
            wgt = inliers(a, b) if wgt is None else wgt
            cnt = np.count_nonzero(wgt)
            if cnt < 64:
                break
            wv = wgt.astype(np.float64) / cnt
            mb, mx = (Bd @ wv)[:, None], (Xd @ wv)[:, None]
            var = (BB @ wv)[:, None] - mb * mb
            cov = (BX @ wv)[:, None] - mb * mx
            a_new = cov / np.maximum(var, 1e-6)
            a = np.clip(np.where(var > 1.0, a_new, 1.0), 0.25, 4.0).astype(np.float32)
            b = (mx - a * mb).astype(np.float32)
            wgt = None
        return a, b, np.count_nonzero(inliers(a, b) if wgt is None else wgt)

    ones = np.ones((C, 1), np.float32)
    b_off = off[:, :, 0].astype(np.float32)
    off_in = inliers(ones, b_off)  # the offset alone: the first start's inliers and the consensus to beat
    zero_in = inliers(ones, np.zeros_like(b_off))  # the null hypothesis: the light did not change
    nz = np.count_nonzero(zero_in)
    if np.count_nonzero(off_in) <= nz + 3.0 * math.sqrt(max(nz, 1)):  # the offset must bring back more than chance
        off, b_off, off_in = np.zeros_like(off), np.zeros_like(b_off), zero_in
    kept_off = np.count_nonzero(off_in)
    bar = kept_off + 3.0 * math.sqrt(max(kept_off, 1))  # what a gain must beat
    if np.count_nonzero(ok_all) <= bar:  # a fit's inliers are among ok_all's pixels: no gain can win, none is
        return (x - off, ones[:, :, None]) if with_gain else x - off  # fitted (half of highway's frames)
    Bd, Xd = B0.astype(np.float64), xs.astype(np.float64)  # (made only for the frames that fit a gain)
    BB, BX = Bd * Bd, Bd * Xd  # the least-squares sums as dot products with the inlier weights (no copies)
    okc = ok_all & (B0 > 8.0).all(axis=0)  # ratios of dark pixels are noise
    if np.count_nonzero(okc) >= 64:  # (compress: a boolean index along the second axis is five times slower)
        ratio = median_rows(xs.compress(okc, axis=1) / B0.compress(okc, axis=1))[:, None]
    else:
        ratio = ones
    fits = [fit(ones, b_off, off_in),
            fit(np.clip(ratio, 0.25, 4.0).astype(np.float32), np.zeros((C, 1), np.float32))]
    a, b, kept_gain = max(fits, key=lambda f: f[2])
    if kept_gain <= bar:
        out, a = x - off, ones
    else:
        out = (x - b[:, :, None]) / a[:, :, None]
    return (out, a[:, :, None]) if with_gain else out


def polynomial_basis(h: int, w: int) -> np.ndarray:
    """(6, h, w) the quadratic monomials 1, u, v, u^2, uv, v^2 of the pixel position, u and v in [-1, 1]."""
    v = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    u = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    vv, uu = np.meshgrid(v, u, indexing="ij")
    return np.stack([np.ones_like(uu), uu, vv, uu * uu, uu * vv, vv * vv])


def smooth_compensated(x: np.ndarray, bg: np.ndarray, sigma: np.ndarray, k: float, off: np.ndarray,
                       poly: Optional[np.ndarray] = None, top: float = CLIPPED) -> np.ndarray:
    """The frame with a smooth light field undone: per channel x = bg (1 + g(u, v)) + o(u, v), g and o quadratic
    polynomials of the pixel position (Radke et al. 2005's low-order illumination model; the static reference's
    ``compensate=smooth``), fitted by least squares in noise levels over a grid of >= 512 pixels within ``k``
    noise levels of the fit (three reweighting rounds from the median offset ``off``; clipped samples left out),
    then undone: (x - o) / (1 + g). ``poly``: :func:`polynomial_basis` of the frame's size (made when None);
    ``top``: clipped values, as :func:`gain_compensated`'s."""
    C, h, w = x.shape
    s = grid_step(h, w, 512)
    if poly is None or poly.shape[1:] != (h, w):
        poly = polynomial_basis(h, w)
    phi = poly[:, ::s, ::s].reshape(6, -1)  # (6, P)
    B = bg[:, ::s, ::s].reshape(C, -1)
    xs = x[:, ::s, ::s].reshape(C, -1)
    isig = 1.0 / sigma[::s, ::s].reshape(-1)
    ok = ((B > 0.5) & (B < top) & (xs > 0.5) & (xs < top)).all(axis=0)
    coef = np.zeros((C, 12), np.float32)
    coef[:, 6] = off[:, 0, 0]
    for _ in range(3):
        A = np.concatenate([phi[None] * B[:, None], np.broadcast_to(phi[None], (C, 6, phi.shape[1]))], 1)
        pred = B + np.einsum("cj,cjp->cp", coef, A)
        inl = ((np.abs(xs - pred) * isig[None] <= k).all(axis=0) & ok)
        if inl.sum() < 48:
            break
        for c in range(C):
            Aw = (A[c][:, inl] * isig[inl]).T  # (P, 12) in noise levels
            bw = (xs[c, inl] - B[c, inl]) * isig[inl]
            coef[c] = np.linalg.lstsq(Aw, bw, rcond=None)[0]
    gain = 1.0 + np.einsum("cj,jhw->chw", coef[:, :6], poly)
    offs = np.einsum("cj,jhw->chw", coef[:, 6:], poly)
    return ((x - offs) / np.maximum(gain, 0.25)).astype(np.float32)
