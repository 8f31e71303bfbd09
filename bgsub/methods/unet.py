"""``unet``: the U-Net trained with the low-rank + sparse loss, behind the common method interface.

``fit(clip)`` trains (Eq. 6, :func:`bgsub.training.train_model`) on the frames it is given: the clip is the pool
from which every step draws N = ``train.frames`` frames, so ``fit_frames()`` asks for ``train.pool`` frames
(``train.frames`` when the pool is 0). ``decompose(clip)`` is a forward pass in batches of ``segment.batch``
frames: S = S_theta(D), L = D - S. With ``segment.threshold = "fit"`` it also returns the masks |S| > t, t being
one Otsu threshold of |S| over the training frames computed at the end of ``fit`` and saved in the checkpoint.

    method = create("unet", cfg)
    fit_on_video(method, "seq/", cfg=cfg)          # samples fit_frames() frames, trains
    decompose_video(method, "seq/", "out/", cfg=cfg, window=cfg.segment.batch)
    method.save("model.pt")                        # or UNetMethod.load("model.pt")
"""

from __future__ import annotations

import os
from typing import Optional

import torch

from bgsub.config import Config
from bgsub.devices import resolve_device
from bgsub.methods.base import Decomposition, Method, register
from bgsub.models.unet import UNet, fuse_for_inference
from bgsub.threshold import magnitude
from bgsub.training import (TrainState, autocast, build_model, fit_threshold, load_checkpoint, memory_format,
                            save_checkpoint, train_model)


@register("unet")
class UNetMethod(Method):
    """The low-rank + sparse U-Net. ``self.model`` is the network; ``self.state`` the training state."""

    def __init__(self, cfg: Optional[Config] = None, *, model: Optional[UNet] = None,
                 state: Optional[TrainState] = None):
        super().__init__(cfg)
        self.model = model if model is not None else build_model(self.cfg)
        self.state = state if state is not None else TrainState()
        self.progress = True
        self._fused: Optional[tuple[int, UNet]] = None  # (weights version, BN-folded copy) for decompose

    @property
    def decides_masks(self) -> bool:  # type: ignore[override]
        """True with ``segment.threshold = "fit"`` and a saved threshold: masks come from decompose."""
        return self.cfg.segment.threshold == "fit" and self.state.threshold is not None

    @classmethod
    def load(cls, path: str | os.PathLike, cfg: Optional[Config] = None) -> "UNetMethod":
        """A trained method from a checkpoint. ``cfg`` (optional) replaces the saved config for running (segment
        and threshold settings); the architecture always comes from the checkpoint."""
        model, saved, state = load_checkpoint(path)
        return cls(cfg if cfg is not None else saved, model=model, state=state)

    def save(self, path: str | os.PathLike) -> None:
        save_checkpoint(path, self.model, self.cfg, self.state)

    def fit_frames(self) -> int:
        tc = self.cfg.train
        return max(tc.pool, tc.frames)

    def fit(self, clip: torch.Tensor) -> "UNetMethod":
        self.state = train_model(self.model, clip, self.cfg, state=self.state, progress=self.progress)
        self.state.threshold = fit_threshold(self.model, clip, self.cfg)
        return self

    def _inference_model(self) -> UNet:
        """The network with batch norm folded into the convolutions, rebuilt whenever the weights changed."""
        version = sum(p._version for p in self.model.parameters()) + sum(b._version for b in self.model.buffers())
        key = (id(self.model), version)
        if self._fused is None or self._fused[0] != key:
            self._fused = (key, fuse_for_inference(self.model))
        return self._fused[1]

    @torch.inference_mode()
    def decompose(self, clip: torch.Tensor) -> Decomposition:
        sc = self.cfg.segment
        device = resolve_device(sc.device)
        fmt = memory_format(sc.channels_last)
        model = self._inference_model()
        was_training = model.training
        model.to(device=device, memory_format=fmt).eval()
        try:
            outs = []
            for i in range(0, clip.shape[0], max(1, sc.batch)):
                x = clip[i : i + sc.batch].to(device).contiguous(memory_format=fmt)
                with autocast(device, sc.bf16):
                    outs.append(model(x).float().cpu().contiguous())
        finally:
            model.train(was_training)
        S = torch.cat(outs) if outs else torch.zeros_like(clip)
        masks = magnitude(S) > self.state.threshold if self.decides_masks else None
        return Decomposition(background=clip - S, foreground=S, masks=masks)
