"""From the foreground S to masks: Otsu's threshold on |S| (scikit-image does the histogram search).

Policy for degenerate input (on purpose, not a crash): a constant |S| map has no threshold to find, and nothing
in it is foreground. Pixels are foreground where |S| is strictly above the threshold, which is the upper edge of
the last histogram bin of Otsu's background class (so a pixel is never on the other side of the split than its
histogram bin).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from bgsub.arrays import like, numpy_of
from bgsub.errors import BgsubError

SCOPES = ("frame", "clip")


def magnitude(foreground):
    """|S| reduced over channels by the maximum: (T, C, H, W) -> (T, 1, H, W) float32 on the CPU (a NumPy array
    for a NumPy S)."""
    if foreground.ndim != 4:
        raise ValueError(f"expected (T, C, H, W), got shape {tuple(foreground.shape)}")
    if isinstance(foreground, np.ndarray):
        return np.abs(foreground).max(axis=1, keepdims=True).astype(np.float32)
    return foreground.detach().abs().amax(dim=1, keepdim=True).float().cpu()


def threshold_otsu(*args, **kwargs) -> float:
    """scikit-image's ``threshold_otsu``, imported on first use (0.17 s of scipy and scikit-image at start-up that
    the networks with a mask head, which never threshold |S|, do not need)."""
    from skimage.filters import threshold_otsu as otsu

    return otsu(*args, **kwargs)


def otsu_threshold(values, *, nbins: int = 256) -> float:
    """Otsu's threshold of ``values`` (any shape; a NumPy array or a tensor); ``inf`` if they are all equal (nothing
    is foreground)."""
    values = numpy_of(values)
    v = np.asarray(values, dtype=np.float32).ravel()
    if v.size == 0:
        raise ValueError("otsu_threshold of an empty array")
    lo, hi = float(v.min()), float(v.max())
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise BgsubError("foreground contains NaN or infinite values")
    if hi <= lo:
        return float("inf")
    # scikit-image returns the centre of the last background bin; values in the upper half of that bin belong to
    # the background class of the histogram split too, so the threshold is that bin's upper edge.
    return float(threshold_otsu(v, nbins=nbins)) + (hi - lo) / nbins / 2


class HistogramOtsu:
    """Otsu over a whole video seen in pieces (``scope="clip"`` on a streamed run): accumulate a histogram of |S|
    on a fixed range, then :meth:`threshold`. Values above ``vmax`` fall in the last bin."""

    def __init__(self, *, vmax: float = 1.0, nbins: int = 1024):
        self.edges = np.linspace(0.0, vmax, nbins + 1)
        self.counts = np.zeros(nbins, dtype=np.int64)

    def update(self, mag) -> None:
        v = np.clip(np.asarray(numpy_of(mag), dtype=np.float64).ravel(), self.edges[0], self.edges[-1])
        self.counts += np.histogram(v, bins=self.edges)[0]

    def threshold(self) -> float:
        nz = np.nonzero(self.counts)[0]
        if nz.size < 2:
            return float("inf")
        centers = (self.edges[:-1] + self.edges[1:]) / 2
        # upper edge of the last background bin (see otsu_threshold)
        return float(threshold_otsu(hist=(self.counts, centers))) + (self.edges[1] - self.edges[0]) / 2


def check_median(size, name: str = "median filter size") -> None:
    """Raise a one-line error unless ``size`` is a median filter's: an odd number of pixels, or 0 (or 1) for none.
    ``name``: what the message calls it (a config key)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or (size > 1 and size % 2 == 0):
        raise BgsubError(f"{name} must be an odd number of pixels (or 0 for none), got {size!r}")


def median_filter(masks, size: int):
    """Median filter each (T, 1, H, W) bool mask with an odd ``size`` x ``size`` window (0 or 1 = off; the frame's
    edge pixels repeated beyond it, as OpenCV's median blur); the kind of ``masks`` (a NumPy array or a tensor).
    The median of a window of 0s and 1s is 1 where more than half of it is: a box sum compared with half the
    window's count, the same values as ``cv2.medianBlur`` at any size, 0.06 ms a 320 x 240 mask at any size (OpenCV:
    0.16 ms at 5 x 5, 1.9 ms above, where it changes algorithm), 11 ms a 4K mask (OpenCV 80; one thread)."""
    check_median(size)
    if size in (0, 1):
        return masks
    import cv2

    a = numpy_of(masks[:, 0])
    out = np.empty(a.shape, bool)
    depth = cv2.CV_16U if size * size <= 65535 else cv2.CV_32S
    half = size * size // 2
    for t in range(a.shape[0]):
        counts = cv2.boxFilter(a[t].astype(np.uint8), depth, (size, size), normalize=False,
                               borderType=cv2.BORDER_REPLICATE)
        np.greater(counts, half, out=out[t])
    return like(out[:, None], masks)


def fill_holes(masks):
    """Each (T, 1, H, W) bool mask with its holes filled: the background pixels that no 4-connected path of
    background pixels joins to the frame's edge become foreground (a region's enclosed holes are part of it); the
    kind of ``masks`` (a NumPy array or a tensor). A flood fill of the background from outside the frame (one
    pixel of background around it), per frame."""
    import cv2

    a = numpy_of(masks[:, 0])
    T, h, w = a.shape
    out = np.empty(a.shape, bool)
    pad = np.empty((h + 2, w + 2), np.uint8)
    seed_mask = np.empty((h + 4, w + 4), np.uint8)
    for t in range(T):
        pad[:] = 0  # (the last frame's fill marked the border too)
        pad[1:-1, 1:-1] = a[t]
        seed_mask[:] = 0
        cv2.floodFill(pad, seed_mask, (0, 0), 1)  # the background reached from outside becomes 1 as well
        np.logical_or(a[t], pad[1:-1, 1:-1] == 0, out=out[t])
    return like(out[:, None], masks)


def clean(masks, median: int, fill: bool):
    """The masks' last step: :func:`median_filter` by ``median``, then with ``fill`` :func:`fill_holes`."""
    masks = median_filter(masks, median)
    return fill_holes(masks) if fill else masks


def masks_from_foreground(foreground, *, scope: str = "frame", median: int = 0, threshold: Optional[float] = None):
    """Binary masks from S.

    foreground: (T, C, H, W) signed S. scope: ``"frame"`` (one Otsu threshold per frame, the default) or
    ``"clip"`` (one for all T frames). ``threshold`` (optional) skips Otsu and uses that value.
    Returns (T, 1, H, W) bool; True = foreground (|S| > threshold).
    """
    if scope not in SCOPES:
        raise BgsubError(f"threshold scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    mag = magnitude(foreground)
    if threshold is not None:
        masks = mag > threshold
    elif scope == "clip":
        masks = mag > otsu_threshold(mag)
    else:
        masks = like(np.stack([numpy_of(m) > otsu_threshold(m) for m in mag]), mag)
    return median_filter(masks, median)
