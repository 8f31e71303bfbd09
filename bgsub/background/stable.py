"""The stable start, online: each pixel's samples are its stillest frames seen so far (LaBGen, streamed).

The sample model's window (its first ``background.init`` frames) gives each pixel the frames in which it moved
least (:mod:`bgsub.background.start`). After the window, :class:`StableSearch` goes on: each new frame's local
motion (measured as in the window, :func:`bgsub.background.start.frame_motion`) is compared with the pixel's
least still kept frame, and replaces it where it moved less. Leaves that sweep across the lens for the whole
window, never quite still, give way to the scene behind them once it shows still, with no delay before the first
mask. The search runs for every pixel up to ``horizon`` frames and, past it, up to ``open_horizon`` only for the
pixels the window never saw stand still (a background it never showed may show later; where the window saw the
scene still, an object that stops stays foreground instead of being taken for the stillest thing there).

The search says when the model should set its samples again from the kept values (:func:`settle_due`, and at
each horizon): :meth:`StableSearch.step` returns (pixels, values), ``pixels`` None for every pixel.

**A second pass over the same video** (:meth:`StableSearch.lookahead`, :meth:`StableSearch.adopt`): where the
window saw a pixel at best twice as moving as the video later did (leaves across the lens, someone who stood in
view), a search that has run over the whole video knows that pixel's stillest frames of the whole video, which the
window could not. (``unsettled``, the pixels the window never saw still - the health check's measure: fewer still
frames than their samples need - is what ``segment.prescan=auto`` reads a file twice for; of those, the ones the
video never shows stiller, a background that moves all the time, keep the window's samples.) A model started again
on the same window (checked by the window's fingerprint) may adopt them for those pixels only: the per-video
network's training pass runs such a search, and its segmentation pass starts from it (``segment.lookahead``).
Where the window saw the scene as still as the rest of the video shows it, nothing changes, so an object that
stops there and stands as still as the scene stays foreground exactly as in one pass (the stopped-object policy).
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np

from bgsub.background import kernels
from bgsub.background.ghost import take_in
from bgsub.background.start import frame_motion, motion_at
from bgsub.background.stats import median0

SETTLE_EVERY = 16  # frames between two re-settings of the samples from the kept values, at least
SETTLE_SHARE = 16  # ... and at least this share of the frames seen (1/16 of them)
LOOKAHEAD_STILLER = 0.5  # a second pass takes a pixel whose stillest frames of the whole video are this much
#                          stiller than the window's (the median of each set's motions): twice as still. Noise
#                          alone does not make that (the 20 stillest of 1700 frames of noise against the 20 stillest
#                          of 100: 0.7 or more at 89% of highway's pixels, 0.5 or more at 99%)


def settle_due(t: int, last: int) -> bool:
    """Whether frame ``t`` should set the samples again from the kept values, the last setting having been at
    frame ``last``: on multiples of :data:`SETTLE_EVERY`, once at least ``t // SETTLE_SHARE`` frames have passed
    (every 16 frames up to frame 256, then further apart). A new frame is among the ``n`` stillest of ``t`` with
    probability ``n / t``: the kept values change ever more rarely, and setting the samples again (about 13 ms
    for 160 x 120 pixels with the compiled kernels, 45 ms without) at a fixed rate would cost more and more for
    less and less."""
    return t % SETTLE_EVERY == 0 and t - last >= t // SETTLE_SHARE


class StableSearch:
    """Each pixel's ``n`` kept values (its stillest frames so far) and their motions, flat over the pixels searched
    (every pixel up to ``horizon``, then the ``open`` ones), with each pixel's least still kept frame tracked
    incrementally (it changes only where a value was replaced)."""

    def __init__(self, vals: np.ndarray, mot: np.ndarray, *, first: int, horizon: int, box: int, camera: float,
                 motion: str, norm: Optional[tuple], open_mask: Optional[np.ndarray] = None, open_horizon: int = 0,
                 stiller: float = 1.0):
        n, C = vals.shape[:2]
        self.shape = vals.shape[1:]  # (C, h, w)
        self.vals = np.ascontiguousarray(vals.reshape(n, C, -1), dtype=np.float32).copy()  # (n, C, P)
        self.mot = np.ascontiguousarray(mot.reshape(n, -1), dtype=np.float32).copy()  # (n, P)
        self.worst = np.argmax(self.mot, axis=0)
        self.wm = self.mot[self.worst, np.arange(self.mot.shape[1])].copy()
        self.idx: Optional[np.ndarray] = None  # flat pixel indices searched (None: all)
        self.first, self.horizon, self.box, self.camera, self.motion, self.norm = first, horizon, box, camera, motion, norm
        self.open_mask = open_mask if open_mask is not None and open_horizon > horizon else None
        self.open_horizon = open_horizon
        self.sparse = False  # the open pixels' motion from their neighbourhoods alone (:func:`motion_at`)
        self.p2: Optional[np.ndarray] = None
        self.p1: Optional[np.ndarray] = None
        self.done = False
        self.last = first  # the frame the samples were last set from the kept values
        self.stiller = np.float32(stiller)  # a new frame replaces a kept one when its motion is below this share of it
        # the pixels the window never saw still (whatever the open horizon), and the window's fingerprint: what a
        # second pass over the same video may take from this search (lookahead / adopt)
        self.unsettled = None if open_mask is None else np.ascontiguousarray(np.reshape(open_mask, -1), dtype=bool)
        digest = hashlib.sha1(usedforsecurity=False)  # (an identity, not a secret: the fastest of hashlib's here)
        digest.update(self.vals)
        digest.update(self.mot)
        self.fingerprint = digest.hexdigest()
        self.searched = False  # a frame after the window has been searched (before that nothing is new)
        self.window_motion = median0(self.mot)  # (P,) each pixel's kept frames' motion in the window

    def lookahead(self) -> Optional[dict]:
        """What this search has found so far for the pixels whose window was not the scene: those whose stillest
        frames so far are twice as still as the window's (:data:`LOOKAHEAD_STILLER`: leaves that crossed the lens
        through the window and left, someone who stood in view moving a little and left). Whether the window saw
        a pixel still or not (``unsettled``), a second pass changes it only where the rest of the video showed it
        stiller: a background that moves all the time (swaying branches) keeps the window's samples, as the
        stillest frames of the whole video would only narrow them to one phase of its motion.
        ``{"fingerprint": the window's, "pixels": flat indices (P,), "vals": their kept values (n, C, P), "mot":
        their motions (n, P)}``, or None when there are none, or when no frame after the window has been searched
        yet (a video no longer than its window: a second pass would start from what the first started from)."""
        if not self.searched:
            return None
        # past the horizon the kept values are the open pixels' alone, in order (``idx``)
        window = self.window_motion if self.idx is None else self.window_motion[self.idx]
        cols = np.flatnonzero(median0(self.mot) < np.float32(LOOKAHEAD_STILLER) * window)
        if not cols.size:
            return None
        pixels = cols if self.idx is None else self.idx[cols]
        return {"fingerprint": self.fingerprint, "pixels": pixels.astype(np.int64),
                "vals": self.vals[:, :, cols].copy(), "mot": self.mot[:, cols].copy()}

    def adopt(self, found: Optional[dict]) -> bool:
        """Take ``found`` (:meth:`lookahead` of a search over the same video, started on the same window) for its
        pixels: their kept values and motions become its. False (nothing changed) when it comes from another
        window, does not fit, or this search has moved past the window already."""
        if not found or found.get("fingerprint") != self.fingerprint or self.idx is not None or self.p1 is not None:
            return False
        pixels = np.asarray(found["pixels"], dtype=np.int64)
        vals, mot = np.asarray(found["vals"], np.float32), np.asarray(found["mot"], np.float32)
        n, C, P = self.vals.shape
        if (pixels.ndim != 1 or vals.shape != (n, C, pixels.size) or mot.shape != (n, pixels.size)
                or (pixels.size and (pixels.min() < 0 or pixels.max() >= P))):
            return False
        self.vals[:, :, pixels] = vals
        self.mot[:, pixels] = mot
        self._rescore(pixels)
        return True

    def take_in(self, pixels: np.ndarray, v: np.ndarray, thr: np.ndarray) -> None:
        """A ghost's pixels (flat indices, ``pixels`` (P,)): their kept values more than ``thr`` (P,) off the frame's
        ``v`` (C, P) in any channel become ``v`` (:func:`bgsub.background.ghost.take_in`), their motions kept;
        past the horizon, those of the open pixels among them."""
        if self.idx is None:
            self.vals[:, :, pixels] = take_in(self.vals[:, :, pixels], v, thr)
            return
        pos = np.minimum(np.searchsorted(self.idx, pixels), self.idx.size - 1)  # (idx: the open pixels, sorted)
        ok = self.idx[pos] == pixels
        if ok.any():
            self.vals[:, :, pos[ok]] = take_in(self.vals[:, :, pos[ok]], v[:, ok], thr[ok])

    def moved(self, dy: int, dx: int, fresh: np.ndarray) -> bool:
        """The view moved by (dy, dx) working pixels (:mod:`bgsub.background.follow`): every pixel's kept values and
        motions move with it (the rows and columns with no source repeating the nearest); the pixels that came
        into view (``fresh``, (h, w)) are left out of the search (their kept motions -inf: no frame replaces them;
        their kept values are their samples, :meth:`fill` and :meth:`learn`: a pixel first seen after the start
        has no window's stillest frames for a stiller one to improve on, and an object standing in it as it
        learns would be taken in at once). False, nothing changed, past the horizon (the open pixels alone: the
        search then ends)."""
        if self.idx is not None:
            return False
        from bgsub.background.follow import shifted

        n, C, _ = self.vals.shape
        h, w = self.shape[1:]
        self.vals = shifted(self.vals.reshape(n, C, h, w), dy, dx).reshape(n, C, -1)
        mot = shifted(self.mot.reshape(n, h, w), dy, dx)
        mot[:, fresh] = -np.inf
        self.mot = mot.reshape(n, -1)
        self.window_motion = shifted(self.window_motion.reshape(h, w), dy, dx).reshape(-1)
        self.p2 = None if self.p2 is None else shifted(self.p2, dy, dx)
        self.p1 = None if self.p1 is None else shifted(self.p1, dy, dx)
        if self.open_mask is not None:
            self.open_mask = shifted(np.reshape(self.open_mask, (h, w)), dy, dx) | fresh
        if self.unsettled is not None:
            self.unsettled = (shifted(self.unsettled.reshape(h, w), dy, dx) | fresh).reshape(-1)
        self._rescore(np.arange(self.mot.shape[1]))
        return True

    def fill(self, fresh: np.ndarray, v: np.ndarray) -> None:
        """The kept values of the pixels that came into view (``fresh`` (h, w)): the frame's ``v`` (C, h, w), as
        their samples start."""
        n, C, _ = self.vals.shape
        idx = np.flatnonzero(fresh)
        self.vals[:, :, idx] = v.reshape(C, -1)[None, :, idx]

    def learn(self, j: np.ndarray, idx: np.ndarray, v: np.ndarray) -> None:
        """Pixels learning their samples (flat ``idx`` (P,)): kept value ``j`` (P,) of each is ``v`` (C, P), as its
        sample ``j`` is (the samples are set again from the kept values now and then)."""
        self.vals[j, :, idx] = v.T

    def _rescore(self, q: np.ndarray) -> None:
        """Each of the (searched) pixels ``q``'s least still kept frame and its motion, after their kept motions
        changed."""
        sub = self.mot[:, q]
        self.worst[q] = np.argmax(sub, axis=0)
        self.wm[q] = sub[self.worst[q], np.arange(q.size)]

    def step(self, xc: np.ndarray, t: int) -> Optional[tuple[Optional[np.ndarray], np.ndarray]]:
        """Frame ``t`` (its index in the video), in the model's light (C, h, w): the frame before it gets its
        motion and may replace a kept value. Returns (flat pixel indices or None for all, their kept values (n, C,
        h, w) for all or (n, C, P)) when the samples should be set again from them, else None."""
        p2, p1 = self.p2, self.p1
        self.p2, self.p1 = p1, xc
        if t <= self.first or p2 is None:  # the window's own frames (already chosen from), stepped
            return None
        self.searched = True
        if self.idx is not None and self.sparse:  # a few open pixels: their neighbourhoods alone
            mm = motion_at((p2, p1, xc), self.idx, self.box, self.camera, self.motion, self.norm)
        else:
            mm = frame_motion((p2, p1, xc), self.box, self.camera, self.motion, self.norm).reshape(-1)
            if self.idx is not None:
                mm = mm[self.idx]
        src = p1.reshape(p1.shape[0], -1)
        # the kept values a stiller frame replaces, and those pixels' least still kept frames found again: one
        # compiled pass over the pixels (the same values), or NumPy's whole-array steps below
        if kernels.keep_stiller(np.ascontiguousarray(mm), self.stiller, self.wm, self.worst, self.vals, self.mot,
                                np.ascontiguousarray(src), self.idx) is not None:
            q = np.empty(0, np.intp)
        else:
            q = np.flatnonzero(mm < self.wm * self.stiller)  # (x 1 is exact: any stiller frame)
        if q.size:
            j = self.worst[q]
            self.vals[j, :, q] = (src[:, q] if self.idx is None else src[:, self.idx[q]]).T
            self.mot[j, q] = mm[q]
            self._rescore(q)
        if self.idx is not None:  # past the horizon: the open pixels alone
            end = t + 1 >= self.open_horizon
            self.done = end
            if not (end or settle_due(t, self.last)):
                return None
            self.last = t
            return self.idx, self.vals
        if t + 1 < self.horizon:
            if not settle_due(t, self.last):
                return None
            self.last = t
            return None, self.vals.reshape((-1,) + self.shape).copy()
        self.last = t
        out = (None, self.vals.reshape((-1,) + self.shape).copy())
        if self.open_mask is not None and self.open_mask.any() and self.open_horizon > t + 1:
            idx = np.flatnonzero(self.open_mask)  # go on with these pixels' kept values and motions only
            self.vals, self.mot = self.vals[:, :, idx].copy(), self.mot[:, idx].copy()
            self.worst, self.wm = self.worst[idx].copy(), self.wm[idx].copy()
            self.idx = idx
            # each pixel's neighbourhood costs about twice a whole frame's pixel: half a frame's worth or less
            h, w = self.shape[1:]
            self.sparse = idx.size * (self.box + 2) ** 2 <= h * w // 2 and self.box // 2 + 1 < min(h, w)
        else:
            self.done = True
        return out
