"""The default clip of ``bgsub synth`` (the ``default`` scenario, and the scene the camera scenarios film).

The scene: a textured static background (smooth shading, a few flat "buildings" with hard edges, fine texture)
under a slow global illumination drift (the background is rank 2 over time: a gain and an offset that vary
slowly), plus Gaussian sensor noise; several moving objects of different sizes, speeds and contrasts, one of them
low contrast, one large and uniform, and one "pedestrian" that stops for a while in the middle of the clip.
Objects wrap around the frame edges. The ground truth marks exactly the pixels each object covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from bgsub.errors import BgsubError


@dataclass
class _Object:
    kind: str  # "rect" | "ellipse"
    h: int
    w: int
    x0: float
    y0: float
    vx: float
    vy: float
    value: tuple[float, float, float]  # RGB in [0, 1]
    texture: float  # amplitude of the object's own texture
    stop: tuple[int, int] | None = None  # frames [a, b) during which it stands still


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    import cv2  # (here: the CLI imports this package for its --help text)

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.45 + 0.12 * np.sin(2 * math.pi * xx / (w * 1.3) + 0.7) * np.cos(2 * math.pi * yy / (h * 1.7))
    base += 0.06 * np.sin(2 * math.pi * (xx + yy) / max(8.0, w / 5))
    for _ in range(4):
        bh, bw = int(rng.integers(h // 6, h // 2)), int(rng.integers(w // 8, w // 3))
        y, x = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        base[y : y + bh, x : x + bw] = float(rng.uniform(0.2, 0.75))
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    base += 0.04 * fine / (fine.std() + 1e-6)
    tint = np.array([1.0, 0.96, 0.9], dtype=np.float32)
    return np.clip(base[:, :, None] * tint, 0.05, 0.95)


def _objects(h: int, w: int, frames: int, rng: np.random.Generator) -> list[_Object]:
    s = min(h, w)
    span = frames / 3
    objs = [
        # a large, uniform, bright vehicle moving fast to the right
        _Object("rect", max(4, s // 4), max(6, w // 4), -w / 4, h * 0.55, (w * 1.25) / (span * 0.8), 0.0,
                (0.95, 0.93, 0.9), 0.0),
        # a small dark ellipse moving diagonally
        _Object("ellipse", max(3, s // 10), max(3, s // 10), w * 0.8, h * 0.2, -(w / span) * 0.9, (h / span) * 0.3,
                (0.08, 0.1, 0.12), 0.02),
        # a medium, low-contrast object moving slowly to the left
        _Object("rect", max(3, s // 7), max(4, s // 5), w * 0.6, h * 0.75, -(w / span) * 0.35, 0.0,
                (0.0, 0.0, 0.0), 0.03),
        # a pedestrian that walks, stands still for a fifth of the clip, and walks on
        _Object("ellipse", max(6, s // 4), max(3, s // 9), w * 0.05, h * 0.35, (w / span) * 0.4, 0.0,
                (0.85, 0.25, 0.2), 0.05, (int(frames * 0.4), int(frames * 0.6))),
    ]
    return objs


def _position(o: _Object, t: int, h: int, w: int) -> tuple[int, int]:
    moving_t = t
    if o.stop is not None:
        a, b = o.stop
        moving_t = t if t < a else a if t < b else t - (b - a)
    x = o.x0 + o.vx * moving_t
    y = o.y0 + o.vy * moving_t
    x = (x + o.w) % (w + o.w) - o.w
    y = (y + o.h) % (h + o.h) - o.h
    return int(round(y)), int(round(x))


def _shape_mask(o: _Object) -> np.ndarray:
    if o.kind == "rect":
        return np.ones((o.h, o.w), dtype=bool)
    yy, xx = np.mgrid[0 : o.h, 0 : o.w]
    cy, cx = (o.h - 1) / 2, (o.w - 1) / 2
    return ((yy - cy) / (o.h / 2)) ** 2 + ((xx - cx) / (o.w / 2)) ** 2 <= 1.0


def check_size(height: int, width: int, frames: int) -> None:
    if height < 16 or width < 16:
        raise BgsubError(f"synth: frame size must be at least 16x16, got {width}x{height}")
    if frames < 2:
        raise BgsubError(f"synth: need at least 2 frames, got {frames}")


def iter_synth(
    *, height: int = 120, width: int = 160, frames: int = 100, seed: int = 0, noise: float = 0.01
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(number, image, mask)`` for numbers 1..frames; image: (H, W, 3) float32 RGB in [0, 1];
    mask: (H, W) bool, True where an object is."""
    check_size(height, width, frames)
    rng = np.random.default_rng(seed)
    bg = _background(height, width, rng)
    objs = _objects(height, width, frames, rng)
    shapes = [_shape_mask(o) for o in objs]
    textures = [o.texture * rng.normal(0, 1, (o.h, o.w, 1)).astype(np.float32) for o in objs]
    for t in range(frames):
        frng = np.random.default_rng([seed, t])
        gain = 1.0 + 0.06 * math.sin(2 * math.pi * t / max(frames, 2) * 0.7)
        offset = 0.02 * math.sin(2 * math.pi * t / max(frames, 2) * 0.31 + 1.0)
        img = bg * gain + offset
        mask = np.zeros((height, width), dtype=bool)
        for o, shp, tex in zip(objs, shapes, textures):
            y, x = _position(o, t, height, width)
            y0, x0 = max(y, 0), max(x, 0)
            y1, x1 = min(y + o.h, height), min(x + o.w, width)
            if y1 <= y0 or x1 <= x0:
                continue
            sm = shp[y0 - y : y1 - y, x0 - x : x1 - x]
            if o.value == (0.0, 0.0, 0.0):  # low contrast: a little brighter than what it covers
                val = img[y0:y1, x0:x1] + 0.12
            else:
                val = np.broadcast_to(np.array(o.value, dtype=np.float32), (y1 - y0, x1 - x0, 3))
            val = val + tex[y0 - y : y1 - y, x0 - x : x1 - x]
            region = img[y0:y1, x0:x1]
            region[sm] = val[sm]
            mask[y0:y1, x0:x1] |= sm
        img = img + frng.normal(0, noise, img.shape).astype(np.float32)
        yield t + 1, np.clip(img, 0, 1).astype(np.float32), mask
