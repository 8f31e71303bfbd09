"""Frames at the background model's working size: area averages of the full-size frames, in grey levels, and
(for the texture channel) their texture, from one pass over the full-size frames."""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from bgsub.arrays import float32_of
from bgsub.background.kernels import grey_texture
from bgsub.background.texture import texture_of, texture_size


def to_working(frames, size: tuple[int, int]) -> np.ndarray:
    """(T, C, H, W) float in [0, 1] (a NumPy array or a tensor) -> (T, C, h, w) float32 grey levels (0..255) at
    ``size`` (area average)."""
    x = float32_of(frames)
    T, C, H, W = x.shape
    if (H, W) == tuple(size):
        return x * np.float32(255.0)
    return area_resized(x.reshape(T * C, H, W), size).reshape(T, C, *size) * np.float32(255.0)


def area_resized(planes: np.ndarray, size: tuple[int, int], out: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, H, W) float32 planes -> (N, h, w) area averages (cv2.INTER_AREA). When h and w divide H and W (an
    integer factor: every output pixel averages its own block, OpenCV's fast area path), the planes are resized
    as one tall image in one call, the same values; otherwise plane by plane. ``out``: a C-contiguous float32
    (N, h, w) array to write into (returned)."""
    N, H, W = planes.shape
    h, w = size
    if out is None:
        out = np.empty((N, h, w), np.float32)
    if N > 1 and H % h == 0 and W % w == 0 and planes.dtype == np.float32 and planes.flags.c_contiguous:
        cv2.resize(planes.reshape(N * H, W), (w, N * h), dst=out.reshape(N * h, w), interpolation=cv2.INTER_AREA)
        return out
    for i in range(N):
        cv2.resize(planes[i], (w, h), dst=out[i], interpolation=cv2.INTER_AREA)
    return out


def channel_mean(x: np.ndarray) -> np.ndarray:
    """``x.mean(axis=1)`` of (T, C, h, w) float32 frames, the same values: the channels added in order, then divided
    by the count as np.mean does (a true division by an intp, cast back), without NumPy's strided reduction over the
    outer axis (half the time)."""
    C = x.shape[1]
    if C == 1 or x.dtype != np.float32:
        return x.mean(axis=1)
    g = np.add(x[:, 0], x[:, 1])
    for c in range(2, C):
        np.add(g, x[:, c], out=g)
    return np.true_divide(g, np.intp(C), out=g, casting="unsafe")


def working_and_texture(frames, size: tuple[int, int], region: int = 1
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(T, C, H, W) in [0, 1] -> the frames at the working ``size`` (T, C, h, w) and their texture (T, h, w),
    both grey levels, from one pass over the full-size frames: area-averaged to the texture size first (where the
    texture is measured), then from there to the working size (an area average of area averages). ``region``
    (odd): the texture is then box-averaged over ``region`` x ``region`` working pixels (borders reflected). (In
    one call for all the frames: converting the initialisation window 8 frames at a time touched more fresh
    memory, 73,000 page faults against 65,000 for a 90-frame clip, at no lower peak. Inside the call, frames
    measured above the working size go one at a time through one frame's scratch: :func:`_frame_by_frame`.)"""
    H, W = frames.shape[-2:]
    ts = tuple(texture_size((H, W), size))
    size = tuple(size)
    T = frames.shape[0]
    if ts != size and T > 1:  # measured a frame at a time (below): the same values
        return _frame_by_frame(float32_of(frames), size, ts, region)
    xt = to_working(frames, ts)  # (T, C, th, tw)
    full = grey_texture(xt)  # the grey's texture at the texture size in one compiled pass (the same values), or:
    if full is None:
        tex = texture_of(channel_mean(xt), size)
    elif ts == size:
        tex = full
    else:  # area-averaged to the working size, as texture_of does
        tex = area_resized(full, size)
    box_region(tex, region)
    if ts == size:
        return xt, tex
    T, C = xt.shape[:2]
    return area_resized(xt.reshape(T * C, *ts), size).reshape(T, C, *size), tex


def box_region(tex: np.ndarray, region: int) -> None:
    """The texture (T, h, w) box-averaged over ``region`` x ``region`` pixels in place (borders reflected)."""
    if region > 1:
        for t in range(tex.shape[0]):
            cv2.blur(tex[t], (region, region), dst=tex[t], borderType=cv2.BORDER_REFLECT)


def _frame_by_frame(x: np.ndarray, size: tuple[int, int], ts: tuple[int, int], region: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`working_and_texture` of float32 frames ``x`` (T, C, H, W) whose texture size ``ts`` is larger than
    the working ``size``, one frame at a time through scratch buffers of one frame at the texture size: the frame
    in grey levels is read back by the texture and the area average while it is still in the cache, and no
    frame-sized array is allocated per call. Every step works per frame and per plane (the products, the texture
    kernel's loop over the frames, OpenCV's area average of each plane), so the values are those of the whole-array
    path. Measured in the segment run on cdnet-highway (320 x 240 -> 160 x 120, 8 frames a call, 1700 frames and
    the 100-frame window; the reading thread's CPU time in this function): 1.0-1.4 s for whole chunks, 0.55-0.59 s
    this way (the chunk-sized grey-level copy alone, 7.4 MB a call, cost about 0.7 s: fresh memory, read back
    from outside the caches by the texture and again by the area average)."""
    T, C, H, W = x.shape
    out = np.empty((T, C) + size, np.float32)
    tex = np.empty((T,) + size, np.float32)
    direct = (H, W) == ts  # at the texture size already: the frame in grey levels is x * 255, into the scratch
    xt = np.empty((1, C) + ts, np.float32) if direct else None
    full = np.empty((1,) + ts, np.float32)
    for t in range(T):
        if direct:
            np.multiply(x[t], np.float32(255.0), out=xt[0])  # to_working's product
        else:
            xt = to_working(x[t : t + 1], ts)
        g = grey_texture(xt, out=full)
        if g is None:
            tex[t] = texture_of(channel_mean(xt), size)[0]
        else:
            area_resized(g, size, out=tex[t : t + 1])
        area_resized(xt.reshape(C, *ts), size, out=out[t])
    box_region(tex, region)
    return out, tex
