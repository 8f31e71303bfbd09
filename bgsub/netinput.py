"""How frames enter the U-Net: the channels the model sees, the reference network's working size and input, and
the memory layout and precision of a forward pass.

Pure helpers without state, shared by training (:mod:`bgsub.training`), polishing (:mod:`bgsub.polishing`) and
segmenting (:mod:`bgsub.methods.unet`), so that all three feed the network the same way. The input and the
resizing take NumPy arrays too (the zero-shot path, which never imports torch: :mod:`bgsub.arrays`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from bgsub.config import Config
from bgsub.errors import BgsubError

__all__ = ["cpu_has_bf16", "autocast", "memory_format", "input_channels", "network_size", "network_input",
           "upsample"]


# ---- devices and precision ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX). Elsewhere (e.g. AVX2-only CPUs) oneDNN
    emulates bf16 and a bf16 step costs about ten times an fp32 step (measured on an AVX2 AMD EPYC)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def autocast(device, enabled: bool):
    """bf16 autocast where the hardware does bf16 natively: CUDA GPUs that support it, CPUs with AVX512-BF16 or
    AMX (:func:`cpu_has_bf16`); else a no-op context (fp32)."""
    import torch

    if device.type == "cuda":
        enabled = enabled and torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        enabled = enabled and cpu_has_bf16()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def memory_format(channels_last: bool):
    import torch

    return torch.channels_last if channels_last else torch.contiguous_format


# ---- the network's input -----------------------------------------------------------------------------------


def input_channels(cfg: Config) -> int:
    """Channels of the frames the model sees: ``model.in_channels``, or from ``input.grayscale`` (1 grey, 3
    colour; unset grayscale = colour, the U-Net's own choice)."""
    want = 1 if cfg.input.grayscale else 3
    mc = cfg.model.in_channels
    if mc is not None and mc != want:
        raise BgsubError(f"model.in_channels is {mc} but input.grayscale={str(bool(cfg.input.grayscale)).lower()} "
                         f"gives {want}-channel frames")
    return want


def network_size(h: int, w: int, pixels: int) -> tuple[int, int]:
    """The frame size the reference network works at: (h, w) scaled by sqrt(pixels / (h * w)) when larger than
    the pixel budget ``pixels`` (0 = no budget)."""
    if pixels <= 0 or h * w <= pixels:
        return h, w
    s = math.sqrt(pixels / (h * w))
    return max(1, round(h * s)), max(1, round(w * s))


def network_input(z, pixels: int):
    """The reference network's input from residuals z (B, C, H, W) computed at native size: area-averaged down to
    the pixel budget (:func:`network_size`), then log(1 + z). z keeps its native-size noise units, so the
    energy's k means the same at every working size. A NumPy z gives a NumPy input (float32), a tensor a tensor."""
    H, W = z.shape[-2:]
    h, w = network_size(H, W, pixels)
    if isinstance(z, np.ndarray):
        z = np.ascontiguousarray(z, dtype=np.float32)
        if (h, w) != (H, W):
            z = _block_mean_np(z, H // h, W // w) if H % h == 0 and W % w == 0 else _area_np(z, (h, w))
        return np.log1p(z)
    import torch

    if (h, w) != (H, W):
        if H % h == 0 and W % w == 0:  # block means
            z = _block_mean(z, H // h, W // w)
        else:
            z = torch.nn.functional.interpolate(z, size=(h, w), mode="area")
    return torch.log1p(z)


def _block_mean_np(z: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """:func:`_block_mean` of a contiguous float32 NumPy z."""
    import cv2

    B, C, H, W = z.shape
    out = cv2.resize(z.reshape(B * C * H, W), (W // fx, B * C * H // fy), interpolation=cv2.INTER_AREA)
    return out.reshape(B, C, H // fy, W // fx)


def _area_np(z: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """torch's ``interpolate(mode="area")`` (adaptive average pooling: output pixel i averages input rows
    floor(i H / h) .. ceil((i + 1) H / h) - 1, the same for columns) of a NumPy z (B, C, H, W)."""
    B, C, H, W = z.shape
    h, w = size

    def pool(a: np.ndarray, axis: int, n: int, m: int) -> np.ndarray:
        c = np.concatenate([np.zeros_like(np.take(a, [0], axis=axis), dtype=np.float64),
                            np.cumsum(a, axis=axis, dtype=np.float64)], axis=axis)
        lo = (np.arange(m) * n) // m
        hi = -((-(np.arange(m) + 1) * n) // m)
        return (np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)) / (hi - lo).reshape(
            [-1 if d == axis else 1 for d in range(a.ndim)])

    return pool(pool(z, 2, H, h), 3, W, w).astype(np.float32)


def _block_mean(z, fy: int, fx: int):
    """Means of the fy x fx blocks of z (B, C, H, W), H and W multiples of the factors. On the CPU by OpenCV's
    area resize of all planes stacked into one tall image (blocks never straddle two planes, since H is a
    multiple of fy): 6x faster than torch's avg_pool2d here, which was a tenth of segment's time at 320x240."""
    import torch

    B, C, H, W = z.shape
    if z.device.type != "cpu" or z.dtype != torch.float32 or z.requires_grad:
        return torch.nn.functional.avg_pool2d(z, (fy, fx))
    return torch.from_numpy(_block_mean_np(z.contiguous().numpy(), fy, fx))


def upsample(x, size: tuple[int, int]):
    """x (B, C, h, w) resized to ``size`` by bilinear interpolation with half-pixel centres (torch's
    ``align_corners=False``, OpenCV's INTER_LINEAR: the same function). On the CPU by OpenCV plane by plane, 4x
    faster than torch's kernel here (the network's logits back to the frame size, for every frame segmented).
    A NumPy x (float32) gives a NumPy array, a tensor a tensor."""
    B, C, h, w = x.shape
    H, W = size
    if (h, w) == (H, W):
        return x
    if isinstance(x, np.ndarray):
        return _upsample_np(np.ascontiguousarray(x, dtype=np.float32), size)
    import torch

    if x.device.type != "cpu" or x.dtype != torch.float32 or x.requires_grad:
        return torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return torch.from_numpy(_upsample_np(x.contiguous().numpy(), size))


def _upsample_np(src: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    B, C, h, w = src.shape
    H, W = size
    planes = src.reshape(B * C, h, w)
    out = np.empty((B * C, H, W), np.float32)
    for i in range(B * C):
        cv2.resize(planes[i], (W, H), dst=out[i], interpolation=cv2.INTER_LINEAR)
    return out.reshape(B, C, H, W)
