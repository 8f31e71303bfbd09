"""``unet-pretrained``: the reference U-Net pretrained once over many videos, zero-shot (nothing learned per
video). The network and its settings come from the weights file (:func:`bgsub.weights.load_network`); the
background model is the video's own, started on its first frames (:meth:`UNetMethod.begin`)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch

from bgsub.config import Config, explicit_over
from bgsub.errors import BgsubError
from bgsub.methods.base import register
from bgsub.methods.unet import UNetMethod
from bgsub.training import TrainState


@register("unet-pretrained")
class PretrainedUNet(UNetMethod):
    """The reference U-Net pretrained once over many videos (``bgsub/weights/unet.pt``, made by
    ``scripts/pretrain.py``; ``model.weights`` names another file): zero-shot, nothing is learned per video. The
    background model is the video's own, started on its first frames (:meth:`begin`). The network's settings
    (architecture, the background model it was trained with) come from the weights file; ``cfg`` supplies the
    input and segment settings."""

    def __init__(self, cfg: Optional[Config] = None, **kwargs):
        from bgsub.weights import load_network

        cfg = cfg if cfg is not None else Config()
        model, saved, state, path = load_network(cfg.model.weights)
        grey = model.spec.in_channels == 1  # what the network takes, from the network itself
        if cfg.input.grayscale is not None and cfg.input.grayscale != grey:
            raise BgsubError(f"{path}: the network takes {'grey' if grey else 'colour'} frames; "
                             f"input.grayscale={str(cfg.input.grayscale).lower()} cannot be used with it")
        run = dataclasses.replace(cfg, model=dataclasses.replace(saved.model, weights=cfg.model.weights),
                                  input=dataclasses.replace(cfg.input, grayscale=grey),
                                  background=explicit_over(saved.background, cfg.background),
                                  train=dataclasses.replace(cfg.train, cap=saved.train.cap, tv=saved.train.tv))
        super().__init__(run, model=model, state=TrainState(epoch=state.epoch))
        self.weights = str(path)

    def fit_frames(self) -> int:
        return 0  # nothing to learn per video

    def fit(self, clip: torch.Tensor) -> "PretrainedUNet":
        return self
