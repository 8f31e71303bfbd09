"""The background of the video being segmented, as state: what the U-Net's input is computed from.

``start(frames, bc, pixels=...)`` builds it from the first frames of the video (the initialisation window) with
the settings of a :class:`bgsub.config.BackgroundConfig`; ``state.step(frames)`` gives the residual z in noise
levels of the next consecutive frames (each frame once, in order) and updates the model. Two kinds:

- ``background.model = "samples"`` (default): :class:`bgsub.background.samples.SampleModel`, updated over time;
  z at the model's working size.
- ``background.model = "reference"``: the static reference of :mod:`bgsub.background.reference` (median of the
  window, per-pixel noise, illumination compensation); z at the frames' size. Stateless: ``step`` may see any
  frames in any order.

The state belongs to the video: it is never saved in a model file. (What a training pass's search found for the
pixels whose window did not show the scene is, with the window's fingerprint: only a model started on the same
window takes it, ``SampleState.adopt`` and ``segment.lookahead``.)
"""

from __future__ import annotations

import math
from typing import Optional, Protocol

import numpy as np

from bgsub.arrays import float32_of, like
from bgsub.errors import BgsubError

MODELS = ("samples", "reference")
HALOS = ("bound", "outside", "silence", "mask")  # background.texture_halo (bgsub.background.samples)


class BackgroundState(Protocol):
    ordered: bool  # True: step must see consecutive frames, each once, in order

    def step(self, frames): ...

    def background_image(self, frames, snapshot: object = None): ...

    def snapshot(self) -> object: ...  # what background_parts needs of the state as it is now (None: nothing)

    def background_parts(self, frames, snapshot: object = None) -> tuple[np.ndarray, np.ndarray]: ...
    #   the background at the frames' size ((C, H, W), or (T, C, H, W) per frame) and each frame's offset from it
    #   (T, C), in [0, 1]; ``snapshot``: taken when those frames were stepped (the state may have moved on since)

    def frame_noise(self, snapshot: object = None) -> float: ...  # the camera noise at the frames' own
    #   resolution, in [0, 1] units (as of ``snapshot``)


class StaticReference:
    """The static reference as a background state (``step`` has no side effects)."""

    ordered = False

    def __init__(self, ref):
        self.ref = ref

    def step(self, frames):
        from bgsub.background.reference import residual

        return residual(self.ref, frames)

    def background_image(self, frames, snapshot: object = None):
        from bgsub.background.reference import background_for

        return background_for(self.ref, frames)

    def snapshot(self) -> object:
        return None  # stateless

    def background_parts(self, frames, snapshot: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Each frame's background (T, C, H, W) in its light, and zero offsets (T, C)."""
        b = self.background_image(frames).float().numpy()
        return b, np.zeros(b.shape[:2], np.float32)

    def frame_noise(self, snapshot: object = None) -> float:
        """The median of the reference's per-pixel noise levels (measured at the frames' size)."""
        return float(self.ref.sigma.float().median())


class SampleState:
    """:class:`~bgsub.background.samples.SampleModel` as a background state."""

    ordered = True

    def __init__(self, model):
        self.model = model
        self._up = None  # (key, the background it was made from, the background at the frames' size)

    def step(self, frames):
        return self.model.step(frames)

    @property
    def restarts(self) -> list[int]:
        """The frames (1-based: the n-th frame stepped) at which the model started again on a new view (:mod:`bgsub.background.restart`)."""
        return list(self.model.restarts)

    def move(self, dy: int, dx: int) -> None:
        """The next frame stepped lies (dy, dx) working pixels from the model's grid (:meth:`SampleModel.move`)."""
        self.model.move(dy, dx)

    def unsettled_share(self) -> float:
        """The share of the pixels the window never saw still (:meth:`SampleModel.unsettled_share`)."""
        return self.model.unsettled_share()

    def lookahead(self) -> Optional[dict]:
        """For a second pass over the same video (:meth:`SampleModel.lookahead`)."""
        return self.model.lookahead()

    def adopt(self, found: Optional[dict]) -> bool:
        """Before the first step: a first pass's findings for the pixels whose window did not show the scene
        (:meth:`SampleModel.adopt`); False when they belong to another window."""
        return self.model.adopt(found)

    def snapshot(self) -> tuple[np.ndarray, float]:
        """The model's background image now, (C, h, w) grey levels (a new array whenever it is made again, never
        changed in place), and its noise at the frames' resolution (:meth:`frame_noise`): taken in the stepping
        thread right after a window's frames, so that the window's masks use the background of their own frames
        whatever the stepping thread has done since."""
        return self.model.background(), self._noise()

    def background_parts(self, frames, snapshot: object = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's background (the median of its samples; ``snapshot``, from :meth:`snapshot`, or the model's
        now) at the frames' size, (C, H, W) float32 in [0, 1] (bilinear; cached per background image), and each
        frame's illumination offset from it, (T, C): :func:`bgsub.background.illumination.offset`, the median
        difference over a grid of about 4,096 of the frame's pixels. With a snapshot it does not touch the model
        (the window threads call it while the reading thread steps the model)."""
        from bgsub.netinput import upsample

        H, W = frames.shape[-2:]
        src = snapshot[0] if snapshot is not None else self.model.background()
        key = (id(src), H, W)
        got = self._up  # read once: another window thread may replace it meanwhile
        if got is None or got[0] != key:
            up = upsample(np.ascontiguousarray(src, dtype=np.float32)[None], (H, W))[0]
            got = (key, src, (up / np.float32(255.0)).astype(np.float32))  # src kept: its id stays its own
            self._up = got
        up = got[2]
        from bgsub.background.illumination import offset

        x = float32_of(frames)
        return up, np.stack([offset(x[t], up)[:, 0, 0] for t in range(x.shape[0])]).reshape(x.shape[:2])

    def background_image(self, frames, snapshot: object = None):
        """(T, C, H, W) in [0, 1]: the model's background at the frames' size plus each frame's illumination
        offset (:meth:`background_parts`); the kind of ``frames`` (a NumPy array or a tensor)."""
        up, off = self.background_parts(frames, snapshot)
        return like(np.clip(up[None] + off[:, :, None, None], 0.0, 1.0), frames)

    def frame_noise(self, snapshot: object = None) -> float:
        """The model's median noise level (at its working size) times sqrt(f), f frame pixels a working pixel:
        the noise of one frame pixel, in [0, 1] units (as of ``snapshot``, else now)."""
        return snapshot[1] if snapshot is not None else self._noise()

    def _noise(self) -> float:
        m = self.model
        f = (m.native[0] * m.native[1]) / float(m.size[0] * m.size[1])
        return float(np.median(m.sigma)) * math.sqrt(f) / 255.0


def start(frames, bc, *, pixels: int, seed: int = 0, cover=None) -> BackgroundState:
    """The background state of a video from its first frames ``frames`` (T, C, H, W) in [0, 1] (all of them are
    the initialisation window). ``bc``: a BackgroundConfig; ``pixels``: the working size's pixel budget when
    ``bc.pixels`` is 0 (the network's). ``cover`` (T, h, w) bool at the sample model's working size, or None: the
    frames that show each pixel (a window a followed camera moved in:
    :attr:`bgsub.methods.base.Method.window_cover`)."""
    if bc.model == "reference":
        from bgsub.background.reference import estimate

        return StaticReference(estimate(frames, k=bc.k, passes=bc.passes, compensate=bc.compensate,
                                        shift=bc.shift))
    if bc.model != "samples":
        raise BgsubError(f"background.model must be one of {', '.join(MODELS)}, got {bc.model!r}")
    if bc.compensate not in ("offset", "none"):
        raise BgsubError(f"background.compensate={bc.compensate} needs background.model=reference "
                         f"(the sample model compensates a per-channel offset, or none)")
    if bc.spread not in ("camera", "nn", "mad"):
        raise BgsubError(f"background.spread must be camera, nn or mad, got {bc.spread!r}")
    if not 0.0 <= bc.shadow < 1.0:
        raise BgsubError(f"background.shadow must be 0 (off) or the least share of the light a shadow leaves, "
                         f"in (0, 1), got {bc.shadow}")
    if not 0.0 <= bc.short <= 1.0:
        raise BgsubError(f"background.short must be 0 (off) or the share of a short window's frames each pixel's "
                         f"samples come from, in (0, 1], got {bc.short}")
    if not 0.0 < bc.stiller <= 1.0:
        raise BgsubError(f"background.stiller must be in (0, 1] (the share of a kept frame's motion a later frame "
                         f"must be below to take its place; 1 = any stiller frame), got {bc.stiller}")
    for name in ("horizon", "open_horizon"):
        if getattr(bc, name) < 0:
            raise BgsubError(f"background.{name} must be 0 (off) or a frame number, got {getattr(bc, name)}")
    if bc.sway < 0:
        raise BgsubError(f"background.sway must be 0 (off) or a radius in working pixels, got {bc.sway}")
    if bc.ghost < 0:
        raise BgsubError(f"background.ghost must be 0 (off) or the frames a region must stand still before its "
                         f"outline is judged, got {bc.ghost}")
    if not 1.0 <= bc.highlight <= 2.0:
        raise BgsubError(f"background.highlight must be 1 (off) or the most light a highlighted background gains, "
                         f"in (1, 2], got {bc.highlight}")
    if not (bc.white == 0 or 16.0 <= bc.white <= 255.0):
        raise BgsubError(f"background.white must be 0 (measured from the frames) or the grey level the frames were "
                         f"clipped at, in [16, 255], got {bc.white}")
    if bc.texture_halo not in HALOS:
        raise BgsubError(f"background.texture_halo must be one of {', '.join(HALOS)}, got {bc.texture_halo!r}")
    from bgsub.background.samples import SHADOW_MIN, SampleModel

    return SampleState(SampleModel.initialise(
        frames, n=bc.samples, pixels=bc.pixels or pixels, k=bc.k, matches=bc.matches, phi=bc.update,
        still=bc.still, reach=bc.reach, init=bc.start, restart=bc.restart, ghost=bc.ghost, heal=bc.still > 0, update=bc.update > 0,
        compensate=bc.compensate == "offset", gain=bc.gain, horizon=bc.horizon, open_horizon=bc.open_horizon, stiller=bc.stiller, shift=bc.shift, texture=bc.texture, texture_region=bc.texture_region, texture_halo=bc.texture_halo, scenes=bc.scenes,
        motion=bc.motion, short=bc.short, floor_over=bc.floor, censor=bc.gain, shadow=bc.shadow > 0, shadow_min=bc.shadow or SHADOW_MIN, highlight=bc.highlight,
        grey_shadow=bc.grey_shadow, dynamics=bc.spread, white=bc.white,
        sway=bc.sway, seed=seed, cover=cover))  # censoring pays with the gain and cost office without it
