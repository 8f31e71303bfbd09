"""Frames, network inputs and masks cross the package as NumPy arrays or torch tensors.

The zero-shot ``segment`` path runs on NumPy arrays end to end (its network through OpenCV's DNN module,
:mod:`bgsub.models.dnn`), so that a process that only segments never imports torch (about a second of start-up, the
largest part of a short clip's job). Code that serves both kinds takes either, computes on NumPy, and hands back
the kind it was given (:func:`like`); torch is imported only where a tensor is made.
"""

from __future__ import annotations

import numpy as np


def numpy_of(x) -> np.ndarray:
    """``x`` as a NumPy array: itself, or a tensor's values (a CPU tensor's memory shared, not copied)."""
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy()


def float32_of(x) -> np.ndarray:
    """``x`` as a float32 NumPy array (no copy when it is one already)."""
    if isinstance(x, np.ndarray):
        return x if x.dtype == np.float32 else x.astype(np.float32)
    return x.detach().float().cpu().numpy()


def like(out: np.ndarray, ref):
    """``out`` as the kind of ``ref``: itself for a NumPy ``ref``, else a CPU tensor sharing its memory."""
    if isinstance(ref, np.ndarray):
        return out
    import torch

    return torch.from_numpy(out)


def concat(parts: list):
    """The parts (all NumPy arrays or all tensors) joined along the first axis."""
    if parts and isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import torch

    return torch.cat(parts)
