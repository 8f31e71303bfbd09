"""Frames at the background model's working size: area averages of the full-size frames, in grey levels, and
(for the texture channel) their texture, from one pass over the full-size frames."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from bgsub.background.texture import texture_of, texture_size


def to_working(frames: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(T, C, H, W) float in [0, 1] -> (T, C, h, w) float32 grey levels (0..255) at ``size`` (area average)."""
    x = frames.detach().float().cpu().numpy()
    T, C, H, W = x.shape
    if (H, W) == tuple(size):
        return x * np.float32(255.0)
    h, w = size
    planes = x.reshape(T * C, H, W)
    out = np.empty((T * C, h, w), np.float32)
    for i in range(T * C):
        cv2.resize(planes[i], (w, h), dst=out[i], interpolation=cv2.INTER_AREA)
    return out.reshape(T, C, h, w) * np.float32(255.0)


def working_and_texture(frames: torch.Tensor, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(T, C, H, W) in [0, 1] -> the frames at the working ``size`` (T, C, h, w) and their texture (T, h, w),
    both grey levels, from one pass over the full-size frames: area-averaged to the texture size first (where the
    texture is measured), then from there to the working size (an area average of area averages)."""
    H, W = frames.shape[-2:]
    ts = texture_size((H, W), size)
    xt = to_working(frames, ts)  # (T, C, th, tw)
    tex = texture_of(xt.mean(axis=1), size)
    if ts == tuple(size):
        return xt, tex
    T, C = xt.shape[:2]
    h, w = size
    planes = xt.reshape(T * C, *ts)
    x = np.empty((T * C, h, w), np.float32)
    for i in range(T * C):
        cv2.resize(planes[i], (w, h), dst=x[i], interpolation=cv2.INTER_AREA)
    return x.reshape(T, C, h, w), tex
