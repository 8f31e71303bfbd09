"""Per-pixel statistics of the sample model (:mod:`bgsub.background.samples`): the camera's noise from the frames
(temporal and Immerkaer's single-image estimate, floored at 8-bit quantisation), each frame's local motion, the
k-th smallest distance to a pixel's samples (running minima), medians along the sample axis, and the spread
statistic's calibration."""

from __future__ import annotations

import functools
import math
from typing import Optional

import cv2
import numpy as np

from bgsub.background import kernels

QUANT = 1.0 / math.sqrt(12.0)  # the standard deviation of 8-bit rounding, in grey levels
NOISE_LAG = 12  # frames between the two frames of a temporal noise difference: about a group of pictures (MPEG's
#                 12-15). A codec copies a block it does not code again from the previous frame, so consecutive frames
#                 of compressed video share most blocks exactly and their differences see no noise; frames a group
#                 of pictures apart were coded apart (ucsd-boats: 0.00 grey levels at lag 1, 4.4 at lag 12; still,
#                 uncompressed footage has the same noise at any lag: cdnet-highway 1.11 at both)


def immerkaer(img: np.ndarray) -> float:
    """The noise of one image (h, w) in its own units, from the Laplacian difference mask (Immerkaer, "Fast noise
    variance estimation", CVIU 1996): sqrt(pi / 2) / (6 (w - 2)(h - 2)) sum |img * M|. Blind to motion; texture
    raises it."""
    m = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    h, w = img.shape
    if h < 3 or w < 3:
        return 0.0
    r = cv2.filter2D(img.astype(np.float32), -1, m, borderType=cv2.BORDER_REPLICATE)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(r).sum() / (6.0 * (w - 2) * (h - 2)))


def noise_level(x: np.ndarray, factor: float = 1.0) -> float:
    """The camera's noise (grey levels) from frames x (T, C, h, w): the smaller of a temporal estimate (the 25th
    percentile of |x_t - x_(t-L)| is 0.3186 sqrt(2) sigma for Gaussian noise: robust to motion over up to three
    quarters of the frame; L = :data:`NOISE_LAG` frames, or T - 1 when fewer, so that a codec's blocks copied
    from frame to frame do not read as a noise-free camera; each pair's median change per channel undone) and a
    spatial one from single frames (:func:`immerkaer`, the median over the first frames' channels: robust to any
    motion, raised by texture); floored at the quantisation noise of 8-bit samples averaged ``factor`` at a
    time."""
    floor = QUANT / math.sqrt(max(1.0, factor))
    spatial = float(np.median([immerkaer(x[t, c]) for t in range(min(x.shape[0], 5)) for c in range(x.shape[1])]))
    if x.shape[0] < 2:
        return max(floor, spatial)
    lag = min(x.shape[0] - 1, NOISE_LAG)
    d = x[lag : 64 + lag] - x[: min(64, x.shape[0] - lag)]  # (P, C, h, w)
    # in one light: each pair's median change per channel undone (a light switched on between the two frames, or
    # an exposure that drifts over the lag, is not noise). In place, the medians row by row and the percentile's
    # partition in d itself (the values of np.median over axis 2 and of np.percentile of a copy): the window's
    # start touches no more fresh memory than d (4 copies of its 15 MB at 160 x 120 before)
    P, C = d.shape[:2]
    d -= median_rows(d.reshape(P * C, -1)).reshape(P, C)[:, :, None, None]
    np.abs(d, out=d)
    temporal = float(np.percentile(d.reshape(-1), 25, overwrite_input=True)) / (0.3186 * math.sqrt(2.0))
    return max(floor, min(temporal, spatial))


def _motion(x: np.ndarray, box: int) -> np.ndarray:
    """(T, h, w) local motion of each frame: the larger of its differences to the previous and next frame (max over
    channels), box-filtered over ``box`` x ``box`` pixels."""
    T = x.shape[0]
    d = _abs_diff_max(x)  # (T-1, h, w)
    m = np.empty((T,) + x.shape[2:], np.float32)
    if T == 1:
        m[:] = 0
        return m
    m[0], m[-1] = d[0], d[-1]
    if T > 2:
        np.maximum(d[:-1], d[1:], out=m[1:-1])
    return _blurred(m, box) if box > 1 else m


def _abs_diff_max(x: np.ndarray) -> np.ndarray:
    """(T - 1, h, w) ``np.abs(np.diff(x, axis=0)).max(axis=1)`` of frames x (T, C, h, w), the same values; float32
    frames a pair at a time through one frame's buffer (whole planes' maxima: NumPy's reduction over the channel
    axis is a slower strided pass, and the whole differences were two window-sized temporaries)."""
    if x.dtype != np.float32 or x.shape[0] < 2:
        return np.abs(np.diff(x, axis=0)).max(axis=1)
    T, C = x.shape[:2]
    out = np.empty((T - 1,) + x.shape[2:], np.float32)
    buf = np.empty(x.shape[1:], np.float32)
    for t in range(T - 1):
        np.subtract(x[t + 1], x[t], out=buf)
        np.abs(buf, out=buf)
        _planes_max(buf, out[t])
    return out


def _planes_max(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a.max(axis=0)`` of (C, ...) into ``out``, plane by plane (the same values)."""
    np.copyto(out, a[0])
    for c in range(1, a.shape[0]):
        np.maximum(out, a[c], out=out)
    return out


def _gradient(x: np.ndarray) -> np.ndarray:
    """(T, h, w) each frame's gradient magnitude (central differences, max over channels) of (T, C, h, w). Float32
    frames one at a time through buffers of one frame (the same values: each pixel's differences, halves, squares,
    sum and square root are the same float32 operations; the whole window's were six temporaries of its size, 23
    MB each at 100 frames of 160 x 120 x 3, fresh memory at the window's start)."""
    if x.dtype == np.float32:
        T, C = x.shape[:2]
        out = np.empty((T,) + x.shape[2:], np.float32)
        gy = np.zeros(x.shape[1:], np.float32)  # the outer rows (columns) stay 0: only the inside is written
        gx = np.zeros(x.shape[1:], np.float32)
        sq = np.empty(x.shape[1:], np.float32)
        half = np.float32(0.5)
        for t in range(T):
            f = x[t]
            np.multiply(np.subtract(f[:, 2:, :], f[:, :-2, :], out=gy[:, 1:-1, :]), half, out=gy[:, 1:-1, :])
            np.multiply(np.subtract(f[:, :, 2:], f[:, :, :-2], out=gx[:, :, 1:-1]), half, out=gx[:, :, 1:-1])
            np.multiply(gx, gx, out=sq)
            np.add(sq, np.multiply(gy, gy, out=gy), out=sq)  # (gy is written again for the next frame)
            np.sqrt(sq, out=sq)
            _planes_max(sq, out[t])
        return out
    gy = np.zeros(x.shape, np.float32)
    gx = np.zeros(x.shape, np.float32)
    gy[..., 1:-1, :] = 0.5 * (x[..., 2:, :] - x[..., :-2, :])
    gx[..., :, 1:-1] = 0.5 * (x[..., :, 2:] - x[..., :, :-2])
    return np.sqrt(gx * gx + gy * gy).max(axis=1)


def _displacement(d: np.ndarray, x: np.ndarray, noise: float) -> np.ndarray:
    """(T, h, w) frame differences ``d`` (:func:`_motion` with box 1, of the frames x (T, C, h, w) or taken from a
    longer run of them) over the frames' gradient magnitude, the gradient floored at the noise level (a flat
    region's differences are noise): displacement in pixels, the normal flow."""
    g = _gradient(x)
    np.maximum(g, np.float32(max(noise, 1e-3)), out=g)
    if d.dtype == np.float32 and d.shape == g.shape:
        return np.divide(d, g, out=g)  # (in place: the same quotients, no two more window-sized arrays)
    return (d / g).astype(np.float32)


def _flow(x: np.ndarray, box: int, noise: float, d: Optional[np.ndarray] = None) -> np.ndarray:
    """(T, h, w) local motion as displacement (LaBGen-OF's idea, Laugraud et al. 2018, in its normal-flow form):
    each frame's difference to its neighbours (``d``: :func:`_motion` with box 1, when already taken) over its
    gradient magnitude (:func:`_displacement`), box-filtered. A blurred leaf that drifts changes its pixels little
    but moves far; a sharp background that stands still changes them by noise."""
    r = _displacement(_motion(x, 1) if d is None else d, x, noise)
    return _blurred(r, box) if box > 1 else r


def _blurred(m: np.ndarray, box: int) -> np.ndarray:
    """A copy of (T, h, w) ``m`` with each plane box-filtered over ``box`` x ``box`` pixels."""
    out = np.empty_like(m)
    for t in range(m.shape[0]):
        cv2.blur(m[t], (box, box), dst=out[t])
    return out


def kth_smallest(s: np.ndarray, x: np.ndarray, k: int, reduce_channels: bool = False) -> np.ndarray:
    """The k-th smallest |s_j - x| over the samples j (axis 0 of ``s``), elementwise; with ``reduce_channels``
    the distance is the max over channels (axis 1 of ``s``, axis 0 of ``x``). Running minima for small k (one
    pass over the samples, no sort): np.partition along the sample axis cost 40 ms a frame at 160x120. On float32
    arrays the running minima are OpenCV's element-wise absdiff / min / max on 2-D views (exactly the same values
    as NumPy's, with fewer passes over the data: a quarter less time); without ``reduce_channels``, and where Numba
    is installed, one compiled pass over the samples (:mod:`bgsub.background.kernels`: the same values, a third of
    the time)."""
    n = s.shape[0]
    k = max(1, min(k, n))
    if k > 3:
        d = np.abs(s - x[None])
        if reduce_channels:
            d = d.max(axis=1)
        return np.partition(d, k - 1, axis=0)[k - 1]
    if s.dtype == np.float32 and x.dtype == np.float32 and x.size > 0 and not reduce_channels:
        got = kernels.kth_smallest_rows(s, x, k)  # one compiled pass (bgsub.background.kernels)
        if got is not None:
            return got
    if s.dtype == np.float32 and x.dtype == np.float32 and x.ndim >= 2 and x.size > 0:
        return _kth_smallest_cv(s, x, k, reduce_channels)
    shape = x.shape[1:] if reduce_channels else x.shape
    mins = [np.full(shape, np.inf, np.float32) for _ in range(k)]
    d = np.empty(x.shape, np.float32)
    t = np.empty(shape, np.float32)
    for j in range(n):
        np.subtract(s[j], x, out=d)
        np.abs(d, out=d)
        dj = d.max(axis=0) if reduce_channels else d
        for i in range(k):  # insert dj into the sorted minima: mins[i] <- min(mins[i], dj); dj <- the larger
            np.maximum(mins[i], dj, out=t)
            np.minimum(mins[i], dj, out=mins[i])
            dj, t = t, (dj if dj is not d else np.empty(shape, np.float32))
    return mins[k - 1]


def _kth_smallest_cv(s: np.ndarray, x: np.ndarray, k: int, reduce_channels: bool) -> np.ndarray:
    """:func:`kth_smallest` for float32 ``s`` and ``x`` (ndim >= 2) and k <= 3, by OpenCV on 2-D views: one
    absdiff per sample (|s_j - x|, the same float32 values as NumPy's subtract and abs), the channel maximum,
    then the insertion into the sorted minima (min / max are exact). The first k samples fill the minima without
    an infinite start (min(inf, d) = d for finite values: no fill, and four fewer passes for k = 2)."""
    n, w = s.shape[0], x.shape[-1]
    x2 = np.ascontiguousarray(x).reshape(-1, w)
    s2 = np.ascontiguousarray(s).reshape(n, -1, w)
    C = x.shape[0]
    rows = x2.shape[0] // C if reduce_channels else x2.shape[0]
    d = np.empty_like(x2)
    r = np.empty((rows, w), np.float32) if reduce_channels and C > 1 else None
    mins = [np.empty((rows, w), np.float32) for _ in range(k)]
    spare = [np.empty((rows, w), np.float32) for _ in range(min(k - 1, 2))]
    for j in range(n):
        dj = mins[0] if j == 0 and r is None else d  # the first sample's distances are the least so far
        cv2.absdiff(s2[j], x2, dst=dj)
        if r is not None:
            dj = mins[0] if j == 0 else r
            cv2.max(d[:rows], d[rows : 2 * rows], dst=dj)
            for c in range(2, C):
                cv2.max(dj, d[c * rows : (c + 1) * rows], dst=dj)
        top = min(j, k - 1)  # mins[top] is the last one set after this sample
        for i in range(top):  # mins[i] <- min(mins[i], dj); dj <- the larger of the two, carried on
            t = mins[j] if j < k and i == top - 1 else spare[i % 2]  # the first k samples: the larger one is new
            cv2.max(mins[i], dj, dst=t)
            cv2.min(mins[i], dj, dst=mins[i])
            dj = t
        if j >= k:
            cv2.min(mins[k - 1], dj, dst=mins[k - 1])
    for i in range(n, k):  # fewer samples than k: no k-th smallest
        mins[i].fill(np.inf)
    return mins[k - 1].reshape(x.shape[1:] if reduce_channels else x.shape)


def _channel_max(z: np.ndarray) -> np.ndarray:
    """``z.max(axis=0)`` of a (C, h, w) array, as C - 1 element-wise maxima of whole planes (the same values;
    NumPy's reduction over the outer axis is a slower strided pass)."""
    if z.shape[0] == 1:
        return z[0].copy()
    out = np.maximum(z[0], z[1])
    for c in range(2, z.shape[0]):
        np.maximum(out, z[c], out=out)
    return out


def median0(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)``, the same values, from a sort along the axis (NumPy's vectorised sort of short
    columns is about five times faster than the partition np.median uses): the middle element, or the mean of the
    two middle ones."""
    n = a.shape[0]
    if n == 0:
        return np.median(a, axis=0)
    got = kernels.median0(a)  # float32: one compiled pass (bgsub.background.kernels), the same values
    if got is not None:
        return got
    s = np.sort(a, axis=0)
    if n % 2:
        return s[n // 2].copy()
    return np.mean(s[n // 2 - 1 : n // 2 + 1], axis=0)


def median_rows(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=-1)`` of a 2-D float32 or float64 array, the same values, a few times faster on long
    rows (np.median's partition at two positions plus a NaN check costs about 45 us per 4800-value row; one
    partition at the upper middle, 8 us): per row, the element at the upper middle of one partition, and for an
    even count the mean of it and the largest value below it (as np.median: their sum in the array's type,
    halved). Rows with a NaN, other types and empty rows go to np.median itself."""
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[1] == 0 or a.dtype not in (np.float32, np.float64) or np.isnan(a).any():
        return np.median(a, axis=-1)
    n = a.shape[1]
    m = n // 2
    out = np.empty(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        p = np.partition(a[i], m)
        out[i] = p[m] if n % 2 else (p[:m].max() + p[m]) / 2  # the two middle values: p[:m] <= p[m]
    return out


@functools.lru_cache(maxsize=8)
def neighbour_index(h: int, w: int, dirs: tuple) -> np.ndarray:
    """(len(dirs), h w) for each direction (dy, dx) of ``dirs`` and each pixel's flat index y w + x, the flat index
    of its neighbour that way, clipped to the (h, w) frame: the diffused updates' target as one gather, not a
    clip per coordinate each frame. Read-only (cached)."""
    ys, xs = np.divmod(np.arange(h * w), w)
    out = np.stack([np.clip(ys + dy, 0, h - 1) * w + np.clip(xs + dx, 0, w - 1) for dy, dx in dirs])
    out.flags.writeable = False
    return out


def frames_at(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(n, C, h, w): each pixel's frames ``idx`` (n, h, w) of ``x`` (T, C, h, w), every channel: the values of
    ``np.take_along_axis(x, idx[:, None] broadcast to (n, C, h, w), axis=0)``, gathered channel by channel from flat
    indices (t * h * w + pixel): a sixth of the time (40 -> 7 ms for 20 of 90 frames at 160 x 120 x 3; NumPy's
    take_along_axis builds an index array for every axis)."""
    T, C = x.shape[:2]
    n = idx.shape[0]
    P = int(np.prod(x.shape[2:], dtype=np.int64))
    flat = (idx.reshape(n, P).astype(np.intp, copy=False) * P + np.arange(P, dtype=np.intp)).reshape(-1)
    out = np.empty((n, C) + x.shape[2:], x.dtype)
    for c in range(C):
        out[:, c] = np.take(np.ascontiguousarray(x[:, c]).reshape(-1), flat).reshape((n,) + x.shape[2:])
    return out


def put_samples(samples: np.ndarray, j: np.ndarray, p: np.ndarray, values: np.ndarray) -> None:
    """``samples[j[i], :, y_i, x_i] = values[:, i]`` for every i, in place, for (n, C, h, w) ``samples`` and flat
    pixel indices ``p`` (y w + x): one 1-D write per channel into the flat array, not a 4-D fancy index (a third
    of the time). Where two entries write the same place the later one wins, as in NumPy's assignment."""
    n, C, h, w = samples.shape
    if not samples.flags.c_contiguous:
        ys, xs = np.divmod(p, w)
        samples[j, :, ys, xs] = values.T
        return
    flat = samples.reshape(-1)
    at = j * (C * h * w) + p
    for c in range(C):
        if c:
            at += h * w
        flat[at] = values[c]


def sort_with_index(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(np.take_along_axis(s, o, 0), o)`` for ``o = np.argsort(s, axis=0, kind="stable")`` of a float32 ``s`` (n,
    ...) without NaNs: the same values and order, from one sort of 64-bit keys (each value's bits made monotone,
    its index in the low bits: ties keep the index order, as a stable sort). NumPy's vectorised sort of short
    columns takes a fifth of an argsort's time and the gathering none. -0.0 is keyed (and returned) as +0.0, its
    equal, so the order is the argsort's exactly."""
    n = s.shape[0]
    bits = max(1, (n - 1).bit_length())
    b = np.add(s, np.float32(0.0), dtype=np.float32).view(np.uint32)  # a new contiguous array, -0.0 -> +0.0
    top = np.uint32(0x80000000)
    key = np.where(b >= top, ~b, b | top).astype(np.uint64)  # negatives: all bits flipped; the rest: the sign bit
    key <<= np.uint64(bits)
    key |= np.arange(n, dtype=np.uint64).reshape((n,) + (1,) * (s.ndim - 1))
    key.sort(axis=0)
    order = (key & np.uint64((1 << bits) - 1)).astype(np.intp)
    m = (key >> np.uint64(bits)).astype(np.uint32)
    return np.where(m >= top, m & np.uint32(0x7FFFFFFF), ~m).view(np.float32), order


def knn_distance(s: np.ndarray, k: int) -> np.ndarray:
    """(n, C, ...) each sample's distance to its ``k``-th nearest other sample of ``s`` (n, C, ...) along axis 0,
    per channel: the same values as ``kth_smallest(s, s[j], k + 1)`` for every j (sample j itself counts first,
    at 0), from one sort. In sorted order a sample's k nearest others and itself are k + 1 consecutive values, so
    its k-th distance is the least, over the k + 1 windows that hold it, of the window's reach from it: k + 1
    vectorised steps instead of n passes over all n samples."""
    n = s.shape[0]
    k = min(k, n - 1)
    if s.dtype == np.float32 and n < 2**20 and not np.isnan(s).any():
        v, order = sort_with_index(s)
    else:
        order = np.argsort(s, axis=0, kind="stable")
        v = np.take_along_axis(s, order, axis=0)
    best = np.full_like(v, np.inf)
    for t in range(k + 1):  # the window [p - t, p - t + k] holds sorted position p for t <= p <= n - 1 - k + t
        lo, hi = t, n - 1 - k + t
        if hi < lo:
            continue
        P = slice(lo, hi + 1)
        reach = np.maximum(v[P] - v[lo - t : hi - t + 1], v[lo - t + k : hi - t + k + 1] - v[P])
        np.minimum(best[P], reach, out=best[P])
    # back to the samples' order: out[order[i], c] = best[i, c], by flat indices (np.put_along_axis is three times
    # slower on short columns)
    stride = best[0].size
    flat = order.reshape(n, -1) * stride + np.arange(stride)
    out = np.empty(best.shape, best.dtype)  # C order: its flat view is written (empty_like would keep a
    # transposed input's layout, and reshape(-1) of that is a copy: the values lost)
    out.reshape(-1)[flat.reshape(-1)] = best.reshape(-1)
    return out


def percentile0(a: np.ndarray, q: float) -> np.ndarray:
    """``np.percentile(a, q, axis=0)`` (linear interpolation) of a float array without NaNs, the same values, from
    a sort along the axis (see :func:`median0`): between the sorted values at floor and ceil of (n - 1) q / 100,
    as NumPy's ``_lerp`` computes it (from the lower one when the weight is below 0.5, else from the upper)."""
    n = a.shape[0]
    if n == 0 or not np.issubdtype(a.dtype, np.floating):
        return np.percentile(a, q, axis=0)
    v = (n - 1) * (q / 100.0)
    lo = int(np.floor(v))
    hi = min(lo + 1, n - 1)
    g = float(v - lo)
    s = np.sort(a, axis=0)
    prev, nxt = s[lo], s[hi]
    diff = nxt - prev
    return nxt - diff * (1 - g) if g >= 0.5 else prev + diff * g


def nn_spread(s: np.ndarray, order: int, q: float = 50.0) -> np.ndarray:
    """(...) each pixel's spread of its samples ``s`` (n, C, ...): the ``q``-th percentile over the samples of each
    sample's distance to its ``order``-th nearest other sample (:func:`knn_distance`, max over channels)."""
    got = kernels.nn_spread(s, order, q)  # one compiled pass a pixel (bgsub.background.kernels), the same values
    if got is not None:
        return got
    d = knn_distance(s, order).max(axis=1)
    return median0(d) if q == 50.0 else percentile0(d, q)


SPREAD_RATIOS = {(20, 3, 6, 75.0): 1.1902551651000977, (20, 1, 6, 75.0): 0.7290701866149902}
# :func:`spread_ratio`'s simulation for the default samples (20, ``dynamics="nn"``'s statistic: the 6th nearest,
# the 75th percentile), colour and grey: the same values on the compiled and the NumPy path (checked by a test).
# Written down, as the simulation costs 70 ms of NumPy at every start of a process (the compiled kernels are
# still loading then), a fifth of the model's start on a 90-frame clip


@functools.lru_cache(maxsize=32)
def spread_ratio(n: int, channels: int, order: int, q: float = 50.0) -> float:
    """:func:`nn_spread` of ``n`` samples for unit Gaussian noise: dividing by it turns a pixel's spread into a
    noise level (sigma). Computed once by simulation (seeded, 20,000 pixels); the defaults' values are
    :data:`SPREAD_RATIOS`."""
    known = SPREAD_RATIOS.get((n, channels, order, float(q)))
    if known is not None:
        return known
    return _simulated_ratio(n, channels, order, q)


def _simulated_ratio(n: int, channels: int, order: int, q: float) -> float:
    """:func:`spread_ratio` by its simulation."""
    rng = np.random.default_rng(12345)
    s = rng.standard_normal((n, channels, 100, 200)).astype(np.float32)
    return float(np.median(nn_spread(s, order, q)))


def robust_spread(samples: np.ndarray, k: float, floor: float, clean: bool, fixed_floor: bool = False,
                  over: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Each pixel's noise level from its samples (n, C, h, w), as the static reference: 1.4826 x the median absolute
    deviation of the samples from their median (max over channels), floored at the frame's median of it and at
    ``floor``. With ``clean`` (the conservative pass, as the static reference's second pass) a sample more than
    k noise levels off the samples' median is an object that crossed the window, not a background mode: it is
    replaced by the median and the noise levels estimated again without it. With ``fixed_floor`` the floor is
    ``floor`` alone (some pixels of a frame, not the whole frame). ``over`` ((h, w) bool): the frame's median is
    taken over these pixels alone (those seen standing still: leaves that sweep across most of the frame would
    otherwise set every pixel's floor). Returns (samples, sigma (h, w), the floor)."""

    def frame_floor(mad: np.ndarray) -> float:
        if fixed_floor:
            return floor
        return max(floor, float(np.median(mad if over is None else mad[over])))

    def deviation(s: np.ndarray) -> np.ndarray:  # (n, ...) each sample's |s - med|, max over the channels
        d = np.abs(s - med[None])
        out = d[:, 0].copy()
        for c in range(1, d.shape[1]):  # (whole planes: NumPy's reduction over axis 1 is a slower strided pass)
            np.maximum(out, d[:, c], out=out)
        return out

    med = median0(samples)
    dev = deviation(samples)
    mad = median0(dev) * 1.4826
    low = frame_floor(mad)
    sigma = np.maximum(mad, low).astype(np.float32)
    if clean:
        off = dev > k * sigma[None]  # (n, h, w)
        same = samples.dtype == np.float32  # (then the deviations below are those of the new samples)
        samples = np.where(off[:, None], med[None], samples).astype(np.float32, copy=False)
        # the deviations again: a replaced sample is the median in every channel (|m - m| = 0), the others are
        # unchanged (float32 samples): the same values as taking them from the new samples, at a third of the cost
        mad = median0(np.where(off, np.float32(0.0), dev) if same else deviation(samples)) * 1.4826
        low = frame_floor(mad)
        sigma = np.maximum(mad, low).astype(np.float32)
    return samples, sigma, low
