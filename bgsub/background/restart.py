"""A new view: the sample model starts again when most of the view changed and stands still (a camera re-pointed).

A camera knocked to a new position, a PTZ camera moved to another preset, or a cut in edited footage replaces the
whole view. Registration (:mod:`bgsub.io.stabilize`) takes a jump within a quarter of the frame back to the first
frame's view; past that the frames are left as they are, and every pixel of the new view is far from its samples.
The model's own healing cannot take the new view in: the spatially diffused updates start only where a pixel is
background already, and the stillest-frame search (:mod:`bgsub.background.stable`) keeps frames of the old view,
which were as still. Measured on the default clip with its view jumping 60 pixels at frame 151 of 400 (160 x 120):
F 0.97 before the jump, 0.13-0.46 in each 50 frames after it, never recovering.

The field's answer is a frame-level test (SuBSENSE, St-Charles et al. 2015: when the downscaled frame changes
drastically over most of the view, the model is refreshed from the new frames). Here a run of **new-view frames**
begins at a frame more than half of whose pixels are foreground (``z > k``); each further frame must be more than
half foreground, and most of its foreground still since the run's first frame (within 4 noise levels of it, max
over the channels, the initialisation window's test of a pixel standing still, after each channel's median
difference is taken off: a change of light, an exposure that settles, is no motion). *Most of its foreground*, not
more than half of the frame (until the thirty-first session): a new view that looks like the old one over 40% of
the frame (flat walls, a road, moved by half the frame) was more than half foreground by 10-25% of the frame, and
the objects moving in it broke every run (the ``cut`` scenario at 320 x 240: runs of 4-7 frames, one of 21, none
of 40; F 0.48-0.50 `consensus` against 0.70 now; on the eight sequences, the fifteen proxies and 19 camera clips no
run is longer, the longest sbi-foliage's 14 frames, and no F changes).

After ``frames`` such frames in a row the model starts again from exactly those frames, as from an initialisation
window (the same stillest-frame selection, noise levels and health check), and the stillest-frame search goes on
from there. ``frames`` is twice the samples (40 by default, 1.6 s at 25 frames a second): a full window, not a
short one.

**The new view in use before it is certain** (``early``, half of ``frames``: the samples, 20 by default). At the
run's ``early``-th frame a model is made from the run's frames so far (a short window: each pixel's stillest half
of them, as for a short clip), and from the next frame its z is given while the old model goes on stepping beside
it. From then on the run lasts while the old model sees more than half of the frame as foreground and the early
model less than half (two hypotheses of the view, the one that explains the frame given); when it completes, the
model starts again from all of its frames as above; when it breaks, the early model is dropped and the old one,
which never stopped, is given again. Without it the new view's first 40 frames were the old model's: the ``cut``
scenario (200 frames, 160 x 120, zero-shot) 0.505 -> 0.660 (`consensus` 0.512 -> 0.668; `median` 0.539, MOG2
0.573; thirty-first session). The run's first half keeps its stillness test (runs on the eight sequences end by
their 14th frame): where no view changes nothing changes (the eight's F the same on all 64 pairs).

Why each choice (measured, this module's history in the README, eighteenth session):

- *still since the run's first frame*, not since the frame before: sbi-foliage's leaves, with the per-video
  network's second pass (whose model, adopting the stillest frames of the whole video, sees them as foreground),
  drift so slowly that more than half of the frame was foreground and within 4 noise levels of the frame before
  for 20 frames in a row: a restart there took the leaves in (F 0.847 -> 0.686). Since the run's first frame, its
  longest run is 13 frames.
- *40 frames*, not 20: that margin (13 against 40). The cost is 20 more frames of a wrong model after a real
  change: the ``cut`` scenario (200 frames, 160 x 120, zero-shot) F 0.502 against 0.644 at 20 (and 0.397
  without a restart; MOG2 0.573, which forgets its model in about as many frames), the same masks once started
  again (F 0.85-0.88 from 40 frames after the cut).
- *most of the view*: an object, even one close to the camera, covers part of it (sbi-board's people: never more
  than half of the frame foreground);
- *foreground*: a light switched on is undone by the illumination compensation first (the ``light-switch``
  scenario: at most 8% of the frame foreground).
- The policy: an object that fills most of the view and stands still for 20 frames is taken for a new view
  (foreground for 20 frames, then background; for good when the early model explains the frame for 20 more). A
  new view whose changed part objects sweep over more than half of within 20 frames is not taken: the test needs
  the new view to show (the ``cut`` scenario at 96 x 128 over 90 frames, whose objects sweep a third of the view
  within 5 frames, gave a model of 8 samples at most 7 frames in a row of the 16 it needs).

On the eight sequences of ``../shared/data`` (every default method) no run comes close (the longest, sbi-foliage's,
13 frames; 14 with the foreground's share), nor on any scenario but ``cut`` (the longest, ``track``'s at 150
frames, 7; at 320 x 240 and seeds 1 and 2 none of the thirteen others reaches 5).
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from bgsub.background.illumination import offset
from bgsub.background.stats import _channel_max

log = logging.getLogger("bgsub")

NEW_VIEW_SHARE = 0.5  # more than this share of the frame's pixels foreground and still: a new view
STILL_LEVELS = 4.0  # a pixel stands still: frame difference within this many noise levels (as the window's test)


class ViewWatch:
    """Counts consecutive new-view frames and keeps them (the working frames and their textures) while they last.
    :meth:`see` returns the kept frames when there are ``frames`` of them (the model then starts again from them),
    else None. ``longest``: the longest run seen (what the README's margins are read from)."""

    def __init__(self, frames: int):
        self.frames = int(frames)
        self.early = self.frames // 2  # the run's frames from which a model made of them is used (0: none)
        self._xs: list[np.ndarray] = []
        self._ts: list[Optional[np.ndarray]] = []
        self.longest = 0

    def see(self, x: np.ndarray, tex: Optional[np.ndarray], zmax: np.ndarray, sigma: np.ndarray, k: float,
            early_fg: Optional[np.ndarray] = None) -> Optional[tuple[np.ndarray, Optional[np.ndarray]]]:
        """Frame ``x`` (C, h, w) working grey levels as read (not compensated), its texture ``tex`` (h, w) or None,
        its largest z over the channels ``zmax`` (h, w) and the model's noise levels ``sigma`` (h, w). Returns
        (frames (T, C, h, w), textures (T, h, w) or None) when this frame completes ``frames`` new-view frames in
        a row (the run is then cleared), else None. A run begins at a frame more than half foreground; each
        further frame must be more than half foreground, most of it still since that first frame, up to a change
        of the light (each channel's median difference to it, :func:`bgsub.background.illumination.offset`).
        ``early_fg`` (h, w) bool, the foreground of a model made of the run's first frames (the early model,
        :func:`watch_view`): the run goes on while it is at most half of the frame, in place of the stillness
        test."""
        fg = zmax > k
        n = fg.size
        if np.count_nonzero(fg) <= NEW_VIEW_SHARE * n:  # (cheap: most frames stop here)
            self.clear()
            return None
        if self._xs and early_fg is not None:  # a model of the run's first frames: it must explain most of the frame
            if np.count_nonzero(early_fg) > NEW_VIEW_SHARE * n:
                self.clear()
        elif self._xs:
            first = self._xs[0]
            d = x - first - offset(x, first)  # up to a change of the light (an exposure that settles, a drift)
            still = np.abs(d).max(axis=0) <= STILL_LEVELS * sigma
            if np.count_nonzero(fg & still) <= NEW_VIEW_SHARE * np.count_nonzero(fg):
                self.clear()  # moved since the run began: this frame may begin the next one
        self._xs.append(x.copy())
        self._ts.append(None if tex is None else np.array(tex, np.float32))
        self.longest = max(self.longest, len(self._xs))
        if len(self._xs) < self.frames:
            return None
        xs = np.stack(self._xs)
        ts = None if any(t is None for t in self._ts) else np.stack(self._ts)
        self.clear()
        return xs, ts

    def kept(self) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """The run's frames so far, as :meth:`see` returns them when the run completes (the run goes on)."""
        return np.stack(self._xs), (None if any(t is None for t in self._ts) else np.stack(self._ts))

    @property
    def run(self) -> int:
        """New-view frames in a row so far."""
        return len(self._xs)

    def clear(self) -> None:
        """The run ends (a frame that breaks it; the model moved with the view, :mod:`bgsub.background.follow`)."""
        self._xs.clear()
        self._ts.clear()


def watch_view(model, x: np.ndarray, tex: Optional[np.ndarray], raw: Optional[np.ndarray], z: np.ndarray,
               zmax: np.ndarray) -> np.ndarray:
    """The new-view test of a sample model (``model``, :class:`bgsub.background.samples.SampleModel`, after it
    stepped this frame) on the frame ``x`` (C, h, w working grey levels as read; its texture as read ``tex``,
    ``raw``; the model's ``z`` and ``zmax``); returns the z to give for it. From the run's :attr:`ViewWatch.early`-th
    new-view frame a model made from the run's frames so far (as the restart makes one from all of them) steps
    beside the old one, and its z is given while the run lasts: the run then goes on while it explains most of the
    frame. The run broken, it is dropped (the old model never stopped); the run complete, the model starts again
    from all of its frames (:func:`start_again`)."""
    watch, early = model._watch, model._early
    ze = early._step(x, tex, raw) if early is not None else None
    window = watch.see(x, tex, zmax, model.sigma, model.k, None if ze is None else _channel_max(ze) > early.k)
    if window is not None:
        start_again(model, *window)
        return z if ze is None else ze
    if early is not None and watch.run > watch.early:
        return ze
    model._early = None
    if watch.early and watch.run == watch.early:  # (its window's last frame: the old model's z)
        model._early, _ = view_model(model, *watch.kept())
        model._early._watch = None  # (the old model watches; the early one is replaced when the run completes)
    return z


def start_again(model, xs: np.ndarray, ts: Optional[np.ndarray]) -> None:
    """``model`` starts again from a new view's frames ``xs`` (T, C, h, w) working grey levels as read, the last of
    them the frame just stepped, and their textures ``ts`` (T, h, w) or None: the model made from them as from an
    initialisation window, with the same arguments, its window's frames counted as stepped (:func:`view_model`).
    Its own random stream goes on."""
    new, begin = view_model(model, xs, ts)
    early = model._watch.early
    log.warning("background: the view changed: more than half of the frame changed, most of it standing still, for "
                "%d frames from frame %d of the video (a camera moved, or a cut); the background model started again "
                "from those frames%s", xs.shape[0], begin + 1,
                f"; a model of its first {early} had been in use from frame {begin + early + 1}" if early else "")
    rng, restarts, moves = model._rng, model.restarts + [begin + 1], model.moves
    model.__dict__.update(new.__dict__)
    model._rng, model.restarts, model.moves = rng, restarts, moves


def view_model(model, xs: np.ndarray, ts: Optional[np.ndarray]):
    """(the model made from a new view's frames ``xs``, ``ts`` as from an initialisation window, with ``model``'s
    arguments, its window's frames counted as stepped; the video's frame, 0-based, the view began at): the
    restart's (:func:`start_again`), and the early model's (:func:`watch_view`)."""
    T = xs.shape[0]
    begin = model._base + model.frames_seen - T  # the video's frame (0-based) the new view began at
    new = type(model)._from_working(xs, ts, model.native, model._params)
    new._base, new.frames_seen = begin, T
    return new, begin
