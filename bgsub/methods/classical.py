"""Classical baselines kept for comparison: OpenCV's MOG2 and KNN background subtractors, the static median of
the initialisation window (``median``) and the background reference on its own (``reference``; see the end of
this module).

Both run with OpenCV's default parameters (history 500, shadow detection on) and are fed the frames in order,
one at a time, as 8-bit images (the [0, 1] clip converted back to uint8; grey or colour as the clip is given).
The subtractor's model is *state*: it persists across :meth:`decompose` calls on consecutive windows and
:meth:`reset` starts a fresh one, so a video must be fed once, from its first frame, in order.

Reproducibility: KNN draws its model-update schedule from OpenCV's random generator (``cv::theRNG()`` of the
calling thread), so two runs on the same frames differ unless that generator is seeded. Before the first frame
after a reset, both methods call ``cv2.setRNGSeed(seed)`` (``seed`` = ``cfg.train.seed``) in the thread that
feeds the frames; the same frames then give the same masks, run after run, whatever ``cv2.setNumThreads`` says
(the per-pixel work is split by rows, and the random draws happen between frames on the calling thread).

Outputs, per frame t (after the subtractor has seen frame t):

- ``masks[t]``: OpenCV's foreground mask == 255. The shadow value 127 counts as *background* (as in the
  CDnet scoring of shadows), and so does 0;
- ``background[t]``: the subtractor's background image (``getBackgroundImage()``) in [0, 1];
- ``foreground[t]``: ``clip[t] - background[t]`` (signed), so L + S = clip and |S| can be drawn in contact
  sheets. Thresholding |S| is *not* how the masks are made: these methods decide masks themselves.

Example::

    m = create("mog2")
    dec = m.decompose(clip)        # clip: (T, C, H, W) float32 in [0, 1]
    dec.masks.shape                # (T, 1, H, W) bool
"""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

import cv2
import numpy as np
import torch

from bgsub.errors import BgsubError
from bgsub.methods.base import Decomposition, Method, Prepared, init_window_numbers, register

FOREGROUND = 255  # OpenCV's label for foreground; 127 is its shadow label, 0 background


def to_uint8(frame: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W) or (H, W, 3) uint8 BGR, rounding (the inverse of reading /255)."""
    a = frame.detach().cpu().float().numpy()
    a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.shape[0] == 1:
        return np.ascontiguousarray(a[0])
    if a.shape[0] == 3:
        return cv2.cvtColor(np.ascontiguousarray(a.transpose(1, 2, 0)), cv2.COLOR_RGB2BGR)
    raise BgsubError(f"classical methods need 1 or 3 channels, got {a.shape[0]}")


def _from_uint8(img: np.ndarray, channels: int) -> torch.Tensor:
    """OpenCV background image (H, W) or (H, W, 3) BGR uint8 -> (C, H, W) float32 in [0, 1]."""
    if img.ndim == 2:
        a = img[None]
    else:
        a = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    if a.shape[0] != channels:  # never expected; keep shapes consistent anyway
        a = np.repeat(a[:1], channels, axis=0) if channels > 1 else a.mean(axis=0, keepdims=True)
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / 255.0)


class _OpenCVSubtractor(Method):
    """A cv2.BackgroundSubtractor behind the method interface (see the module docstring)."""

    decides_masks: ClassVar[bool] = True
    streams: ClassVar[bool] = True  # stateful: each frame must be fed exactly once, in order

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self._sub = None
        self.frames_seen = 0
        self.seed = int(self.cfg.train.seed)
        self.reset()

    def _make(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def reset(self) -> None:
        self._sub = self._make()
        self.frames_seen = 0

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        """clip: (T, C, H, W) float32 in [0, 1], C = 1 or 3 -> Decomposition with masks (T, 1, H, W) bool."""
        if clip.ndim != 4:
            raise BgsubError(f"{self.name}: expected a clip (T, C, H, W), got shape {tuple(clip.shape)}")
        t, c, h, w = clip.shape
        masks = torch.zeros((t, 1, h, w), dtype=torch.bool)
        background = torch.empty((t, c, h, w), dtype=torch.float32)
        for i in range(t):
            if self.frames_seen == 0:
                cv2.setRNGSeed(self.seed)  # KNN's update schedule is random; see the module docstring
            fg = self._sub.apply(to_uint8(clip[i]))
            masks[i, 0] = torch.from_numpy(fg == FOREGROUND)
            bg = self._sub.getBackgroundImage()
            background[i] = _from_uint8(bg, c) if bg is not None else clip[i].float()
            self.frames_seen += 1
        foreground = clip.detach().cpu().float() - background
        return Decomposition(background=background, foreground=foreground, masks=masks)


@register("mog2")
class MOG2(_OpenCVSubtractor):
    """OpenCV's Gaussian-mixture subtractor (Zivkovic 2004/2006), default parameters."""

    def _make(self):
        return cv2.createBackgroundSubtractorMOG2()


@register("knn")
class KNN(_OpenCVSubtractor):
    """OpenCV's K-nearest-neighbours subtractor (Zivkovic & van der Heijden 2006), default parameters."""

    def _make(self):
        return cv2.createBackgroundSubtractorKNN()


class _InitWindow(Method):
    """Shared by ``median`` and ``reference``: fit on the initialisation window (the first ``background.init``
    frames) followed by up to ``pool`` frames drawn (seeded) from the rest of the video."""

    pool: ClassVar[int] = 0

    def fit_frames(self) -> int:
        return max(1, self.cfg.background.init) + self.pool

    def fit_numbers(self, numbers: list[int], *, seed: int) -> list[int]:
        return init_window_numbers(numbers, init=self.cfg.background.init, pool=self.pool, seed=seed)


@register("median")
class MedianBackground(_InitWindow):
    """The simplest background model there is, as a calibration point: the per-pixel temporal median of the
    initialisation window (the first ``background.init`` = 100 frames, CDnet's initialisation convention), in
    colour by default. Foreground = max over channels of |frame - median|; one Otsu threshold for the whole video
    (taken at fit time over the window plus 100 frames drawn from the rest of the video, so segmenting needs no
    second pass); a 5 x 5 median filter on the masks.

    Update policy: **static** - the background is never updated after the window (an object that stops stays
    foreground for ever; a lasting change of the scene, lights switched on, stays foreground too). This is the
    baseline every benchmark shows, not a method to use.
    """

    pool: ClassVar[int] = 100
    decides_masks: ClassVar[bool] = True
    filter_size: ClassVar[int] = 5

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.background: torch.Tensor | None = None
        self.threshold: float | None = None

    def fit(self, clip: torch.Tensor) -> "MedianBackground":
        from bgsub.background import init_count
        from bgsub.threshold import otsu_threshold

        n = init_count(self.cfg.background.init, clip.shape[0])
        self.background = clip[:n].float().median(dim=0).values
        self.threshold = otsu_threshold((clip.float() - self.background).abs().amax(dim=1))
        return self

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        from bgsub.threshold import median_filter

        if self.background is None:
            raise BgsubError("median: fit it first (the background is the median of the initialisation window)")
        if clip.shape[1:] != self.background.shape:
            raise BgsubError(f"median: frames {tuple(clip.shape[1:])} do not match the background "
                             f"{tuple(self.background.shape)}")
        bg = self.background.expand_as(clip)
        S = clip.float() - bg
        masks = median_filter(S.abs().amax(dim=1, keepdim=True) > self.threshold, self.filter_size)
        return Decomposition(background=bg.clone(), foreground=S, masks=masks)


@register("reference")
class ReferenceThreshold(_InitWindow):
    """The default U-Net's input on its own, thresholded: the background reference of :mod:`bgsub.background`
    (conservative median of the initialisation window, each pixel's noise level, per-frame illumination offset),
    foreground where the residual exceeds ``background.k`` noise levels in some channel (the support energy's
    minimiser without its TV term). It is what the network adds to that its ablation measures against."""

    decides_masks: ClassVar[bool] = True

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.reference = None

    def fit(self, clip: torch.Tensor) -> "ReferenceThreshold":
        from bgsub.background import estimate_from

        self.reference = estimate_from(clip, self.cfg.background)
        return self

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        from bgsub.background import background_for, residual

        if self.reference is None:
            raise BgsubError("reference: fit it first")
        bg = background_for(self.reference, clip)
        z = residual(self.reference, clip, background=bg)
        masks = z.amax(dim=1, keepdim=True) > self.cfg.background.k
        S = masks * (clip.float() - bg)
        return Decomposition(background=clip.float() - S, foreground=S, masks=masks)


@register("consensus")
class ConsensusThreshold(Method):
    """The default U-Net's input on its own, thresholded: the sample-consensus background model of
    :mod:`bgsub.background.samples` (started on the video's first ``background.init`` frames, updated over time),
    foreground where its residual exceeds ``background.k`` noise levels in some channel, upsampled from the
    model's working size (bilinear on z). What the network adds to it is what the ablation measures."""

    decides_masks: ClassVar[bool] = True
    streams: ClassVar[bool] = True  # the model is updated frame by frame: each frame once, in order

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.state = None

    def begin_frames(self) -> int:
        return max(1, self.cfg.background.init)

    def begin(self, frames: torch.Tensor) -> None:
        import dataclasses

        from bgsub.background.state import start

        bc = dataclasses.replace(self.cfg.background, model="samples")
        self.state = start(frames, bc, pixels=self.cfg.model.pixels, seed=self.cfg.train.seed,
                           cover=self.cover_of(frames))

    def restarts(self) -> list[int]:
        return list(getattr(self.state, "restarts", []))

    prepares: ClassVar[bool] = True  # the model steps in prepare(), in order, in the reading thread

    def view_grid(self, size: tuple[int, int]) -> Optional[tuple[int, int]]:
        """The model's working size on frames of ``size``: it moves with the view (``input.follow``,
        :mod:`bgsub.background.follow`), as the U-Net's does."""
        from bgsub.netinput import network_size

        return network_size(size[0], size[1], self.cfg.background.pixels or self.cfg.model.pixels)

    def prepare(self, clip: torch.Tensor, moves: Sequence[tuple[int, tuple[int, int]]] = ()) -> Prepared:
        """The model stepped over the window, in order (moving with the view before the frames ``moves`` names,
        as :meth:`bgsub.methods.unet.UNetMethod.prepare`): the window with each frame's largest z over the
        channels (T, 1, h, w) and its background image (T, C, H, W), each taken when its frames were stepped."""
        if self.state is None:
            raise BgsubError("consensus: begin() it on the video's first frames first")
        at = dict(moves)
        cuts = sorted({0, *at, len(clip)})
        zs, bgs = [], []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a in at:
                self.state.move(*at[a])
            zs.append(self.state.step(clip[a:b]).amax(dim=1, keepdim=True))
            bgs.append(self.state.background_image(clip[a:b]))
        return Prepared(clip, torch.cat(zs), torch.cat(bgs))

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        import torch.nn.functional as F

        if not isinstance(clip, Prepared):
            clip = self.prepare(clip)
        clip, r, bg = clip.clip, clip.inputs, clip.background
        if tuple(r.shape[-2:]) != tuple(clip.shape[-2:]):
            r = F.interpolate(r, size=tuple(clip.shape[-2:]), mode="bilinear", align_corners=False)
        masks = r > self.cfg.background.k
        S = masks * (clip.float() - bg)
        return Decomposition(background=clip.float() - S, foreground=S, masks=masks)
