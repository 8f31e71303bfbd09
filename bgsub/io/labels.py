"""A few labelled frames for training: which frames to label, and their masks as training targets.

- :func:`pick_label_frames` chooses K frames spread over a video (one per equal share of it, seeded).
- :func:`load_label_masks` reads their ground truth as (target, valid) tensors under a named label policy
  (:mod:`bgsub.io.layout`): CDnet 255 positive, 0 and 50 negative, 85 and 170 ignored (valid = False), pixels
  outside ROI.bmp ignored too.

Scoring must leave these frames out (they were seen in training): ``[n for n in scored if n not in picked]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from bgsub.errors import BgsubError
from bgsub.io.layout import GroundTruth, find_ground_truth, read_labels, split_labels

__all__ = ["pick_label_frames", "LabelMasks", "load_label_masks"]


def pick_label_frames(frame_numbers: Sequence[int], k: int, seed: int) -> list[int]:
    """K frame numbers spread over the video: the sorted, de-duplicated ``frame_numbers`` are cut into K
    consecutive shares of (almost) equal length and one frame is drawn uniformly in each share, with a
    ``numpy.random.default_rng(seed)``. Returns them sorted. k = 0 gives []; k = len(frames) gives all of them;
    k > len(frames) or k < 0 is an error. Same inputs, same output.

    >>> pick_label_frames(range(1, 101), 4, seed=0)  # one in 1-25, one in 26-50, one in 51-75, one in 76-100
    [22, 41, 63, 82]
    """
    frames = sorted(set(int(n) for n in frame_numbers))
    if k < 0 or k > len(frames):
        raise BgsubError(f"cannot pick {k} label frames from {len(frames)} frames")
    if k == 0:
        return []
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, len(frames), k + 1).round().astype(int)
    return [frames[int(rng.integers(a, b))] for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class LabelMasks:
    """numbers: the K frame numbers, in order; target: (K, 1, H, W) bool, True = foreground; valid: (K, 1, H, W)
    bool, False = ignored (label 85/170 or another unknown value, outside the ROI)."""

    numbers: list[int]
    target: torch.Tensor
    valid: torch.Tensor


def _resize(mask: np.ndarray, size: Optional[tuple[int, int]]) -> np.ndarray:
    if size is None or tuple(mask.shape) == tuple(size):
        return mask
    import cv2

    return cv2.resize(mask.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def load_label_masks(
    gt: GroundTruth | str | os.PathLike, numbers: Sequence[int], *, size: Optional[tuple[int, int]] = None,
    policy: Optional[str] = None,
) -> LabelMasks:
    """Ground truth of frames ``numbers`` as training targets.

    gt: a :class:`~bgsub.io.layout.GroundTruth` or a path (a CDnet-style sequence folder, its ``groundtruth/``,
    or a plain mask folder; resolved by :func:`~bgsub.io.layout.find_ground_truth`, so a sequence gets the
    ``cdnet`` policy and its ROI). size: (H, W) to bring the masks to the processing resolution (nearest
    neighbour, on purpose and only when asked; None = the files' size, which must then all agree).
    policy: force a label policy. A frame without a ground-truth file is an error naming it.
    """
    if not isinstance(gt, GroundTruth):
        gt = find_ground_truth(Path(gt), policy=policy)
    pol = policy or gt.policy
    targets, valids = [], []
    for n in numbers:
        path = gt.files.get(int(n))
        if path is None:
            raise BgsubError(f"{gt.folder}: no ground truth for frame {n}")
        labels = read_labels(path)
        pos, valid = split_labels(labels, pol, where=str(path))
        if gt.roi is not None:
            if gt.roi.shape != labels.shape:
                raise BgsubError(f"{gt.roi_path}: ROI is {gt.roi.shape}, ground truth {path.name} is {labels.shape}")
            valid = valid & gt.roi
        targets.append(_resize(pos, size))
        valids.append(_resize(valid, size))
    if len({t.shape for t in targets}) > 1:
        raise BgsubError(f"{gt.folder}: ground-truth masks differ in size; pass size=(H, W)")
    if not targets:
        h, w = size if size is not None else (0, 0)
        empty = torch.zeros(0, 1, h, w, dtype=torch.bool)
        return LabelMasks([], empty, empty.clone())
    return LabelMasks([int(n) for n in numbers], torch.from_numpy(np.stack(targets))[:, None],
                      torch.from_numpy(np.stack(valids))[:, None])
