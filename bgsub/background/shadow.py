"""Cast shadows: a foreground pixel that is its background, darker, with its colour and its texture kept.

Horprasert, Harwood & Davis (1999) split a pixel's difference from its background into a brightness distortion
alpha (the least-squares scale of the background colour that fits the pixel) and a chromaticity distortion (what
the scale cannot explain). A cast shadow darkens the surface it falls on: alpha in [``shadow_min``, 1) with the
chromaticity within k noise levels. An object a little darker than the wall with the wall's colour passes that
test too (the issue's low-contrast class, the synthetic ``camouflage`` object's dark stripes); a shadow also keeps
the texture of the surface, scaled by the same alpha (the texture-based shadow tests surveyed by Sanin, Sanderson
& Lovell 2012), so with a texture channel the pixel's texture must match its texture samples as well.

The same test with alpha above 1 is Horprasert's highlighted background: the surface in more light (a lamp's spot
that brightens as a door opens, a codec block coded a grey level or two brighter, a flicker), its colour and
texture kept. Without it the model was lopsided: a block two grey levels darker was background, the same block
two grey levels brighter foreground. Its bound is tighter than the shadow's (the config's 1.1 against 1 / 0.8): a
translucent object that brightens what lies behind it by a tenth or more stays foreground.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from bgsub.background import kernels
from bgsub.background.stats import kth_smallest


def shadowed(xc: np.ndarray, zmax: np.ndarray, bg: np.ndarray, sigma: np.ndarray, k: float, shadow_min: float,
             tex: Optional[np.ndarray] = None, tsamples: Optional[np.ndarray] = None,
             tsigma: Optional[np.ndarray] = None, matches: int = 2, shadow_max: float = 1.0
             ) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The shadow test at the foreground pixels (``zmax`` > k) of a frame ``xc`` (C, h, w) in the model's light,
    against the background image ``bg`` (C, h, w) and noise levels ``sigma`` (h, w); with ``tex`` (h, w), its
    texture samples ``tsamples`` (n, 1, h, w) and noise levels ``tsigma`` (h, w), the texture test as well (the
    ``matches``-th nearest texture sample within k noise levels of tex / alpha). ``shadow_max``: alpha's upper
    bound, exclusive (1: shadows only; above 1 the highlighted background as well, Horprasert's fourth class: the
    background in more light, its colour and texture kept). Returns (alpha (h, w), 1 where not a shadow; the
    shadow mask (h, w); the chromaticity distortion in noise levels (h, w), 0 where not a shadow), or None when
    no pixel is one."""
    textured = tex is not None and tsamples is not None
    got = kernels.shadow_test(xc, zmax, bg, sigma, k, shadow_min, tex if textured else None,
                              tsamples if textured else None, tsigma if textured else None, matches, shadow_max)
    if got is not None:  # one compiled pass over the pixels (bgsub.background.kernels), the same values
        return got[1:] if got[0] else None
    fg = zmax > k
    if not fg.any():
        return None
    p = np.flatnonzero(fg)  # flat indices: one gather per array
    C = xc.shape[0]
    b = bg.reshape(C, -1)[:, p]  # (C, P)
    xp = xc.reshape(C, -1)[:, p]
    a = (xp * b).sum(axis=0) / np.maximum((b * b).sum(axis=0), 1e-6)
    c = np.abs(xp - a[None] * b).max(axis=0) / sigma.reshape(-1)[p]
    ok = (a >= shadow_min) & (a < shadow_max) & (c <= k)
    if ok.any() and tex is not None and tsamples is not None:
        q = np.flatnonzero(ok)
        pq = p[q]
        zt = kth_smallest(tsamples.reshape(tsamples.shape[0], -1)[:, pq], tex.reshape(-1)[pq] / a[q], matches)
        ok[q[zt / tsigma.reshape(-1)[pq] > k]] = False
    if not ok.any():
        return None
    p = p[ok]
    sh = np.zeros(zmax.shape, bool)
    sh.reshape(-1)[p] = True
    alpha = np.ones(zmax.shape, np.float32)
    alpha.reshape(-1)[p] = a[ok]
    cd = np.zeros(zmax.shape, np.float32)
    cd.reshape(-1)[p] = c[ok]
    return alpha, sh, cd
