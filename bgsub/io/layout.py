"""Dataset layouts and ground-truth label policies.

CDnet-style sequence folder (CDnet 2014 and the UCSD set as shipped in ``shared/data``)::

    SEQ/input/in000001.jpg ...   (UCSD: SEQ/in/frame_1.jpg ..., numbers not zero padded)
    SEQ/groundtruth/gt000001.png ...
    SEQ/ROI.bmp                  (white = scored; optional: without it the whole frame is scored)
    SEQ/temporalROI.txt          ("first last", 1-based inclusive frame numbers; optional: without it every
                                  frame with ground truth is scored)

Label policies (named, so which labels count never depends on which branch fires first):

- ``cdnet``: 255 positive; 0 and 50 (hard shadow) negative; 85 (outside ROI) and 170 (unknown motion) ignored.
  Any other value is ignored too, and reported as a warning.
- ``binary``: > 127 positive, everything else negative, nothing ignored.

Images are read as *labels*: palette images (CDnet's PNGs and ROI.bmp are palette images) are mapped through
their palette when the palette is grey (so CDnet's ROI.bmp, whose index 0 is white, reads as 255), and read as
palette indices when the palette has colours; RGB images with equal channels are read as one channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from bgsub.errors import BgsubError
from bgsub.io.frames import numbered_files

log = logging.getLogger("bgsub")

POLICIES = ("cdnet", "binary")
CDNET_POSITIVE = (255,)
CDNET_NEGATIVE = (0, 50)
CDNET_IGNORED = (85, 170)


def read_labels(path: Path) -> np.ndarray:
    """Read an image as a (H, W) uint8 label map (see the module docstring for palette handling)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                idx = np.asarray(im)
                pal = np.asarray(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
                if len(pal) and (pal[:, 0] == pal[:, 1]).all() and (pal[:, 1] == pal[:, 2]).all():
                    lut = np.zeros(256, dtype=np.uint8)
                    lut[: len(pal)] = pal[:, 0]
                    return lut[idx]
                return idx.astype(np.uint8)
            if im.mode in ("L", "1"):
                return np.asarray(im.convert("L"))
            if im.mode in ("I;16", "I;16B", "I", "F"):
                a = np.asarray(im)
                return np.clip(a, 0, 255).astype(np.uint8)
            a = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BgsubError(f"{path}: unreadable image ({exc.__class__.__name__})") from None
    if (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 1] == a[:, :, 2]).all():
        return np.ascontiguousarray(a[:, :, 0])
    return a.max(axis=2)  # a coloured label image: any colour above 127 in some channel counts


def split_labels(labels: np.ndarray, policy: str, *, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Label map -> (positive, valid) bool maps under ``policy``."""
    if policy == "binary":
        return labels > 127, np.ones(labels.shape, dtype=bool)
    if policy == "cdnet":
        positive = labels == 255
        negative = (labels == 0) | (labels == 50)
        valid = positive | negative
        odd = ~(valid | (labels == 85) | (labels == 170))
        if odd.any():
            vals = sorted(set(np.unique(labels[odd]).tolist()))[:5]
            log.warning("%s: %d pixels with labels %s outside the CDnet set, ignored", where, int(odd.sum()), vals)
        return positive, valid
    raise BgsubError(f"unknown label policy {policy!r} (valid: {', '.join(POLICIES)})")


@dataclass
class GroundTruth:
    """Where the ground truth of a run lives and how to score it."""

    folder: Path
    files: dict[int, Path]
    policy: str
    roi: Optional[np.ndarray] = None  # (H, W) bool, True = scored
    roi_path: Optional[Path] = None
    temporal: Optional[tuple[int, int]] = None  # inclusive frame range
    sequence: Optional[Path] = None
    notes: list[str] = field(default_factory=list)

    def scored_numbers(self) -> list[int]:
        nums = list(self.files)
        if self.temporal is not None:
            a, b = self.temporal
            nums = [n for n in nums if a <= n <= b]
        return nums


FRAME_FOLDERS = ("input", "in")


def is_sequence_dir(path: Path) -> bool:
    """A CDnet-style sequence folder: has ``groundtruth/`` and ``temporalROI.txt``, ``ROI.bmp`` or a folder of
    frames (``input/`` or ``in/``). Without ``temporalROI.txt`` every frame with ground truth is scored; without
    ``ROI.bmp`` the whole frame is (the layout of other public data sets)."""
    return (path / "groundtruth").is_dir() and (
        (path / "temporalROI.txt").is_file() or (path / "ROI.bmp").is_file()
        or any((path / sub).is_dir() for sub in FRAME_FOLDERS))


def skip_reason(path: Path) -> Optional[str]:
    """Why a folder that looks like a sequence (it has ``groundtruth/`` or a folder of frames) is not one a
    benchmark can score; None for a usable sequence and for folders that do not look like one at all."""
    gt = (path / "groundtruth").is_dir()
    frames = [sub for sub in FRAME_FOLDERS if (path / sub).is_dir()]
    if gt and not frames:
        return "it has groundtruth/ but no folder of frames (input/ or in/)"
    if frames and not gt and ((path / "ROI.bmp").is_file() or (path / "temporalROI.txt").is_file()):
        return f"it has {frames[0]}/ but no groundtruth/ folder"
    return None


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"


def check_sequence(seq: Path) -> None:
    """Check a sequence folder's layout once, before any method runs: frames readable, ``temporalROI.txt``
    well formed, ``ROI.bmp`` and the ground truth readable and of the frames' size. Raises :class:`BgsubError`
    naming the file and the fix."""
    from bgsub.io.frames import probe

    info = probe(seq)
    frames = f"{info.width}x{info.height}"
    troi = seq / "temporalROI.txt"
    if troi.is_file():
        read_temporal_roi(troi)
    roi = seq / "ROI.bmp"
    if roi.is_file():
        r = read_labels(roi)
        if r.shape != (info.height, info.width):
            raise BgsubError(f"{roi}: is {_size(r)} but the frames in {info.path} are {frames}; resize ROI.bmp to "
                             f"{frames} (white = scored), or delete it to score whole frames")
    files = numbered_files(seq / "groundtruth")
    if not files:
        raise BgsubError(f"{seq / 'groundtruth'}: no numbered image files")
    first = next(iter(files.values()))
    g = read_labels(first)
    if g.shape != (info.height, info.width):
        raise BgsubError(f"{first}: ground truth is {_size(g)} but the frames in {info.path} are {frames}; the "
                         "masks must have the frames' size")


def check_sequences(sequences: list[tuple[str, Path]]) -> None:
    """:func:`check_sequence` on every ``(name, folder)`` (what ``bgsub benchmark`` runs before any method)."""
    for _, seq in sequences:
        check_sequence(seq)


def read_temporal_roi(path: Path) -> tuple[int, int]:
    try:
        parts = path.read_text().split()
    except (OSError, UnicodeDecodeError):
        raise BgsubError(f"{path}: expected two frame numbers 'first last'") from None
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise BgsubError(f"{path}: expected two frame numbers 'first last', got {' '.join(parts)[:60]!r}")
    a, b = int(parts[0]), int(parts[1])
    if b < a:
        raise BgsubError(f"{path}: empty range {a}..{b}")
    return a, b


def find_ground_truth(gt: Optional[Path], cdnet: Optional[Path] = None, policy: Optional[str] = None) -> GroundTruth:
    """Resolve ``--gt`` / ``--cdnet`` into a :class:`GroundTruth`.

    - ``cdnet=SEQ``: CDnet scoring with ``SEQ/groundtruth``, ``SEQ/ROI.bmp`` and ``SEQ/temporalROI.txt``
      (each optional but the ground truth); ``gt`` may still name another ground-truth folder.
    - ``gt`` that is itself a sequence folder, or the ``groundtruth/`` folder of one: the same, detected.
    - otherwise: a plain folder of masks scored with the ``binary`` policy.
    ``policy`` forces a label policy.
    """
    seq: Optional[Path] = None
    if cdnet is not None:
        if not cdnet.is_dir():
            raise BgsubError(f"{cdnet}: no such sequence folder")
        seq = cdnet
        folder = gt if gt is not None else cdnet / "groundtruth"
    else:
        if gt is None:
            raise BgsubError("give the ground truth with --gt or --cdnet")
        if not gt.exists():
            raise BgsubError(f"{gt}: no such file or folder")
        if not gt.is_dir():
            raise BgsubError(f"{gt}: not a folder of ground-truth masks")
        if is_sequence_dir(gt):
            seq, folder = gt, gt / "groundtruth"
        elif gt.name == "groundtruth" and is_sequence_dir(gt.parent):
            seq, folder = gt.parent, gt
        else:
            folder = gt
    if not folder.is_dir():
        raise BgsubError(f"{folder}: no such ground-truth folder")
    files = numbered_files(folder)
    if not files:
        raise BgsubError(f"{folder}: no numbered image files")
    chosen = policy or ("cdnet" if seq is not None else "binary")
    if chosen not in POLICIES:
        raise BgsubError(f"unknown label policy {chosen!r} (valid: {', '.join(POLICIES)})")
    out = GroundTruth(folder=folder, files=files, policy=chosen, sequence=seq)
    if seq is not None:
        roi = seq / "ROI.bmp"
        if roi.is_file():
            out.roi = read_labels(roi) > 127
            out.roi_path = roi
        troi = seq / "temporalROI.txt"
        if troi.is_file():
            out.temporal = read_temporal_roi(troi)
    return out
