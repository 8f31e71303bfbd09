"""The white level: where the frames were clipped, measured from the frames themselves.

A camera clips what is brighter than its sensor's range (a lamp-lit wall, a sky, snow), and the values it writes
there are a bound, not a measurement: the truth is at least that bright. The sample model compares such pixels
one-sidedly and leaves them out of the light's fit (:meth:`bgsub.background.samples.SampleModel._censored`,
:func:`bgsub.background.illumination.gain_compensated`). Where is the top? Not always at 255: video coded in the
studio range (ITU-R BT.601 / 709: white at 235, as UCSD's grey clips, whose bright water clips at 235) and decoded
without expanding it, or footage whose contrast was reduced after the camera clipped it (a dim recording, a
processed copy: the clip lands wherever the processing put 255), clip lower. A value just below 255 is then
compared as if it could not be brighter, and a light that brightens the rest of the scene (a camera's exposure as
someone walks in) makes the clipped wall "darker than its samples": a false foreground.

Clipping leaves a signature in the histogram of each pixel's brightest channel: a pile-up at the top, many pixels
at one level (give or take the level or two a codec moves a flat area) and almost none above it, where an
unclipped scene's histogram thins out towards its brightest values. :func:`white_level` finds it over the
initialisation window at the frames' own resolution (averaging to the working size blurs it): among the brightest
1% of the values, the three neighbouring levels that hold the most (their most frequent level is the white),
when they hold at least :data:`LEAST` of the values, at least :data:`SPIKE` times the count of three ordinary
levels below them (the median level 3 to 6 below) and at least :data:`CLIFF` times that of the three levels
above them (a cliff: an unclipped brightest region, a wall under a lamp, thins out above its mode over its
noise). Without such a pile-up the top is the 8-bit range's, 255, as before. Measured on the data here: ucsd-boats 235 (its water's glints; 0.6% of the values at 234-236, none
above), the other seven 255; cdnet-office dimmed to 0.3 x + 12 (``scripts/make_proxies.py``'s office-dim) 88.

A level found where nothing was clipped (noise-free footage whose brightest region is flat) costs little: only
pixels at that level or above are compared one-sidedly (a brighter object still differs from its samples) and
left out of the light's fit.
"""

from __future__ import annotations

import numpy as np

TOP = 255.0  # the 8-bit range's top: the white level when the frames show no pile-up below it
LEAST = 1e-3  # a pile-up's three levels hold at least this share of the values,
SPIKE = 2.0  # ... at least this many times three ordinary levels below it (the median of those 3 to 6 below),
CLIFF = 10.0  # ... and this many times the three levels above it


def clipped_from(white: float = TOP) -> float:
    """The least working value taken as clipped by a camera whose white level is ``white``: half a grey level below
    it (the light's fit and the window's end scene leave such values out)."""
    return white - 0.5


CLIPPED = clipped_from(TOP)  # 254.5: the 8-bit top's


def white_level(x: np.ndarray) -> float:
    """The level the frames ``x`` (T, C, h, w) grey levels, or their brightest channel (T, h, w), were clipped at
    (module docstring): the pile-up's level, or :data:`TOP` when there is none (nothing clipped, or clipped at
    255). Values are rounded to whole grey levels."""
    x = np.asarray(x)
    top = x.max(axis=1) if x.ndim == 4 else x
    v = (np.clip(top, 0, 255) + 0.5).astype(np.uint8).ravel()  # (non-negative: truncation rounds)
    if v.size == 0:
        return TOP
    h = np.bincount(v, minlength=256).astype(np.float64)
    # the brightest 1% of the values from here (less two levels: the 1% may begin inside the pile-up); the pile-up
    # is the three neighbouring levels that hold the most of them (a codec spreads a clipped area over a level or two)
    bright = max(0, int(np.searchsorted(np.cumsum(h), 0.99 * v.size)) - 2)
    three = np.convolve(h, np.ones(3), mode="same")  # three[i] = h[i - 1] + h[i] + h[i + 1]
    c = bright + int(np.argmax(three[bright:]))  # the pile-up's middle level
    peak = c - 1 + int(np.argmax(h[max(0, c - 1): c + 2])) if c > 0 else c  # its most frequent level
    if peak >= 254 or c >= 254:  # clipped at the range's top (or nothing to find): the 8-bit top, as always
        return TOP
    spike = three[c]
    lo, hi = max(0, c - 6), max(0, c - 2)
    below = 3.0 * float(np.median(h[lo:hi])) if hi > lo else 0.0
    above = h[c + 2: c + 5].sum()
    if spike >= LEAST * v.size and spike >= SPIKE * below and spike >= CLIFF * above:
        return float(peak)
    return TOP
