"""Compiled per-pixel kernels of the sample model and the mask's edge (Numba): one fused pass over the data where
whole-array NumPy/OpenCV makes several. This module loads them, checks them and hands them to their callers
through the wrappers below (each returns None where the kernels are unavailable); their bodies are in
:mod:`bgsub.background.compiled`.

- ``kth_rows``: the k-th smallest distance of each pixel's value to its ``n`` samples (ViBe's #min test, kept as a
  distance: :func:`bgsub.background.stats.kth_smallest`), the model's hottest operation. With whole-array
  operations it is ``n`` absolute differences plus about ``3 (n - 1)`` running minima and maxima, each a pass
  over a frame-sized array (about 0.6 ms a call at 160 x 120 x 3 with 20 samples, more when the network's threads
  share the memory bandwidth). The kernel keeps each row's ``k`` running minima in a small buffer and reads each
  sample's row once (0.22 ms), the inner loop over the row's pixels vectorised by LLVM.
- ``grey_texture``: the grey frame and its texture (:mod:`bgsub.background.texture`).
- ``fit_inliers``: the inlier test of the light's fit (:func:`bgsub.background.illumination.gain_compensated`).
- ``nn_spread_at``: each pixel's noise level from its samples' nearest-neighbour spread
  (:func:`bgsub.background.stats.nn_spread`), its sorts a sorting network (:func:`sorting_network`) applied to
  256 pixels at a time, the pixels innermost (28 -> 5.9 ms at 160 x 120 x 3 with 20 samples, against per-pixel
  insertion sorts).
- ``median_cols``: :func:`bgsub.background.stats.median0` of float32 arrays the same way (4.8 -> 1.0 ms for
  20 x 3 x 120 x 160 against NumPy's sort along the first axis).
- ``motion_parts``: the horizon's per-frame motion measures (:func:`bgsub.background.start.frame_motion`).
- ``band_drop``: the decision at the mask's edge (:func:`bgsub.background.boundary.refine`).
- ``drawn`` and ``put``: ViBe's update's selections and writes (:func:`bgsub.background.update.diffuse`; its
  random draws stay NumPy's, so the model's results per seed are the same).
- ``keep_stiller``: the stable search's update after each frame (:meth:`bgsub.background.stable.StableSearch.step`:
  the kept values a stiller frame replaces, and each changed pixel's least still kept frame found again).
- ``shadow_test``: the cast-shadow test at the foreground pixels (:func:`bgsub.background.shadow.shadowed`).
- ``ghost_counts``: the ghost test's per-pixel counts each frame (:func:`bgsub.background.ghost.counts`).
- ``unit_planes``: a decoded 8-bit BGR image to the float32 RGB planes in [0, 1] the pipeline reads
  (:func:`bgsub.io.frames._convert`), by a table of the 256 quotients: only once the kernels are loaded
  (:func:`loaded_unit_planes` never loads them nor waits for them).

Each does the float arithmetic of the code it replaces, in the same order, so the values are the same (tests
check every kernel bit for bit against the whole-array path): the model's output does not depend on whether Numba
is installed.

Numba is imported and the kernels compiled (or loaded) and checked in one go: in the loading thread that
:func:`warm_up` starts, or on first use. Compiled code is cached on disk (``cache=True``: in ``__pycache__``
beside :mod:`~bgsub.background.compiled`, or the user's cache directory where the package is read-only; in
memory when neither is writable), so only the first run after an install compiles (3.4 s here); later runs load in
about 0.45 s (Numba's import and its registries). Without Numba (a platform it has no wheel for), with ``BGSUB_NUMBA=0`` in the
environment, after :func:`defer`, or when a kernel fails its check, the callers use the whole-array path.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Optional

import numpy as np

_lock = threading.Lock()
_kernels: Optional[dict] = None  # name -> compiled function; {} when Numba is unavailable or switched off
_warming = False  # warm_up() has started a thread that builds them
_deferred = False  # defer(): not loaded on first use until warm_up()


def _build() -> dict:
    if os.environ.get("BGSUB_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return {}
    try:
        import numba
    except Exception:  # not installed, or broken on this platform: the whole-array path
        return {}
    try:
        from bgsub.background.compiled import define

        kernels = define(numba, cache=True)
    except RuntimeError:  # no writable cache location: compile in memory, every run
        kernels = define(numba, cache=False)
    try:  # compile (or load from the cache) every kernel now, with the argument types the callers pass, and
        #   check the results on hand-made cases: a kernel that cannot be compiled, cached or trusted here sends
        #   every caller to the whole-array path instead of failing in the middle of a run
        return kernels if _warmed(kernels) else {}
    except Exception:
        return {}


def _warmed(kernels: dict) -> bool:
    s = np.array([[[3.0, 0.0]], [[1.0, 5.0]], [[2.5, 4.0]]], np.float32)  # (n=3, R=1, w=2)
    out = np.empty((1, 2), np.float32)
    for k, want in ((2, [1.0, 2.0]), (1, [0.5, 1.0]), (3, [1.0, 3.0])):
        kernels["kth_rows"](s, np.array([[2.0, 3.0]], np.float32), k, out, np.empty((k + 1, 2), np.float32))
        if out.tolist() != [want]:
            return False
    # texture: a vertical edge of 6 grey levels -> 3 at the pixels beside it (half of each difference)
    xt = np.zeros((1, 3, 2, 3), np.float32)
    xt[:, :, :, 2] = 6.0
    if kernels["grey_texture"](xt, np.empty((1, 2, 3), np.float32)).tolist() != [[[0.0, 3.0, 3.0]] * 2]:
        return False
    ok = np.ones(2, np.bool_)
    got = kernels["fit_inliers"](np.ones(3, np.float32), np.zeros(3, np.float32), np.ones((3, 2), np.float32),
                                 np.array([[1.0, 9.0]] * 3, np.float32), np.full(2, 2.0, np.float32), ok,
                                 np.empty(2, np.bool_))
    if got.tolist() != [True, False]:
        return False
    o = np.empty(1, np.float32)  # values 3, 0, 1: nearest other 2, 1, 1; max over the 1 channel; median 1
    if kernels["nn_spread_at"](np.array([[[3.0]], [[0.0]], [[1.0]]], np.float32), 1, 1, 1, 0, np.float32(0.0),
                               *sorting_network(3), o).tolist() != [1.0]:
        return False
    med = np.empty(2, np.float32)  # columns (3, 1, 2) and (4, 4, 0) -> 2 and 4; with a fourth row 8, 5: 2.5 and 4
    if kernels["median_cols"](np.array([[3.0, 4.0], [1.0, 4.0], [2.0, 0.0]], np.float32), *sorting_network(3),
                              med).tolist() != [2.0, 4.0]:
        return False
    if kernels["median_cols"](np.array([[3.0, 4.0], [1.0, 4.0], [2.0, 0.0], [8.0, 5.0]], np.float32),
                              *sorting_network(4), med).tolist() != [2.5, 4.0]:
        return False
    # motion: a frame that changed by 2 in one channel, on a ramp of 4 grey levels a pixel (gradient 4 inside, 0 on
    # the outer columns) -> d 2 everywhere, r 0.5 inside and 2 / floor 1 on the outer columns
    ramp = np.tile(np.arange(4, dtype=np.float32) * 4, (2, 3, 1))  # (C=2, h=3, w=4)
    nxt = ramp.copy()
    nxt[1] += 2
    dd, rr = np.empty((3, 4), np.float32), np.empty((3, 4), np.float32)
    kernels["motion_parts"](ramp, ramp, nxt, np.float32(1.0), dd, rr)
    if dd.tolist() != [[2.0] * 4] * 3 or rr.tolist() != [[2.0, 0.5, 0.5, 2.0]] * 3:
        return False
    # the band's rule, on contiguous frames and on a window cut out of larger ones (both layouts the caller
    # passes): a band pixel the colour of the background beside an interior of another colour is dropped
    inner = np.zeros((3, 3), np.uint8)
    inner[:, :2] = 1
    big = np.zeros((3, 5, 5), np.float32)
    big[:, 1:4, 1:3] = 0.9  # the object's interior; its band pixels (column 3) the background's 0
    bgb = np.zeros((3, 5, 5), np.float32)
    for x, b in ((np.ascontiguousarray(big[:, 1:4, 1:4]), np.ascontiguousarray(bgb[:, 1:4, 1:4])),
                 (big[:, 1:4, 1:4], bgb[:, 1:4, 1:4])):
        d = kernels["band_drop"](inner, x, b, np.zeros(3), np.array([0, 1], np.intp), np.array([2, 2], np.intp),
                                 2, 0.1, 1.0 / 9.0)
        if d.tolist() != [True, True]:
            return False
    sel = kernels["drawn"](np.array([[True, False], [True, True]]), np.array([[0.1, 0.0], [0.9, 0.05]]), 0.5)
    if sel.tolist() != [0, 3]:
        return False
    # the search: pixel 0 stiller than its worst kept frame (motion 4 at kept frame 1) takes the frame's value
    # there, its new worst being frame 0 (3); pixel 1 (1.5 against 2) stays
    kv = np.zeros((2, 1, 2), np.float32)
    km = np.array([[3.0, 2.0], [4.0, 1.0]], np.float32)
    kw, kwm = np.array([1, 0], np.int64), np.array([4.0, 2.0], np.float32)
    got = kernels["keep_stiller"](np.array([1.0, 1.5], np.float32), np.float32(0.5), kwm, kw, kv, km,
                                  np.array([[9.0, 8.0]], np.float32), np.zeros(1, np.int64), False)
    if (got != 1 or kv[:, 0].tolist() != [[0.0, 0.0], [9.0, 0.0]] or km.tolist() != [[3.0, 2.0], [1.0, 1.0]]
            or kw.tolist() != [0, 0] or kwm.tolist() != [3.0, 2.0]):
        return False
    # shadows: pixel 0 is its background at 0.9 of the light (a shadow), pixel 1 at 0.5 (too dark), pixel 2 not
    # foreground; with the texture, pixel 0's (9 / 0.9 = 10) matches its samples 10 and 11 (the 2nd nearest 1)
    sx = np.array([[90.0, 50.0, 90.0]] * 3, np.float32)
    sb = np.full((3, 3), 100.0, np.float32)
    zz, ss = np.array([9.0, 9.0, 1.0], np.float32), np.ones(3, np.float32)
    ts, tt = np.array([[10.0] * 3, [11.0] * 3, [30.0] * 3], np.float32), np.array([9.0, 5.0, 9.0], np.float32)
    al, shm, cdv = np.empty(3, np.float32), np.empty(3, np.bool_), np.empty(3, np.float32)
    for textured, tsg, want in ((False, 1.0, 1), (True, 1.0, 1), (True, 0.1, 0)):
        got = kernels["shadow_test"](sx, zz, sb, ss, np.float32(6.0), np.float32(0.8), np.float32(1.0), tt, ts,
                                     np.full(3, tsg, np.float32), textured, 2, al, shm, cdv)
        if got != want or shm.tolist() != [bool(want), False, False] or al.tolist()[1:] != [1.0, 1.0]:
            return False
    if not (abs(float(al[0]) - 1.0) < 1e-6 and cdv.tolist() == [0.0, 0.0, 0.0]):  # (the last case: no shadow)
        return False
    # highlights: pixel 0 at 1.1 of the light is the background in more light below an upper bound of 1.25, not
    # below 1 (a shadow's)
    for smax, want in ((1.25, 1), (1.0, 0)):
        got = kernels["shadow_test"](sx * np.float32(1.1 / 0.9), zz, sb, ss, np.float32(6.0), np.float32(0.8),
                                     np.float32(smax), tt, ts, np.ones(3, np.float32), False, 2, al, shm, cdv)
        if got != want or shm.tolist() != [bool(want), False, False]:
            return False
    img = np.array([[[0, 128, 255], [7, 1, 2]]], np.uint8)  # (1, 2, 3) BGR -> RGB planes of the table's values
    got = kernels["unit_planes"](img, _unit_table(), np.empty((3, 1, 2), np.float32))
    if got.tolist() != (img.transpose(2, 0, 1)[::-1] / np.float32(255.0)).tolist():
        return False
    # ghosts' counts: pixel 0 off (unlike bg by 5 > 2) and unchanged, pixel 1 changed (by 3), pixel 2 on
    cnt, mv, qt, of = (np.array([4, 4, 4], np.int32), np.zeros(3, np.bool_), np.array([0, 0, 7], np.int32),
                       np.empty(3, np.bool_))
    kernels["ghost_counts"](np.array([[5.0, 3.0, 1.0]], np.float32), np.array([[5.0, 0.0, 1.0]], np.float32),
                            np.zeros((1, 3), np.float32), np.zeros(3, np.bool_), np.full(3, 2.0, np.float32),
                            cnt, mv, qt, of)
    if (of.tolist() != [True, True, False] or cnt.tolist() != [5, 0, 0] or mv.tolist() != [False, True, False]
            or qt.tolist() != [0, 0, 8]):
        return False
    smp = np.zeros((2, 3, 4), np.float32)
    kernels["put"](smp, np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1, 1], np.int64),
                   np.array([2, 2], np.int64), np.array([0, 3], np.int64))  # the later entry wins
    return smp[1, :, 2].tolist() == [3.0, 7.0, 11.0] and float(np.abs(smp).sum()) == 21.0


def _get() -> dict:
    global _kernels
    if _kernels is None:
        if _deferred:
            return {}
        with _lock:
            if _kernels is None:
                _kernels = _build()
    return _kernels


def warm_up() -> None:
    """Import Numba and load (or compile) the kernels in a daemon thread, once; a caller that needs them before
    it is done waits for it (:func:`_get` holds the lock while building). Undoes :func:`defer`."""
    global _warming, _deferred
    with _lock:
        _deferred = False
        if _kernels is not None or _warming:
            return
        _warming = True
    threading.Thread(target=_get, name="bgsub-kernels", daemon=True).start()


def defer() -> None:
    """Until :func:`warm_up` is called, callers get the whole-array path instead of loading the kernels (the same
    values): for work too short to repay their start-up (Numba's import and first dispatch, about half a second of
    mostly interpreter time that a short clip's own work cannot hide). Kernels loaded already stay in use."""
    global _deferred
    with _lock:
        _deferred = _kernels is None and not _warming


def band_drop(inner: np.ndarray, x: np.ndarray, bg: np.ndarray, off: np.ndarray, ys: np.ndarray, xs: np.ndarray,
              R: int, thr: float, rr: float) -> Optional[np.ndarray]:
    """:func:`bgsub.background.boundary.refine`'s decision for the band pixels ``ys``, ``xs`` of one frame's box
    (``inner`` the mask's interior, uint8; ``x`` the frame and ``bg`` its background, (C, h, w) float32; ``off``
    (C,) the frame's light added to the background), in one compiled pass with the same arithmetic; None when the
    kernels are unavailable."""
    kern = _get().get("band_drop")
    if kern is None:
        return None
    return kern(inner, x, bg, np.ascontiguousarray(off, dtype=np.float64), ys, xs, int(R), float(thr), float(rr))


def grey_texture(xt: np.ndarray, out: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """(T, C, th, tw) float32 frames (grey levels) -> (T, th, tw) their grey's texture before the area average
    (:func:`bgsub.background.texture.texture_of`'s sum of halved neighbour differences), in one compiled pass with
    the same arithmetic (into ``out``, a float32 (T, th, tw) array, when given); None when the kernels are
    unavailable."""
    kern = _get().get("grey_texture")
    if kern is None:
        return None
    xt = np.ascontiguousarray(xt, dtype=np.float32)
    return kern(xt, np.empty((xt.shape[0],) + xt.shape[2:], np.float32) if out is None else out)


@functools.lru_cache(maxsize=1)
def _unit_table() -> np.ndarray:
    """(256,) float32: each 8-bit value over 255, as ``np.divide(img, np.float32(255), dtype=np.float32)`` gives it
    (the same division of the same float32 operands). Read-only."""
    t = np.divide(np.arange(256, dtype=np.uint8), np.float32(255.0), dtype=np.float32)
    t.flags.writeable = False
    return t


def loaded_unit_planes(img: np.ndarray, out: np.ndarray) -> Optional[np.ndarray]:
    """A decoded (H, W, 3) uint8 BGR image into ``out``, (3, H, W) float32 C-contiguous, as RGB planes in [0, 1]
    (:func:`bgsub.io.frames._convert`'s values: each byte's quotient from a table of the 256), returned; None
    when the kernels are not loaded (yet): this never loads them nor waits for them (the frames of a job that
    does not use the kernels, and those read while :func:`warm_up` loads them, are converted by NumPy, the same
    values). One pass, half of NumPy's strided division here (0.09 against 0.19 ms a 320 x 240 frame)."""
    got = _kernels  # (read once: the loading thread sets it when done)
    kern = got.get("unit_planes") if got else None
    if (kern is None or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or not img.flags.c_contiguous
            or out.shape != (3,) + img.shape[:2] or out.dtype != np.float32 or not out.flags.c_contiguous):
        return None  # (C-contiguous only: the layouts compiled and checked at loading, no compilation mid-run)
    return kern(img, _unit_table(), out)


def keep_stiller(mm: np.ndarray, stiller: np.float32, wm: np.ndarray, worst: np.ndarray, vals: np.ndarray,
                 mot: np.ndarray, src: np.ndarray, idx: Optional[np.ndarray]) -> Optional[int]:
    """:meth:`bgsub.background.stable.StableSearch.step`'s update in one compiled pass over the pixels searched
    (``vals`` (n, C, P), ``mot`` (n, P), ``worst`` (P,) int64 and ``wm`` (P,) updated in place; ``src`` (C, h w)
    the frame, ``idx`` the searched pixels' flat indices or None for all): how many pixels changed; None when the
    kernels are unavailable or the arrays are not the types they were checked with (float32, C-contiguous)."""
    kern = _get().get("keep_stiller")
    f32 = (mm, wm, vals, mot, src)
    if (kern is None or any(a.dtype != np.float32 or not a.flags.c_contiguous for a in f32)
            or worst.dtype != np.int64 or not worst.flags.c_contiguous
            or (idx is not None and (idx.dtype != np.int64 or not idx.flags.c_contiguous))):
        return None
    mapped = idx is not None
    return kern(mm, np.float32(stiller), wm, worst, vals, mot, src, idx if mapped else _NO_INDEX, mapped)


_NO_INDEX = np.zeros(1, np.int64)  # keep_stiller's idx when every pixel is searched (not read)


def shadow_test(xc: np.ndarray, zmax: np.ndarray, bg: np.ndarray, sigma: np.ndarray, k: float, shadow_min: float,
                tex: Optional[np.ndarray], tsamples: Optional[np.ndarray], tsigma: Optional[np.ndarray], matches: int,
                shadow_max: float = 1.0) -> Optional[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`bgsub.background.shadow.shadowed`'s test in one compiled pass over the pixels of float32 (C, h, w)
    ``xc`` and ``bg``, (h, w) ``zmax`` and ``sigma`` (and, with ``tex``, the (n, 1, h, w) texture samples and
    their (h, w) noise levels): (the number of shadow pixels, alpha, the shadow mask, the chromaticity distortion),
    each (h, w); None when the kernels are unavailable or the arrays are not float32."""
    kern = _get().get("shadow_test")
    arrays = (xc, zmax, bg, sigma) + (() if tex is None else (tex, tsamples, tsigma))
    if kern is None or any(a is None or a.dtype != np.float32 for a in arrays):
        return None
    C = xc.shape[0]
    shape = zmax.shape
    P = zmax.size
    textured = tex is not None
    if textured:
        n = tsamples.shape[0]
        ts, tx, tsg = (np.ascontiguousarray(tsamples).reshape(n, P), np.ascontiguousarray(tex).reshape(P),
                       np.ascontiguousarray(tsigma).reshape(P))
    else:
        n, ts, tx, tsg = 1, _NO_TEXTURE[1], _NO_TEXTURE[0], _NO_TEXTURE[0]
    m = max(1, min(int(matches), n))  # (kth_smallest's order: at most the samples there are)
    alpha, cd = np.empty(shape, np.float32), np.empty(shape, np.float32)
    sh = np.empty(shape, np.bool_)
    found = kern(np.ascontiguousarray(xc).reshape(C, P), np.ascontiguousarray(zmax).reshape(P),
                 np.ascontiguousarray(bg).reshape(C, P), np.ascontiguousarray(sigma).reshape(P), np.float32(k),
                 np.float32(shadow_min), np.float32(shadow_max), tx, ts, tsg, textured, m, alpha.reshape(P),
                 sh.reshape(P), cd.reshape(P))
    return found, alpha, sh, cd


_NO_TEXTURE = (np.zeros(1, np.float32), np.zeros((1, 1), np.float32))  # shadow_test's texture when there is none


def ghost_counts(x: np.ndarray, last: np.ndarray, bg: np.ndarray, fg: np.ndarray, thr: np.ndarray,
                 count: np.ndarray, moved: np.ndarray, quiet: np.ndarray) -> Optional[np.ndarray]:
    """:func:`bgsub.background.ghost.counts`'s update of ``count``, ``moved`` and ``quiet`` (h, w; C-contiguous,
    int32 / bool / int32) in place from float32 frames (C, h, w) and ``thr`` (h, w) = k sigma in one compiled pass;
    returns the (h, w) pixels off, or None when the kernels are unavailable."""
    kern = _get().get("ghost_counts")
    if kern is None or not (count.flags.c_contiguous and moved.flags.c_contiguous and quiet.flags.c_contiguous):
        return None
    C = x.shape[0]
    off = np.empty(fg.shape, np.bool_)
    kern(np.ascontiguousarray(x, np.float32).reshape(C, -1), np.ascontiguousarray(last, np.float32).reshape(C, -1),
         np.ascontiguousarray(bg, np.float32).reshape(C, -1), np.ascontiguousarray(fg).reshape(-1),
         np.ascontiguousarray(thr, np.float32).reshape(-1), count.reshape(-1), moved.reshape(-1), quiet.reshape(-1),
         off.reshape(-1))
    return off


def fit_inliers():
    """The compiled ``fit_inliers(a (C,), b (C,), B0 (C, P), xs (C, P), ksig (P,), ok (P,), out (P,))`` (float32;
    ``out`` bool, returned): :func:`bgsub.background.illumination.gain_compensated`'s inlier test, or None when
    the kernels are unavailable."""
    return _get().get("fit_inliers")


def nn_spread(s: np.ndarray, order: int, q: float) -> Optional[np.ndarray]:
    """:func:`bgsub.background.stats.nn_spread` of float32 samples ``s`` (n, C, ...) without NaNs in one compiled
    pass per pixel (the same values); None when the kernels are unavailable (or for other inputs)."""
    kern = _get().get("nn_spread_at")
    n = s.shape[0]
    if kern is None or s.dtype != np.float32 or s.ndim < 2 or n < 1 or s.size == 0 or np.isnan(s).any():
        return None
    if q == 50.0:  # median0: the middle value, or the mean of the two middle ones
        lo, hi = (n - 1) // 2, n // 2
        mode, wgt = (2 if lo < hi else 0), np.float32(0.0)
    else:  # percentile0's positions and weight
        v = (n - 1) * (q / 100.0)
        lo = int(np.floor(v))
        hi = min(lo + 1, n - 1)
        g = float(v - lo)
        mode = 1 if g >= 0.5 else 0
        wgt = np.float32(1 - g) if mode else np.float32(g)
    s3 = np.ascontiguousarray(s).reshape(n, s.shape[1], -1)
    out = np.empty(s3.shape[2], np.float32)
    ci, cj = sorting_network(n)
    kern(s3, int(min(order, n - 1)), lo, hi, mode, wgt, ci, cj, out)
    return out.reshape(s.shape[2:])


def median0(a: np.ndarray) -> Optional[np.ndarray]:
    """:func:`bgsub.background.stats.median0` of a float32 array (n, ...) without NaNs, n >= 2, in one compiled
    pass (the same values); None when the kernels are unavailable (or for other inputs)."""
    kern = _get().get("median_cols")
    n = a.shape[0] if a.ndim else 0
    if kern is None or a.dtype != np.float32 or n < 2 or a.size == 0 or np.isnan(a).any():
        return None
    a2 = np.ascontiguousarray(a).reshape(n, -1)
    out = np.empty(a2.shape[1], np.float32)
    kern(a2, *sorting_network(n), out)
    return out[0] if a.ndim == 1 else out.reshape(a.shape[1:])  # (1-D: a NumPy scalar, as the sort gives)


def motion_parts(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, floor: float
                 ) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The middle frame's unfiltered motion measures from three consecutive float32 frames (C, h, w): (its
    larger difference to its neighbours, max over channels; that over its gradient magnitude floored at
    ``floor``), each (h, w), as :func:`bgsub.background.stats._motion` and ``_displacement`` give them, in one
    compiled pass (the same values); None when the kernels are unavailable."""
    kern = _get().get("motion_parts")
    if kern is None:
        return None
    h, w = p1.shape[1:]
    d = np.empty((h, w), np.float32)
    r = np.empty((h, w), np.float32)
    kern(*(np.ascontiguousarray(f, dtype=np.float32) for f in (p0, p1, p2)), np.float32(floor), d, r)
    return d, r


@functools.lru_cache(maxsize=16)
def sorting_network(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Batcher's odd-even merge sort for ``n`` values as compare-exchanges (ci[e], cj[e]), ci < cj, in order:
    after them position i holds the i-th smallest value. Made for the next power of two and pruned to the pairs
    within ``n`` (the missing values act as +inf at the top and never move). Read-only int64 arrays."""
    size = 1
    while size < n:
        size *= 2
    pairs: list[tuple[int, int]] = []

    def merge(lo: int, hi: int, r: int) -> None:  # hi inclusive
        step = 2 * r
        if step < hi - lo:
            merge(lo, hi, step)
            merge(lo + r, hi, step)
            pairs.extend((i, i + r) for i in range(lo + r, hi - r, step))
        else:
            pairs.append((lo, lo + r))

    def sort(lo: int, hi: int) -> None:
        if hi - lo >= 1:
            mid = lo + (hi - lo) // 2
            sort(lo, mid)
            sort(mid + 1, hi)
            merge(lo, hi, 1)

    sort(0, size - 1)
    kept = [(i, j) for i, j in pairs if j < n]
    ci = np.array([i for i, _ in kept], np.int64)
    cj = np.array([j for _, j in kept], np.int64)
    ci.flags.writeable = cj.flags.writeable = False
    return ci, cj


def diffusion():
    """``(drawn, put)``, the compiled halves of :func:`bgsub.background.update.diffuse` (the random draws stay
    NumPy's), or None when the kernels are unavailable."""
    k = _get()
    return (k["drawn"], k["put"]) if "drawn" in k else None


def available() -> bool:
    """Whether the compiled kernels are in use (Numba importable and not switched off by ``BGSUB_NUMBA=0``)."""
    return bool(_get())


def kth_smallest_rows(s: np.ndarray, x: np.ndarray, k: int) -> Optional[np.ndarray]:
    """The k-th smallest ``|s[j] - x|`` over j (axis 0 of ``s``), elementwise, for float32 ``s`` (n, ...) and ``x``
    (...) of at least 1 dimension, 1 <= k <= n; None when the kernels are unavailable (the caller's whole-array
    path then gives the same values)."""
    kern = _get().get("kth_rows")
    if kern is None:
        return None
    w = x.shape[-1]
    x2 = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, w)
    s2 = np.ascontiguousarray(s, dtype=np.float32).reshape(s.shape[0], -1, w)
    out = np.empty_like(x2)
    kern(s2, x2, int(k), out, np.empty((k + 1, w), np.float32))
    return out.reshape(x.shape)
