"""``unet-pretrained``: the reference U-Net pretrained once over many videos, zero-shot (nothing learned per
video). The network and its settings come from the weights file (:func:`bgsub.weights.load_network`); the
background model is the video's own, started on its first frames (:meth:`UNetMethod.begin`)."""

from __future__ import annotations

import dataclasses
from typing import Optional

from bgsub.config import Config, explicit_over
from bgsub.errors import BgsubError
from bgsub.methods.base import register
from bgsub.methods.unet import UNetMethod
from bgsub.trainstate import TrainState


@register("unet-pretrained")
class PretrainedUNet(UNetMethod):
    """The reference U-Net pretrained once over many videos (``bgsub/weights/unet.pt``, made by
    ``scripts/pretrain.py``; ``model.weights`` names another file): zero-shot, nothing is learned per video. The
    background model is the video's own, started on its first frames (:meth:`begin`). The network's settings
    (architecture, the background model it was trained with) come from the weights file; ``cfg`` supplies the
    input and segment settings. The network runs through OpenCV where ``segment.engine`` lets it (no torch in the
    process: :mod:`bgsub.methods.zeroshot`), else through torch."""

    def __init__(self, cfg: Optional[Config] = None, **kwargs):
        from bgsub.methods.zeroshot import opencv_network

        cfg = cfg if cfg is not None else Config()
        found = opencv_network(cfg)
        if found is not None:
            net, saved, state, path = found
            model, channels = None, net.spec["in_channels"]
        else:
            from bgsub.weights import load_network

            model, saved, state, path = load_network(cfg.model.weights)
            net, channels = None, model.spec.in_channels
        grey = channels == 1  # what the network takes, from the network itself
        if cfg.input.grayscale is not None and cfg.input.grayscale != grey:
            raise BgsubError(f"{path}: the network takes {'grey' if grey else 'colour'} frames; "
                             f"input.grayscale={str(cfg.input.grayscale).lower()} cannot be used with it")
        run = dataclasses.replace(cfg, model=dataclasses.replace(saved.model, weights=cfg.model.weights),
                                  input=dataclasses.replace(cfg.input, grayscale=grey),
                                  background=explicit_over(saved.background, cfg.background),
                                  train=dataclasses.replace(cfg.train, cap=saved.train.cap, tv=saved.train.tv))
        super().__init__(run, model=model, state=TrainState(epoch=state.epoch), net=net)
        self.weights = str(path)

    def fit_frames(self) -> int:
        return 0  # nothing to learn per video

    def fit(self, clip) -> "PretrainedUNet":
        return self
