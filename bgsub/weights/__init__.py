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


def weights_path(weights=None) -> Path:
    """The weights file ``weights`` names (None: the shipped file); a one-line error when the shipped file is
    missing."""
    from bgsub.errors import BgsubError

    path = Path(weights) if weights is not None else shipped()
    if weights is None and not path.is_file():
        raise BgsubError(f"{path}: the shipped weights are missing from this install (reinstall bgsub, or make them "
                         "with scripts/pretrain.py)")
    return path


def require_reference(saved, path: Path) -> None:
    """A one-line error unless the saved config ``saved`` of the weights at ``path`` is a reference U-Net's (the
    network ``unet-pretrained`` runs)."""
    if not saved.model.reference:
        from bgsub.errors import BgsubError

        raise BgsubError(f"{path}: not a reference U-Net (model.reference is false); unet-pretrained needs one")


def load_network(weights=None):
    """The pretrained network in ``weights`` (a path; None: the shipped file), checked: the file exists and holds
    a reference U-Net. Returns (model, the saved config, the training state, the path). One-line errors
    (:class:`bgsub.errors.BgsubError`) naming the file."""
    from bgsub.training import load_checkpoint

    path = weights_path(weights)
    model, saved, state = load_checkpoint(path)
    require_reference(saved, path)
    return model, saved, state, path
