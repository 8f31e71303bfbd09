"""The background of the video being segmented, as state: what the U-Net's input is computed from.

``start(frames, bc, pixels=...)`` builds it from the first frames of the video (the initialisation window) with
the settings of a :class:`bgsub.config.BackgroundConfig`; ``state.step(frames)`` gives the residual z in noise
levels of the next consecutive frames (each frame once, in order) and updates the model. Two kinds:

- ``background.model = "samples"`` (default): :class:`bgsub.background.samples.SampleModel`, updated over time;
  z at the model's working size.
- ``background.model = "reference"``: the static reference of :mod:`bgsub.background.reference` (median of the
  window, per-pixel noise, illumination compensation); z at the frames' size. Stateless: ``step`` may see any
  frames in any order.

The state belongs to the video: it is never saved in a model file.
"""

from __future__ import annotations

from typing import Protocol

import torch

from bgsub.errors import BgsubError

MODELS = ("samples", "reference")


class BackgroundState(Protocol):
    ordered: bool  # True: step must see consecutive frames, each once, in order

    def step(self, frames: torch.Tensor) -> torch.Tensor: ...

    def background_image(self, frames: torch.Tensor) -> torch.Tensor: ...


class StaticReference:
    """The static reference as a background state (``step`` has no side effects)."""

    ordered = False

    def __init__(self, ref):
        self.ref = ref

    def step(self, frames: torch.Tensor) -> torch.Tensor:
        from bgsub.background.reference import residual

        return residual(self.ref, frames)

    def background_image(self, frames: torch.Tensor) -> torch.Tensor:
        from bgsub.background.reference import background_for

        return background_for(self.ref, frames)


class SampleState:
    """:class:`~bgsub.background.samples.SampleModel` as a background state."""

    ordered = True

    def __init__(self, model):
        self.model = model

    def step(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.step(frames)

    def background_image(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, C, H, W) in [0, 1]: the model's background (median of its samples) at the frames' size, plus each
        frame's illumination offset."""
        import torch.nn.functional as F

        bg = torch.from_numpy(self.model.background() / 255.0).float()[None]
        H, W = frames.shape[-2:]
        if tuple(bg.shape[-2:]) != (H, W):
            bg = F.interpolate(bg, size=(H, W), mode="bilinear", align_corners=False)
        off = (frames.float() - bg).flatten(2).median(dim=-1).values[..., None, None]
        return (bg + off).clamp(0, 1)


def start(frames: torch.Tensor, bc, *, pixels: int, seed: int = 0) -> BackgroundState:
    """The background state of a video from its first frames ``frames`` (T, C, H, W) in [0, 1] (all of them are
    the initialisation window). ``bc``: a BackgroundConfig; ``pixels``: the working size's pixel budget when
    ``bc.pixels`` is 0 (the network's)."""
    if bc.model == "reference":
        from bgsub.background.reference import estimate

        return StaticReference(estimate(frames, k=bc.k, passes=bc.passes, compensate=bc.compensate,
                                        shift=bc.shift))
    if bc.model != "samples":
        raise BgsubError(f"background.model must be one of {', '.join(MODELS)}, got {bc.model!r}")
    if bc.compensate not in ("offset", "none"):
        raise BgsubError(f"background.compensate={bc.compensate} needs background.model=reference "
                         f"(the sample model compensates a per-channel offset, or none)")
    if bc.spread not in ("nn", "mad"):
        raise BgsubError(f"background.spread must be nn or mad, got {bc.spread!r}")
    if not 0.0 <= bc.shadow < 1.0:
        raise BgsubError(f"background.shadow must be 0 (off) or the least share of the light a shadow leaves, "
                         f"in (0, 1), got {bc.shadow}")
    from bgsub.background.samples import SHADOW_MIN, SampleModel

    return SampleState(SampleModel.initialise(
        frames, n=bc.samples, pixels=bc.pixels or pixels, k=bc.k, matches=bc.matches, phi=bc.update,
        still=bc.still, reach=bc.reach, init=bc.start, heal=bc.still > 0, update=bc.update > 0,
        compensate=bc.compensate == "offset", gain=bc.gain, horizon=bc.horizon, shift=bc.shift, texture=bc.texture,
        motion=bc.motion, censor=bc.gain, shadow=bc.shadow > 0, shadow_min=bc.shadow or SHADOW_MIN, dynamics=bc.spread,
        seed=seed))  # censoring pays with the gain and cost office without it
