"""The training state of a U-Net (:class:`TrainState`), in a module of its own: the zero-shot path holds one and
never imports torch (:mod:`bgsub.arrays`); :mod:`bgsub.training` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bgsub.errors import BgsubError

FORMAT = "bgsub-unet"  # a checkpoint's format tag and version (bgsub.training.save_checkpoint)
VERSION = 1


def checked(data, path: Path) -> dict:
    """A loaded checkpoint's contents, checked to be a bgsub U-Net checkpoint of the version this code reads
    (one-line errors naming the file)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BgsubError(f"{path}: not a bgsub U-Net checkpoint (no '{FORMAT}' format tag)")
    if data.get("version") != VERSION:
        raise BgsubError(f"{path}: checkpoint version {data.get('version')!r} is not supported (expected {VERSION})")
    return data


@dataclass
class TrainState:
    """Everything a run needs to continue: completed epochs, optimiser and RNG state, loss history."""

    epoch: int = 0
    optimizer: Optional[dict] = None
    generator: Optional[object] = None  # the torch generator's state (a uint8 tensor)
    history: list[dict[str, float]] = field(default_factory=list)
    frames: Optional[list[int]] = None
    polish: Optional[dict] = None
    threshold: Optional[float] = None  # Otsu threshold of |S| over the training frames (segment.threshold="fit")
    reference: Optional[dict] = None  # the background reference (model.reference), Reference.to_dict()
    lookahead: Optional[dict] = None  # the per-video network's training pass: the stillest frames it found for the
    #                                   pixels its window did not show still (bgsub.background.stable), for segmenting
    #                                   the same video (segment.lookahead); None for the shipped network
