"""Drawing helpers shared by the synthetic scenarios (:mod:`bgsub.scenarios`): rounding, seeds, sprites and their
placement, the sensor noise. Package-private (the underscore names are the scenarios' own vocabulary)."""

from __future__ import annotations

import math
import zlib
from typing import Optional

import numpy as np

from bgsub.scenarios.default import _background

Frame = tuple[int, np.ndarray, np.ndarray]


def _r(v: float) -> int:
    """Round half up (Python's round() rounds half to even)."""
    return int(math.floor(v + 0.5))


def _tag(name: str) -> int:
    return zlib.crc32(name.encode())


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    return ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0


def _window(y: int, x: int, h: int, w: int, H: int, W: int):
    """(frame slices, sprite slices) of a h x w sprite at (y, x), or None where it is outside the frame."""
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, H), min(x + w, W)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def _paint(img: np.ndarray, mask: np.ndarray, shape: np.ndarray, patch: np.ndarray, y: int, x: int) -> None:
    win = _window(y, x, *shape.shape, *mask.shape)
    if win is None:
        return
    fs, ss = win
    sm = shape[ss]
    img[fs][sm] = patch[ss][sm]
    mask[fs] |= sm


def _cross(n: int, a: int, b: int, start: float, end: float) -> Optional[int]:
    """Position at frame n of an object moving from ``start`` at frame a to ``end`` at frame b (None outside)."""
    if n < a or n > b:
        return None
    return _r(start + (end - start) * (n - a) / max(b - a, 1))


def _loop(n: int, x0: float, v: float, w: int, W: int) -> int:
    """Column at frame n of an object looping around the frame (as the default clip's objects do)."""
    return _r((x0 + v * (n - 1) + w) % (W + w) - w)


def _person_size(H: int, W: int) -> tuple[int, int]:
    return max(8, _r(0.38 * H)), max(4, _r(0.14 * min(H, W)))


def _car_size(H: int, W: int) -> tuple[int, int]:
    return max(3, _r(min(H, W) / 6)), max(5, _r(W / 4))


def _person(h: int, w: int, rng: np.random.Generator, top, bottom) -> tuple[np.ndarray, np.ndarray]:
    patch = np.empty((h, w, 3), np.float32)
    k = max(1, _r(0.45 * h))
    patch[:k], patch[k:] = top, bottom
    patch += 0.03 * rng.normal(0, 1, (h, w, 1)).astype(np.float32)
    return _ellipse(h, w), np.clip(patch, 0, 1)


def _flat(h: int, w: int, value) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float32), (h, w, 3))


def _finish(img: np.ndarray, noise: float, seed: int, n: int, tag: int) -> np.ndarray:
    if noise > 0:
        img = img + np.random.default_rng([seed, n, tag]).normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def _base(name: str, H: int, W: int, seed: int):
    """The scenario's random generator and the default clip's textured static background."""
    rng = np.random.default_rng([seed, _tag(name)])
    return rng, _background(H, W, rng)
