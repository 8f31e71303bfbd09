"""Pictures that show what the numbers mean: contact sheets of scored frames.

A contact sheet has, for each chosen frame, one row per method::

    input | ground truth | |S| | mask

- input: the frame in colour (as on disk);
- ground truth: white = positive, black = negative, grey = ignored (CDnet labels 85 and 170, pixels outside
  ROI.bmp, or any frame outside temporalROI is simply never chosen);
- |S|: the method's foreground magnitude as written by ``decompose_video(save_foreground=True)`` (``fg%06d.png``,
  scaled by its window's maximum); black when the run has none;
- mask: the method's ``bin%06d.png`` coloured against the ground truth: white = true positive, red = false
  positive, blue = missed (false negative), grey = ignored pixel, black = true negative.

Frames are chosen among the scored ground-truth frames that every run has a mask for: the range is split into
``count`` equal parts and in each the frame with the most positive pixels is taken (so the sheet shows objects,
spread over the sequence).

Two caption strips at the top say what the columns and colours are; frames smaller than 120 pixels high are
enlarged (nearest neighbour), larger than ``max_height`` shrunk. Functions return images (H, W, 3) uint8 in
OpenCV's BGR order; :func:`bgsub.io.masks.write_png` saves one (atomically).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from bgsub.errors import BgsubError
from bgsub.io.frames import iter_frames, numbered_files
from bgsub.io.layout import GroundTruth, find_ground_truth, read_labels, split_labels

GREY = 128
LABEL_H = 18  # pixels of the caption strip above each tile row
MIN_HEIGHT = 120  # smaller frames are enlarged to this height
COLUMNS = ("input", "ground truth", "|S|", "mask")
LEGEND_1 = "columns: input | ground truth (white fg, grey ignored) | |S| | mask"
LEGEND_2 = "mask: white = TP, red = FP, blue = FN (missed), grey = ignored"


def _bgr(gray: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def gt_panel(positive: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) bool maps -> BGR: white positive, black negative, grey ignored."""
    img = np.where(positive, 255, 0).astype(np.uint8)
    img[~valid] = GREY
    return _bgr(img)


def mask_panel(mask: np.ndarray, positive: Optional[np.ndarray] = None, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W) bool mask -> BGR; coloured against the ground truth when given (see the module docstring)."""
    if positive is None:
        return _bgr(np.where(mask, 255, 0).astype(np.uint8))
    img = np.zeros(mask.shape + (3,), np.uint8)
    img[mask & positive] = (255, 255, 255)
    img[mask & ~positive] = (0, 0, 255)  # red (BGR)
    img[~mask & positive] = (255, 96, 0)  # blue
    if valid is not None:
        img[~valid] = (GREY, GREY, GREY)
    return img


def _caption(width: int, text: str) -> np.ndarray:
    strip = np.full((LABEL_H, width, 3), 32, np.uint8)
    cv2.putText(strip, text, (4, LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (H, W) if needed (nearest for label-like images keeps them crisp)."""
    if img.shape[:2] == size:
        return img
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def choose_frames(truth: GroundTruth, candidates: Sequence[int], count: int) -> list[int]:
    """``count`` frame numbers among ``candidates`` spread over the range, each the one with most positives in
    its part (see the module docstring)."""
    cands = sorted(candidates)
    if count <= 0 or not cands:
        return []
    count = min(count, len(cands))
    parts = np.array_split(np.arange(len(cands)), count)
    chosen = []
    for part in parts:
        # Look at up to 40 evenly spaced frames of each part: enough to find objects, cheap on long sequences.
        idx = part[np.linspace(0, len(part) - 1, min(len(part), 40)).round().astype(int)]
        best, best_n = cands[idx[0]], -1
        for i in idx:
            n = cands[int(i)]
            pos, valid = split_labels(read_labels(truth.files[n]), truth.policy)
            if truth.roi is not None and truth.roi.shape == pos.shape:
                valid = valid & truth.roi
            k = int((pos & valid).sum())
            if k > best_n:
                best, best_n = n, k
        chosen.append(best)
    return sorted(set(chosen))


def contact_sheet(
    sequence: str | os.PathLike,
    runs: dict[str, str | os.PathLike],
    *,
    frames: Optional[Sequence[int]] = None,
    count: int = 3,
    max_height: int = 240,
) -> np.ndarray:
    """Contact sheet of a sequence (CDnet/UCSD layout folder) for ``runs`` = {method name: folder holding its
    ``bin%06d.png`` (and ``fg%06d.png``)}; ``frames`` (frame numbers) or ``count`` chosen ones.
    Tiles taller than ``max_height`` are shrunk. Returns a BGR uint8 image."""
    sequence = Path(sequence)
    if not runs:
        raise BgsubError("contact sheet: no runs to show")
    truth = find_ground_truth(None, sequence)
    masks = {m: numbered_files(Path(d), prefix="bin") for m, d in runs.items()}
    fgs = {m: numbered_files(Path(d), prefix="fg") for m, d in runs.items()}
    scored = [n for n in truth.scored_numbers() if all(n in mk for mk in masks.values())]
    if frames is None:
        frames = choose_frames(truth, scored, count)
    else:
        missing = [n for n in frames if n not in truth.files]
        if missing:
            raise BgsubError(f"contact sheet: frame {missing[0]} has no ground truth in {truth.folder}")
    if not frames:
        raise BgsubError(f"contact sheet: no scored frame of {sequence} has a mask from every run")
    inputs = dict(iter_frames(sequence, numbers=list(frames), grayscale=False))
    blocks = []
    for n in frames:
        labels = read_labels(truth.files[n])
        positive, valid = split_labels(labels, truth.policy)
        if truth.roi is not None and truth.roi.shape == labels.shape:
            valid = valid & truth.roi
        h, w = labels.shape
        entries = []
        for m in runs:
            pred = None
            if n in masks[m]:
                pred = read_labels(masks[m][n]) > 127
            fg = cv2.imread(str(fgs[m][n]), cv2.IMREAD_GRAYSCALE) if n in fgs[m] else None
            entries.append((m, fg, pred))
        image = inputs[n] if n in inputs else np.zeros((3, h, w), np.float32)
        blocks += frame_rows(image, positive, valid, entries, title=f"frame {n}", max_height=max_height)
    return stack(blocks)


def frame_rows(
    image: np.ndarray,
    positive: np.ndarray,
    valid: np.ndarray,
    entries: Sequence[tuple[str, Optional[np.ndarray], Optional[np.ndarray]]],
    *,
    title: str = "",
    max_height: int = 240,
) -> list[np.ndarray]:
    """One captioned row ``input | ground truth | |S| | mask`` per entry, for one frame.

    image: (C, H, W) float in [0, 1] (C = 1 or 3, RGB) or (H, W[, 3]) uint8 BGR; positive, valid: (H, W) bool
    ground truth; entries: ``(name, |S|, mask)`` with |S| as (H', W') uint8 (0..255) or float (scaled by its
    maximum) or None (black tile), and mask (H', W') bool or None (dark tile); other sizes are resized to the
    ground truth's. Returns BGR uint8 blocks for :func:`stack`.
    """
    h, w = positive.shape
    scale = min(1.0, max_height / h)
    if h * scale < MIN_HEIGHT:  # small frames are enlarged (pixels kept sharp) so the sheet stays readable
        scale = MIN_HEIGHT / h
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    frame_img = _as_bgr_uint8(image)
    if frame_img.shape[:2] != (h, w):
        frame_img = cv2.resize(frame_img, (w, h), interpolation=cv2.INTER_LINEAR)
    frame_img = cv2.resize(frame_img, (tw, th), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    gt_img = _fit(gt_panel(positive, valid), (th, tw))
    sep = np.full((th, 2, 3), 255, np.uint8)
    blocks = []
    for name, fg, pred in entries:
        if fg is None:
            fg_img = np.zeros((th, tw, 3), np.uint8)
        else:
            fg = np.asarray(fg)
            if fg.dtype != np.uint8:
                peak = float(fg.max()) if fg.size else 0.0
                fg = (np.clip(fg / peak if peak > 0 else fg * 0, 0, 1) * 255 + 0.5).astype(np.uint8)
            fg_img = cv2.resize(_bgr(fg), (tw, th), interpolation=cv2.INTER_AREA if tw < fg.shape[1] else cv2.INTER_NEAREST)
        if pred is None:
            mask_img = np.full((th, tw, 3), 48, np.uint8)
        else:
            pred = np.asarray(pred, dtype=bool)
            if pred.shape != (h, w):
                pred = _fit(pred.astype(np.uint8), (h, w)) > 0
            mask_img = _fit(mask_panel(pred, positive, valid), (th, tw))
        tiles = [frame_img, gt_img, fg_img, mask_img]
        row = np.concatenate([x for t in tiles for x in (t, sep)][:-1], axis=1)
        caption = _caption(row.shape[1], f"{title}  {name}".strip())
        blocks.append(np.concatenate([caption, row], axis=0))
    return blocks


def stack(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Blocks one above the other (padded to the widest, 2 dark pixels between)."""
    if not blocks:
        raise BgsubError("contact sheet: nothing to show")
    width = max(b.shape[1] for b in blocks)
    blocks = [_caption(width, LEGEND_1), _caption(width, LEGEND_2)] + list(blocks)
    return np.concatenate([np.pad(b, ((0, 2), (0, width - b.shape[1]), (0, 0))) for b in blocks], axis=0)


def _as_bgr_uint8(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8:  # (C, H, W) float in [0, 1], RGB
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)
        a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        if a.ndim == 3 and a.shape[2] == 3:
            return cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return _bgr(a) if a.ndim == 2 else a
