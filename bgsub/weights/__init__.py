"""The shipped network's weights (package data; made by ``scripts/pretrain.py``, see the README).

``unet.pt``: the reference U-Net pretrained without labels on the support energy over many videos, a bgsub-unet
checkpoint (network, settings, history; no optimiser state, no background: the background belongs to the video
being segmented). Loaded with ``weights_only=True``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NAME = "unet.pt"


def shipped() -> Path:
    """The path of the shipped weights (a file inside the installed package)."""
    return Path(str(resources.files("bgsub.weights").joinpath(NAME)))
