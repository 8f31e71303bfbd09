"""The I2R "airport" (Hall) sequence of Li, Huang, Gu and Tian (IEEE TIP 2004), the paper's Section IV data.

Layout as distributed (one folder; the ground truth may also sit in a sub-folder)::

    HALL/airport1000.bmp ... HALL/airport4583.bmp      3,584 colour frames, 176 x 144 (W x H)
    HALL/gt_new_airport1656.bmp ...                    ground truth for 20 frames (white = foreground)

Where to get it: the I2R background-subtraction data set ("Statistical modeling of complex backgrounds for
foreground object detection", Institute for Infocomm Research, Singapore); it was published on the authors' I2R
page (perception.i2r.a-star.edu.sg/bk_model/bk_index.html); if that page is gone, look for copies of the "I2R"
(Li et al. 2004) data set, sequence "Hall", files airportNNNN.bmp. It is not redistributable with bgsub.

Frames and ground truth are paired by the integer in their names (``airport2926.bmp`` <-> ``gt_new_airport2926.bmp``).
The frames folder cannot be handed to bgsub's generic folder reader when the ground truth lies beside the frames
(two files would carry the same number), so :func:`read_frames` reads the ``airport*`` files only, with the same
preprocessing as :func:`bgsub.io.frames.iter_frames` (grayscale = OpenCV's luminance, [0, 1]).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch

from bgsub.errors import BgsubError
from bgsub.io.frames import Chunk
from bgsub.io.layout import read_labels

FIRST, LAST = 1000, 4583
LABELLED = (1656, 2180, 2289, 2810, 2823, 2926, 2961, 3049, 3409, 3434,
            3800, 3872, 3960, 4048, 4257, 4264, 4333, 4348, 4388, 4432)
TEST_FRAME = 2926
WHERE = ("the I2R data set of Li et al. (IEEE TIP 2004), sequence 'Hall' / 'airport'; see the bgsub.io.i2r "
         "docstring for where to get it")

_FRAME = re.compile(r"^airport(\d+)\.bmp$", re.IGNORECASE)
_GT = re.compile(r"^gt_new_airport(\d+)\.bmp$", re.IGNORECASE)


@dataclass
class I2RSequence:
    """Frame and ground-truth files of an I2R airport folder, by frame number."""

    folder: Path
    frames: dict[int, Path]
    truth: dict[int, Path]
    notes: list[str] = field(default_factory=list)

    @property
    def numbers(self) -> list[int]:
        return list(self.frames)


def find_i2r(folder: str | os.PathLike, *, labelled: Iterable[int] = LABELLED, strict: bool = False) -> I2RSequence:
    """Index ``folder`` (frames ``airportNNNN.bmp``; ground truth ``gt_new_airportNNNN.bmp`` beside them or in a
    sub-folder). Raises :class:`BgsubError` when there are no frames, or a labelled frame lacks its frame or its
    ground truth. ``strict=True`` also requires every frame FIRST..LAST (the full data set)."""
    root = Path(folder)
    if not root.is_dir():
        raise BgsubError(f"{root}: no such folder (expected {WHERE})")
    frames: dict[int, Path] = {}
    truth: dict[int, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            m = _FRAME.match(name)
            g = _GT.match(name)
            if m and Path(dirpath) == root:
                frames[int(m.group(1))] = Path(dirpath) / name
            elif g:
                n = int(g.group(1))
                if n in truth:
                    raise BgsubError(f"two ground-truth files for frame {n}: {truth[n]} and {Path(dirpath) / name}")
                truth[n] = Path(dirpath) / name
    if not frames:
        raise BgsubError(f"{root}: no airportNNNN.bmp frames (expected {WHERE})")
    frames = dict(sorted(frames.items()))
    truth = dict(sorted(truth.items()))
    wanted = list(labelled)
    no_frame = [n for n in wanted if n not in frames]
    if no_frame:
        raise BgsubError(f"{root}: labelled frame {no_frame[0]} missing (airport{no_frame[0]}.bmp)")
    no_gt = [n for n in wanted if n not in truth]
    if no_gt:
        raise BgsubError(f"{root}: ground truth for frame {no_gt[0]} missing (gt_new_airport{no_gt[0]}.bmp)")
    seq = I2RSequence(root, frames, {n: truth[n] for n in wanted})
    full = set(range(FIRST, LAST + 1))
    if strict and not full <= set(frames):
        gap = min(full - set(frames))
        raise BgsubError(f"{root}: frame {gap} missing (the full sequence is airport{FIRST}..{LAST}.bmp)")
    if set(frames) != full:
        seq.notes.append(f"{len(frames)} frames {min(frames)}..{max(frames)} (the full data set has "
                         f"{LAST - FIRST + 1}, {FIRST}..{LAST})")
    return seq


def read_frames(seq: I2RSequence, numbers: Iterable[int], *, grayscale: bool = True) -> Chunk:
    """The frames ``numbers`` as a :class:`Chunk` (T, C, H, W) float32 in [0, 1] (C = 1 with ``grayscale``)."""
    from bgsub.io.frames import _read_image

    nums = list(numbers)
    missing = [n for n in nums if n not in seq.frames]
    if missing:
        raise BgsubError(f"{seq.folder}: no frame {missing[0]}")
    if not nums:
        raise BgsubError("read_frames: no frame numbers given")
    arrs = [_read_image(seq.frames[n], grayscale=grayscale, scale=1.0) for n in nums]
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise BgsubError(f"{seq.folder}: frames of different sizes {sorted(shapes)}")
    return Chunk(nums, torch.from_numpy(np.stack(arrs)))


def read_truth(seq: I2RSequence, number: int) -> np.ndarray:
    """Ground truth of a labelled frame: (H, W) bool, True = foreground (> 127; a 0/1 image counts 1 as
    foreground)."""
    labels = read_labels(seq.truth[number])
    if labels.max() <= 1:
        return labels > 0
    return labels > 127


def window_around(seq: I2RSequence, number: int, size: int) -> list[int]:
    """``size`` consecutive frame numbers (in the folder's order) with ``number`` in the middle (shifted at the
    ends of the sequence): the RPCA window "of 50 images around" a test frame."""
    nums = seq.numbers
    if size > len(nums):
        raise BgsubError(f"{seq.folder}: a window of {size} frames, but only {len(nums)} frames")
    i = nums.index(number)
    start = min(max(0, i - size // 2), len(nums) - size)
    return nums[start : start + size]


def training_numbers(seq: I2RSequence, count: int, *, seed: int, exclude: Iterable[int] = LABELLED) -> list[int]:
    """``count`` frame numbers drawn at random (seeded) from the frames not in ``exclude``, sorted."""
    pool = [n for n in seq.numbers if n not in set(exclude)]
    if count > len(pool):
        raise BgsubError(f"{seq.folder}: {count} training frames wanted, only {len(pool)} unlabelled frames")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(pool), generator=g)[:count]
    return sorted(pool[i] for i in idx.tolist())
