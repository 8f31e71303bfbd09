"""A texture cue for the sample model: how much the image varies inside each working pixel.

The sample model compares colours at its working size (area averages of the frames: averaging m pixels divides
the noise by sqrt(m)). Averaging also removes what varies inside a working pixel: a striped shirt whose mean
matches the wall, a dark coat's folds in a dark corridor. The texture map keeps that: the mean absolute
difference between neighbouring pixels (grey levels; grey = mean of the channels), measured at up to twice the
working resolution and area-averaged to the working size. A global light change scales it (a gain) but does not
shift it (an offset cancels in the differences). The sample model keeps samples of it beside the colour samples
and treats it as one more channel: a pixel is background when its colour and its texture each match at least
``matches`` samples (LOBSTER and SuBSENSE's colour + local binary similarity patterns, St-Charles & Bilodeau
2014-2015, in a form that averages to the working size).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from bgsub.netinput import network_size


def texture_size(native: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The resolution at which texture is measured: the frames' own, at most twice the working size per side."""
    H, W = native
    h, w = size
    if H <= 2 * h and W <= 2 * w:
        return H, W
    return network_size(H, W, 4 * h * w)


def texture_map(frames: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, C, H, W) in [0, 1] -> (T, h, w) float32: the mean |difference| of horizontally and vertically adjacent
    grey pixels (grey levels 0..255, the two directions summed), measured at :func:`texture_size` and
    area-averaged to ``size``."""
    x = frames.detach().float().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames, np.float32)
    T, C, H, W = x.shape
    th, tw = texture_size((H, W), size)
    h, w = size
    out = np.empty((T, h, w), np.float32)
    g = np.empty((th, tw), np.float32)
    for t in range(T):
        grey = x[t].mean(axis=0) * np.float32(255.0)
        if (th, tw) != (H, W):
            grey = cv2.resize(grey, (tw, th), interpolation=cv2.INTER_AREA)
        g[:] = 0
        d = np.abs(np.diff(grey, axis=1))  # (th, tw - 1): split each difference between its two pixels
        g[:, 1:] += 0.5 * d
        g[:, :-1] += 0.5 * d
        d = np.abs(np.diff(grey, axis=0))
        g[1:] += 0.5 * d
        g[:-1] += 0.5 * d
        out[t] = g if (th, tw) == (h, w) else cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA)
    return out
