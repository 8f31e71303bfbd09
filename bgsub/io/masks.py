"""Writing masks and images, one file per frame, atomically.

Naming (what ``bgsub evaluate`` pairs by): the mask of input frame number *k* is ``bin%06d.png`` % k, the CDnet
results convention: ``in000123.jpg`` -> ``bin000123.png``, UCSD ``frame_7.jpg`` -> ``bin000007.png`` (paired with
``gt0007.png`` by the integer, not the text). Optional images: ``fg%06d.png`` (|S| scaled to 0..255) and
``bg%06d.png`` (the background L).
Masks are 8-bit single-channel PNGs holding 0 (background) and 255 (foreground).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes
from bgsub.io.stabilize import unshift_mask


def mask_name(number: int, prefix: str = "bin") -> str:
    return f"{prefix}{number:06d}.png"


def _to_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a tensor (torch is not imported to ask: see bgsub.arrays)
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def write_png(path: str | os.PathLike, img: np.ndarray) -> Path:
    """Write an 8-bit image ((H, W) grey or (H, W, 3) BGR uint8) as PNG, atomically."""
    path = Path(path)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise BgsubError(f"{path}: could not encode PNG")
    return atomic_write_bytes(path, buf.tobytes())


def write_mask(
    out_dir: str | os.PathLike, number: int, mask, *, size: Optional[tuple[int, int]] = None, prefix: str = "bin",
    shift: Optional[tuple[int, int]] = None,
) -> Path:
    """Write one mask as ``out_dir/bin%06d.png``.

    mask: bool or 0/1 array, (H, W) or (1, H, W). ``size=(H, W)`` resizes it to the input's native resolution,
    e.g. after processing at ``scale=0.5``: bilinear interpolation of the 0/255 image, then > 127 (smooth
    boundaries instead of nearest-neighbour blocks; identical to nearest for an integer downscale).
    ``shift=(dy, dx)``: the mask was computed on the frame registered to the video's first (camera jitter,
    :mod:`bgsub.io.stabilize`): moved back by that many native pixels, 0 where the first frame's view ends.
    """
    m = _to_numpy(mask)
    if m.ndim == 3:
        m = m[0]
    if m.dtype == np.bool_:  # (> 0 on a bool array casts and compares: 40 us at 320 x 240, the byte view 3 us)
        img = m.view(np.uint8) * np.uint8(255)
    else:
        img = (m > 0).astype(np.uint8) * 255
    if size is not None and tuple(img.shape) != tuple(size):
        interp = cv2.INTER_LINEAR if size[0] > img.shape[0] else cv2.INTER_NEAREST
        img = cv2.resize(img, (size[1], size[0]), interpolation=interp)
        cv2.threshold(img, 127, 255, cv2.THRESH_BINARY, dst=img)  # > 127 -> 255 else 0; 4x np.where at 1080p
    if shift is not None:
        img = unshift_mask(img, *shift)
    return write_png(Path(out_dir) / mask_name(number, prefix), img)


def write_image(path: str | os.PathLike, image, *, normalize: bool = False) -> Path:
    """Write a float image (C, H, W) or (H, W) in [0, 1] as 8-bit PNG (RGB order for C = 3).

    ``normalize=True`` scales by the image's maximum first (for |S|, whose range is not [0, 1]).
    """
    a = _to_numpy(image).astype(np.float32)
    if a.ndim == 3:
        a = a.transpose(1, 2, 0)
        if a.shape[2] == 1:
            a = a[:, :, 0]
        else:
            a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    if normalize:
        peak = float(a.max()) if a.size else 0.0
        a = a / peak if peak > 0 else a * 0
    return write_png(path, (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
