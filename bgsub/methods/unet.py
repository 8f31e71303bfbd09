"""``unet``: the U-Net trained without labels, behind the common method interface.

Default (``model.reference = true``): the network is given a background reference estimated from the video
itself (:mod:`bgsub.background`: a conservative median of the initialisation window, each pixel's noise level,
per-frame illumination offset) as the residual z in noise levels, and outputs foreground logits; it is trained on
the low-rank + sparse support energy (:func:`bgsub.losses.support_energy`, DECOLOR's energy with the background
fixed to the reference). ``fit_numbers`` picks the initialisation window (the first ``background.init`` frames)
plus ``train.pool`` frames drawn from the rest of the video; ``fit`` estimates the reference on the first and
trains on all of them; masks are ``logits > 0`` (no Otsu: a frame where nothing moves gets an empty mask).
The reference belongs to the video: ``begin(frames)`` (called by the pipeline once per video, before the first
``decompose``, with its first ``begin_frames()`` = ``background.init`` frames) estimates it again from the video
being segmented, replacing the one saved in the checkpoint at training time; ``segment.reuse_background`` keeps
the saved one instead (``begin`` then only checks the frame size against it).

The paper's network (``model.reference = false``, presets ``paper`` and ``cpu-fast``):
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

import copy
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from bgsub.config import Config
from bgsub.errors import BgsubError
from bgsub.methods.base import (Decomposition, Method, Pieces, Prepared,  # noqa: F401 (Prepared: re-exported)
                                init_window_numbers, register)
from bgsub.netinput import network_input
from bgsub.threshold import magnitude
from bgsub.trainstate import TrainState

# torch, the network's module and the training are imported where they are used: a zero-shot run whose network
# runs through OpenCV (``net``, :mod:`bgsub.methods.zeroshot`) never imports torch (:mod:`bgsub.arrays`)
if TYPE_CHECKING:
    import torch

    from bgsub.models.unet import UNet

log = logging.getLogger("bgsub")


@register("unet")
class UNetMethod(Method):
    """The low-rank + sparse U-Net. ``self.model`` is the network; ``self.state`` the training state."""


    def __init__(self, cfg: Optional[Config] = None, *, model: Optional[UNet] = None,
                 state: Optional[TrainState] = None, net=None):
        super().__init__(cfg)
        self.cfg = self.input_config(self.cfg)
        self.net = net  # the network through OpenCV (bgsub.models.dnn.DnnUNet, inference only): then no model
        if net is not None:
            self.model = None
        elif model is not None:
            self.model = model
        else:
            from bgsub.training import build_model

            self.model = build_model(self.cfg)
        self.state = state if state is not None else TrainState()
        self.progress = True
        self._fused: Optional[tuple[int, UNet]] = None  # (weights version, BN-folded copy) for decompose
        self._lock = threading.Lock()  # decompose runs on several windows at once (window_threads)
        self.bg = None  # the background state of the video being segmented (bgsub.background.state)
        self._adopted = False  # begin() took a first pass's findings (segment.lookahead)
        self._started_from: Optional[str] = None  # the weights the training started from (start_weights)

    @property
    def arrays(self) -> bool:  # type: ignore[override]
        """With the network through OpenCV: NumPy frames in and out, no torch (:mod:`bgsub.methods.zeroshot`)."""
        return self.net is not None

    @property
    def streams(self) -> bool:  # type: ignore[override]
        """True with a background model updated over time: each frame once, in order, no top-up."""
        return bool(self.cfg.model.reference and self.cfg.background.model == "samples")

    window_threads = True  # the network's forward passes of several windows side by side
    prepares = True  # the background model steps in prepare(), in order, in the reading thread

    def prepare(self, clip: torch.Tensor, moves: Sequence[tuple[int, tuple[int, int]]] = ()):
        """The window's network inputs (the background model stepped over it, in order): the in-order part of
        :meth:`decompose`, which the pipeline runs beside the reading. Returns a :class:`Prepared`. ``moves``:
        ``(i, (dy, dx))``, the window's frame ``i`` lies (dy, dx) working pixels from the model's grid
        (:meth:`view_grid`; the model moves with it before it is compared, :mod:`bgsub.background.follow`); the
        window's background snapshots are then taken per piece (:class:`~bgsub.methods.base.Pieces`)."""
        if not self.cfg.model.reference:
            return clip
        bg = self._background()
        if not moves:
            inputs = self.network_inputs(clip)
            return Prepared(clip, inputs, bg.snapshot())
        at = dict(moves)
        cuts = sorted({0, *at, len(clip)})
        inputs, snaps = [], []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a in at:
                bg.move(*at[a])
            inputs.append(self.network_inputs(clip[a:b]))
            snaps.append((a, bg.snapshot()))
        from bgsub.arrays import concat

        return Prepared(clip, concat(inputs), Pieces(snaps))

    def view_grid(self, size: tuple[int, int]) -> Optional[tuple[int, int]]:
        """With the sample model (``input.follow``: it moves with the view, :mod:`bgsub.background.follow`): the
        working size (h, w) it will work at on frames of ``size`` (H, W) as handed to it, the grid registration
        moves it by (:meth:`bgsub.io.stabilize.Stabilizer.follow`); None otherwise."""
        if not self.streams or self.cfg.segment.reuse_background:
            return None
        from bgsub.netinput import network_size

        return network_size(size[0], size[1], self.cfg.background.pixels or self.cfg.model.pixels)

    def frame_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """With the sample model: the size it measures the frames at (its texture size, at most twice its working
        size per side; without the texture channel, its working size): it area-averages frames of any larger size
        down to it, the network works on its output. Else ``size`` (the static reference works at the frames'
        size)."""
        if not self.streams:
            return size
        from bgsub.background.texture import texture_size
        from bgsub.netinput import network_size

        bc = self.cfg.background
        work = network_size(size[0], size[1], bc.pixels or self.cfg.model.pixels)
        need = texture_size(size, work) if bc.texture else work
        return (min(need[0], size[0]), min(need[1], size[1]))

    @property
    def decides_masks(self) -> bool:  # type: ignore[override]
        """True with the reference (masks = logits > 0), or with ``segment.threshold = "fit"`` and a saved
        threshold: masks come from decompose."""
        if self.cfg.model.reference:
            return True
        return self.cfg.segment.threshold == "fit" and self.state.threshold is not None

    @classmethod
    def load(cls, path: str | os.PathLike, cfg: Optional[Config] = None) -> "UNetMethod":
        """A trained method from a checkpoint. ``cfg`` (optional) replaces the saved config for running (segment
        and threshold settings); the architecture always comes from the checkpoint."""
        from bgsub.training import load_checkpoint

        model, saved, state = load_checkpoint(path)
        return cls(cfg if cfg is not None else saved, model=model, state=state)

    def save(self, path: str | os.PathLike) -> None:
        from bgsub.training import save_checkpoint

        if self.model is None:
            raise BgsubError("this U-Net runs through OpenCV (inference only) and has no torch network to save")
        save_checkpoint(path, self.model, self.cfg, self.state)

    def fit_frames(self) -> int:
        tc = self.cfg.train
        if self.cfg.model.reference:  # the initialisation window, then the pool
            return max(1, self.cfg.background.init) + tc.pool
        return max(tc.pool, tc.frames)

    def fit_numbers(self, numbers: list[int], *, seed: int) -> list[int]:
        """With the reference: the initialisation window (the first ``background.init`` of ``numbers``) and
        ``train.pool`` frames drawn (seeded) from the rest, sorted, so the window comes first. Else the default
        random draw."""
        if not self.cfg.model.reference:
            return super().fit_numbers(numbers, seed=seed)
        return init_window_numbers(numbers, init=self.cfg.background.init, pool=self.cfg.train.pool, seed=seed)

    def attach_labels(self, source) -> list[int]:
        """With ``train.label_frames = K > 0``: pick K frames with ground truth spread over the video (seeded,
        :func:`bgsub.io.labels.pick_label_frames`), read them and their masks (``train.labels``, or ``source``
        when it is a sequence folder; CDnet labels 85/170 and pixels outside the ROI ignored) at the network's
        size; :meth:`fit` then adds the supervised term. Returns the picked frame numbers (to leave out of
        scoring)."""
        k = self.cfg.train.label_frames
        self.labels, self.label_numbers = None, []
        self._labels_are_inputs = False
        if k <= 0:
            return []
        if not self.cfg.model.reference:
            raise BgsubError("train.label_frames needs model.reference (the mask head)")
        from bgsub.io.frames import list_frames, read_clip
        from bgsub.io.labels import load_label_masks, pick_label_frames
        from bgsub.io.layout import find_ground_truth
        from bgsub.netinput import network_size

        gt = find_ground_truth(Path(self.cfg.train.labels or source))
        ic = self.cfg.input
        selected = set(list_frames(source, start=ic.start, end=ic.end, stride=ic.stride))
        candidates = [n for n in gt.scored_numbers() if n in selected]
        nums = pick_label_frames(candidates, k, self.cfg.train.seed)
        moved: dict = {}
        clip = read_clip(source, numbers=nums, grayscale=ic.grayscale, scale=ic.scale, stabilize=ic.stabilize,
                         shifts=moved)
        if moved:  # the frames are registered as the stream registers them; their ground truth is not moved
            log.warning("%s: %d of the %d label frames were registered to the first frame (camera jitter) and their "
                        "ground truth was not moved: to train on the labels of a shaking camera, set "
                        "input.stabilize=false", source, len(moved), len(nums))
        size = network_size(clip.frames.shape[-2], clip.frames.shape[-1], self.cfg.model.pixels)
        masks = load_label_masks(gt, nums, size=size)
        self.labels = (clip.frames, masks.target, masks.valid)
        self.label_numbers = list(nums)
        return self.label_numbers

    def estimate_reference(self, clip: torch.Tensor, cover=None) -> None:
        """Start the background model on the initialisation window at the start of ``clip`` (its first
        ``background.init`` frames). The static reference is also kept in the training state (checkpoints of the
        ``background.model=reference`` recipe carry it); the sample model belongs to the video only. ``cover``: the
        working pixels each frame of ``clip`` shows (:meth:`bgsub.methods.base.Method.cover_of`; :meth:`begin`
        passes it, the training paths start without it)."""
        from bgsub.background.start import init_count
        from bgsub.background.state import StaticReference, start

        bc = self.cfg.background
        n = init_count(bc.init, clip.shape[0])
        self.bg = start(clip[:n], bc, pixels=self.cfg.model.pixels, seed=self.cfg.train.seed,
                        cover=None if cover is None else cover[:n])
        self.state.reference = self.bg.ref.to_dict() if isinstance(self.bg, StaticReference) else None

    def restarts(self) -> list[int]:
        return list(getattr(self.bg, "restarts", []))

    def _background(self):
        """The background state, from the checkpoint's reference when begin() was not called (old files)."""
        if self.bg is None and self.state.reference is not None:
            from bgsub.background import Reference
            from bgsub.background.state import StaticReference

            self.bg = StaticReference(Reference.from_dict(self.state.reference))
        if self.bg is None:
            raise BgsubError("this U-Net has no background for this video: begin() it on the video's first frames")
        return self.bg

    def network_inputs(self, clip: torch.Tensor) -> torch.Tensor:
        """log(1 + z) at the network's size for consecutive frames ``clip`` (T, C, H, W); steps (updates) the
        background model."""
        z = self._background().step(clip)
        return network_input(z, self.cfg.model.pixels)

    def begin_frames(self) -> int:
        """With the reference: the initialisation window (``background.init`` frames), from which :meth:`begin`
        estimates the video's background; with ``segment.reuse_background`` the first frame only (its size is
        checked against the saved background). 0 for the paper's network (no reference)."""
        if not self.cfg.model.reference:
            return 0
        return 1 if self.cfg.segment.reuse_background else max(1, self.cfg.background.init)

    def warm_up(self, total: Optional[int] = None) -> None:
        """With the sample model: its compiled kernels (:mod:`bgsub.background.kernels`) loaded in a background
        thread while the initialisation window is read, unless the whole video is that window (``total`` <=
        :meth:`begin_frames`): then Numba's start-up (about half a second, most of it interpreter time the
        reading cannot hide) costs more than it saves (measured: a 90-frame clip 2.2-2.4 s without, 2.7-2.8 s
        with; 1700 frames 14.3-15.7 s without, 11.4-12.2 s with; 1 thread), and the same values come from the
        whole-array path."""
        if not self.streams:
            return
        from bgsub.background import kernels

        if total is not None and total <= self.begin_frames():
            kernels.defer()
        else:
            kernels.warm_up()

    def begin(self, frames: torch.Tensor, started: Optional[object] = None) -> None:
        """frames: (T, C, H, W), the first frames of the video about to be segmented. With the reference: estimate
        the background reference from them (:meth:`estimate_reference`), or, with ``segment.reuse_background``,
        keep the saved one after checking that it has the frames' size (a one-line error naming both sizes).
        ``started``: what :meth:`started` returned after a begin on these same frames: a copy of it is taken
        instead of estimating the model again (the same state: the start is deterministic)."""
        if not self.cfg.model.reference:
            return
        if not self.cfg.segment.reuse_background:
            if started is not None:
                self.bg = copy.deepcopy(started)
            else:
                self.estimate_reference(frames, cover=self.cover_of(frames))
            self._adopted = self._adopt_lookahead()
            return
        if self.state.reference is None:
            raise BgsubError("segment.reuse_background: no background was saved with this model (only the static "
                             "reference of background.model=reference is; a background model updated over time "
                             "belongs to its video)")
        bg = self.state.reference["background"]
        if tuple(bg.shape[-2:]) != tuple(frames.shape[-2:]):
            raise BgsubError(f"the background saved with the model is {bg.shape[-1]}x{bg.shape[-2]} but the frames "
                             f"are {frames.shape[-1]}x{frames.shape[-2]} (width x height): --reuse-background needs "
                             "the video the model was trained on, or one of the same size; without it the "
                             "background is estimated from this video")

    def started(self) -> Optional[object]:
        """A copy of the background model as :meth:`begin` left it, before any frame is stepped: a first pass
        (``segment.prescan``) and the segmentation after it start from copies of it instead of starting the model
        on the same window twice more (about 0.3 s each at 160 x 120). None when begin took a first pass's
        findings (a model trained on this video: then the pass starts without them, from the window alone)."""
        if self._adopted:
            return None
        return copy.deepcopy(self._background())

    def _adopt_lookahead(self) -> bool:
        """With ``segment.lookahead``: the training pass's findings (:attr:`TrainState.lookahead`) for the pixels
        whose window did not show the scene, taken by the background model just started if it was started on the
        same window (:meth:`bgsub.background.stable.StableSearch.adopt`). Returns whether they were taken."""
        found = self.state.lookahead
        if not (found and self.cfg.segment.lookahead and hasattr(self.bg, "adopt")):
            return False
        if self.bg.adopt(found):
            log.info("background: %d pixels the rest of the video showed stiller than the window did start from "
                     "the stillest frames a first pass over it found (segment.lookahead)", len(found["pixels"]))
            return True
        log.info("background: the first pass's findings belong to another window (another video, or frames "
                 "read at another size): not used")
        return False

    def _second_pass_due(self) -> bool:
        """After a first pass over the video: whether it found anything for a second (``segment.lookahead``)."""
        return self.state.lookahead is not None and bool(self.cfg.segment.lookahead)

    def keep_lookahead(self) -> None:
        """After a pass over the video (training, or :meth:`look_ahead`): what its background model's search found,
        for segmenting it."""
        self.state.lookahead = self.bg.lookahead() if hasattr(self.bg, "lookahead") else None

    PRESCANS = ("auto", "true", "false")

    def _prescan_mode(self) -> str:
        """``segment.prescan`` checked (a one-line error naming the settings); "false" where no first pass can
        help: without ``segment.lookahead``, or without a background model updated over time."""
        mode = self.cfg.segment.prescan
        if isinstance(mode, bool):  # true / false in a config file or --set
            mode = "true" if mode else "false"
        if mode not in self.PRESCANS:
            raise BgsubError(f"segment.prescan must be one of {', '.join(self.PRESCANS)}, got {mode!r}")
        if not (self.cfg.model.reference and self.cfg.segment.lookahead and self.streams):
            return "false"
        return mode

    @property
    def prescans(self) -> bool:
        """``segment.prescan=true`` (with ``segment.lookahead``) and a background model updated over time: the
        pipeline runs a first pass (:meth:`forget_lookahead`, ``begin``, :meth:`look_ahead` over every frame,
        :meth:`keep_lookahead`) before segmenting."""
        return self._prescan_mode() == "true"

    def unsettled_share(self) -> float:
        """After :meth:`begin`: the share of the pixels its window never saw still (0.0 for a static reference)."""
        share = getattr(self.bg, "unsettled_share", None)
        return float(share()) if share is not None else 0.0

    # segment.prescan=auto: a first pass when more than this share of the pixels were never still in the window
    # (sbi-foliage 0.47, the dynamic scenario's swaying region 0.17; the other sequences of the README's benchmark
    # 0.02 at most). A first pass costs about a segment's time and can change the masks at those pixels alone: it
    # is worth its time where they are a sizable part of the frame
    PRESCAN_SHARE = 0.1

    def prescan_due(self) -> bool:
        """After :meth:`begin`, with ``segment.prescan=auto``: whether a first pass over the video should come
        before segmenting it, because more than :attr:`PRESCAN_SHARE` of the pixels were never still in the
        window and begin took no first pass's findings (a per-video network's training pass has one when it
        could). The pipeline decides whether the source allows it."""
        return self._prescan_mode() == "auto" and not self._adopted and self.unsettled_share() > self.PRESCAN_SHARE

    def forget_lookahead(self) -> None:
        """Drop what an earlier pass found (a first pass starts from its own window alone)."""
        self.state.lookahead = None

    def look_ahead(self, frames: torch.Tensor) -> None:
        """The first pass of ``segment.prescan``: the background model stepped over ``frames`` (consecutive, in
        order), no network."""
        self._background().step(frames)

    def fit(self, clip: torch.Tensor) -> "UNetMethod":
        """clip: (P, C, H, W). Reference network: consecutive frames of one video from its first (the
        initialisation window first; the background model is started on it and stepped over all of them, and the
        network trained on all of them); see :meth:`fit_stream` for a whole video. The paper's network: the
        training pool."""
        import torch

        from bgsub.training import fit_threshold, train_model

        if not self.cfg.model.reference:
            self.state = train_model(self.model, clip, self.cfg, state=self.state, progress=self.progress)
            self.state.threshold = fit_threshold(self.model, clip, self.cfg)
            return self
        def inputs_of_clip(adopt: bool) -> torch.Tensor:
            self.estimate_reference(clip)  # fitting always starts the background from these frames (never reused)
            if adopt:
                self._adopt_lookahead()
            inputs = torch.cat([self.network_inputs(clip[i : i + 32]) for i in range(0, clip.shape[0], 32)])
            self.keep_lookahead()
            return inputs

        inputs = inputs_of_clip(False)
        if self._second_pass_due():  # as fit_stream
            inputs = inputs_of_clip(True)
        return self.train_on(inputs)

    def collect_inputs(self, chunks, keep: set[int], *, adopt: bool = False) -> dict[int, torch.Tensor]:
        """The network inputs of the frames ``keep`` of a video given as its consecutive
        :class:`~bgsub.io.frames.Chunk` s, read once: the background model is started on the first
        ``background.init`` frames and stepped over every frame up to the last one kept. ``adopt``: the model,
        just started, takes a first pass's findings (:meth:`_adopt_lookahead`) as segmenting will. Memory: the
        window plus the kept inputs at the network's size."""
        import torch

        buf: list[torch.Tensor] = []
        nums: list[int] = []
        want = max(1, self.cfg.background.init)  # fitting always starts the background (never reused)
        kept: dict[int, torch.Tensor] = {}
        last = max(keep) if keep else None
        started = False

        def consume(numbers: list[int], frames: torch.Tensor) -> None:
            x = self.network_inputs(frames)
            for j, n in enumerate(numbers):
                if n in keep:
                    kept[n] = x[j].clone()

        for chunk in chunks:
            if not started:
                buf.append(chunk.frames)
                nums.extend(chunk.numbers)
                if len(nums) < want:
                    continue
                frames = torch.cat(buf)
                self.estimate_reference(frames[:want])
                if adopt:
                    self._adopt_lookahead()
                consume(nums, frames)
                started, buf = True, []
            else:
                consume(chunk.numbers, chunk.frames)
            if last is not None and chunk.numbers[-1] >= last:
                break
        if not started and buf:  # a video shorter than the window
            frames = torch.cat(buf)
            self.estimate_reference(frames)
            if adopt:
                self._adopt_lookahead()
            consume(nums, frames)
        close = getattr(chunks, "close", None)
        if close is not None:  # stop reading ahead now (a second pass or the training comes next)
            close()
        return kept

    def fit_stream(self, chunks, keep: set[int], again=None) -> "UNetMethod":
        """Fit on a video given as its consecutive chunks (:meth:`collect_inputs`): the network is trained on the
        inputs of the frames ``keep`` (and of the labelled frames of :meth:`attach_labels`). ``again``: a callable
        that gives the chunks once more (the video read a second time): when the first pass found something for
        a second one (``segment.lookahead``), the inputs are collected again by a model that takes it, so that the
        network is trained on the inputs of a background model like the one it will be given when this video is
        segmented; that pass's findings are the ones kept (its stillness and its light are measured against a
        background that the first pass's findings already corrected)."""
        import torch

        labelled = list(getattr(self, "label_numbers", []) or [])
        want = set(keep) | set(labelled)
        kept = self.collect_inputs(chunks, want)
        self.keep_lookahead()
        if again is not None and self._second_pass_due():
            kept = self.collect_inputs(again(), want, adopt=True)
            self.keep_lookahead()  # the second pass's findings, measured in the light of a better background
        order = [n for n in sorted(kept) if n in keep]
        if not order:
            raise BgsubError("none of the frames to fit on was read")
        if labelled and getattr(self, "labels", None) is not None:
            self.labels = (torch.stack([kept[n] for n in labelled]), self.labels[1], self.labels[2])
            self._labels_are_inputs = True
        return self.train_on(torch.stack([kept[n] for n in order]))

    INITS = ("auto", "pretrained", "scratch")

    def start_weights(self) -> str:
        """Before a training from step 0: load the shipped network's weights (``model.weights`` names another
        file) into this one when ``train.init`` asks for it (``auto``: when this config builds the same
        architecture; ``pretrained``: or a one-line error), and cap the steps at ``train.tune_epochs``. The network
        pretrained over many videos adapts to this one in a quarter of the steps, and scores higher than fresh
        weights (README: Detection quality). Returns "pretrained" or "scratch"; a resumed run keeps its weights."""
        import dataclasses

        from bgsub.training import check_train_config

        tc = self.cfg.train
        if tc.init not in self.INITS:
            raise BgsubError(f"train.init must be one of {', '.join(self.INITS)}, got {tc.init!r}")
        check_train_config(tc)
        if self._started_from is not None:  # chosen already (the pipeline asks first)
            return self._started_from
        if self.state.epoch > 0:  # a resumed run: its weights are the run's own
            return "pretrained" if tc.init == "pretrained" else "scratch"
        self._started_from = self._load_start(tc)
        if self._started_from == "pretrained":
            self.cfg = dataclasses.replace(self.cfg, train=dataclasses.replace(
                tc, init="pretrained", epochs=min(tc.epochs, tc.tune_epochs)))
            self._fused = None
        return self._started_from

    def _load_start(self, tc) -> str:
        if tc.init == "scratch":
            return "scratch"
        if not self.cfg.model.reference:
            if tc.init == "pretrained":
                raise BgsubError("train.init=pretrained needs the reference network (model.reference=true)")
            return "scratch"
        from bgsub.weights import load_network

        try:
            shipped = load_network(self.cfg.model.weights)[0]
        except BgsubError as e:
            if tc.init == "pretrained":
                raise
            log.info("train.init=auto: fresh weights (%s)", e)
            return "scratch"
        if shipped.spec != self.model.spec:
            if tc.init == "pretrained":
                raise BgsubError(f"train.init=pretrained: the shipped network is {shipped.spec}, this config "
                                 f"builds {self.model.spec}; drop the model settings that differ")
            return "scratch"
        self.model.load_state_dict(shipped.state_dict())
        return "pretrained"

    def train_on(self, inputs: torch.Tensor) -> "UNetMethod":
        """Train the reference network on ``inputs`` (P, C, h, w): log(1 + z) at the network's size, from the
        weights :meth:`start_weights` chooses."""
        from bgsub.training import train_model

        self.start_weights()
        labels = getattr(self, "labels", None)
        if labels is not None and not getattr(self, "_labels_are_inputs", False):
            from bgsub.background.state import StaticReference

            if not isinstance(self.bg, StaticReference):
                raise BgsubError("train.label_frames with background.model=samples needs the whole video "
                                 "(bgsub train / benchmark), not fit() on a clip")
            labels = (network_input(self.bg.step(labels[0]), self.cfg.model.pixels), labels[1], labels[2])
        self.state = train_model(self.model, inputs, self.cfg, state=self.state, progress=self.progress,
                                 labels=labels, inputs=True, checkpoint=getattr(self, "checkpoint", None))
        return self

    def _inference_model(self) -> UNet:
        """The network with batch norm folded into the convolutions, rebuilt whenever the weights changed."""
        from bgsub.models.unet import fuse_for_inference

        version = sum(p._version for p in self.model.parameters()) + sum(b._version for b in self.model.buffers())
        key = (id(self.model), version)
        if self._fused is None or self._fused[0] != key:
            self._fused = (key, fuse_for_inference(self.model))
        return self._fused[1]

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        if self.net is not None:  # the network through OpenCV: NumPy, no torch
            from bgsub.methods.zeroshot import decompose_arrays

            return decompose_arrays(self, clip)
        import torch

        with torch.inference_mode():
            return self._decompose(clip)

    def _decompose(self, clip: torch.Tensor) -> Decomposition:
        import torch

        from bgsub.devices import resolve_device
        from bgsub.netinput import autocast, memory_format

        sc = self.cfg.segment
        device = resolve_device(sc.device)
        fmt = memory_format(sc.channels_last)
        with self._lock:  # the folded copy is built and moved once, not by two windows at the same time
            model = self._inference_model().to(device=device, memory_format=fmt)  # an eval-mode copy
        bg = self._background() if self.cfg.model.reference else None
        inputs = snap = None
        if isinstance(clip, Prepared):
            clip, inputs, snap = clip.clip, clip.inputs, clip.background
        outs = []
        for i in range(0, clip.shape[0], max(1, sc.batch)):
            x = clip[i : i + sc.batch]
            if bg is not None:
                x = inputs[i : i + sc.batch] if inputs is not None else self.network_inputs(x)
            x = x.to(device).contiguous(memory_format=fmt)
            with autocast(device, sc.bf16):
                outs.append(model(x).float().cpu().contiguous())
        if bg is not None:  # the masks from the logits as the OpenCV engine makes them (one piece of code)
            import numpy as np

            from bgsub.methods.zeroshot import finish

            logits = torch.cat(outs).numpy() if outs else np.zeros((0, 1, *clip.shape[-2:]), np.float32)
            if inputs is None:  # the state was stepped over this window just now, in this thread
                snap = bg.snapshot()
            return finish(self, clip, logits, snap)
        S = torch.cat(outs) if outs else torch.zeros_like(clip)
        masks = magnitude(S) > self.state.threshold if self.decides_masks else None
        return Decomposition(background=clip - S, foreground=S, masks=masks)

