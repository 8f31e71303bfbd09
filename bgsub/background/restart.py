"""A new view: the sample model starts again when most of the view changed and stands still (a camera re-pointed).

A camera knocked to a new position, a PTZ camera moved to another preset, or a cut in edited footage replaces the
whole view. Registration (:mod:`bgsub.io.stabilize`) takes a jump within a quarter of the frame back to the first
frame's view; past that the frames are left as they are, and every pixel of the new view is far from its samples.
The model's own healing cannot take the new view in: the spatially diffused updates start only where a pixel is
background already, and the stillest-frame search (:mod:`bgsub.background.stable`) keeps frames of the old view,
which were as still. Measured on the default clip with its view jumping 60 pixels at frame 151 of 400 (160 x 120):
F 0.97 before the jump, 0.13-0.46 in each 50 frames after it, never recovering.

The field's answer is a frame-level test (SuBSENSE, St-Charles et al. 2015: when the downscaled frame changes
drastically over most of the view, the model is refreshed from the new frames). Here: a frame is a **new view**
when more than half of its pixels are at once foreground (``z > k``) and still (frame difference within 4 noise
levels, max over channels, the initialisation window's test of a pixel standing still); after ``frames``
consecutive new-view frames the model starts again from exactly those frames, as from an initialisation window
(the same stillest-frame selection, noise levels and health check). ``frames`` is the number of samples (20 by
default, 0.8 s at 25 frames a second): as many frames as the model keeps values of a pixel. That is a short window
(fewer than twice the samples), so the new model keeps each pixel's stillest half of them (10 samples), and the
stillest-frame search goes on from there. Twice the samples (a full window, 20 samples) was measured too: on the
``cut`` scenario (200 frames, 160 x 120, zero-shot) F 0.497 against 0.644, the same after both restarts (0.87-0.88
from frame 181), the difference being the 20 more frames of a wrong model; MOG2 0.573, without a restart 0.397.

What each part rules out:

- *most of the view*: an object, even a large one close to the camera, covers part of it (sbi-board's people at
  most 31% of the frame at once, changed and still together);
- *still*: leaves sweeping across the lens or a pan cover most of the view but move (sbi-foliage: more than half of
  the frame changed and still in 1 frame at most, never 2 in a row; the `track` scenario's refused pan, 7);
- *foreground*: a light switched on is undone by the illumination compensation first (the ``light-switch``
  scenario: at most 7% of the frame);
- *for ``frames`` frames in a row*: a flash, a passing bus. An object that stops and fills most of the view for
  that long is taken for a new view: the stated policy (it is foreground for ``frames`` frames, then background).

On the eight sequences of ``../shared/data`` no run of new-view frames comes close (the longest, sbi-foliage's, is
1 frame), nor on any scenario but ``cut`` (the longest, ``track``'s at 150 frames, 7); the README has the numbers.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

NEW_VIEW_SHARE = 0.5  # more than this share of the frame's pixels foreground and still: a new view
STILL_LEVELS = 4.0  # a pixel stands still: frame difference within this many noise levels (as the window's test)


class ViewWatch:
    """Counts consecutive new-view frames and keeps them (the working frames and their textures) while they last.
    :meth:`see` returns the kept frames when there are ``frames`` of them (the model then starts again from them),
    else None."""

    def __init__(self, frames: int):
        self.frames = int(frames)
        self._prev: Optional[np.ndarray] = None
        self._xs: list[np.ndarray] = []
        self._ts: list[Optional[np.ndarray]] = []

    def see(self, x: np.ndarray, tex: Optional[np.ndarray], zmax: np.ndarray, sigma: np.ndarray, k: float
            ) -> Optional[tuple[np.ndarray, Optional[np.ndarray]]]:
        """Frame ``x`` (C, h, w) working grey levels as read (not compensated), its texture ``tex`` (h, w) or None,
        its largest z over the channels ``zmax`` (h, w) and the model's noise levels ``sigma`` (h, w). Returns
        (frames (T, C, h, w), textures (T, h, w) or None) when this frame completes ``frames`` new-view frames in
        a row (the run is then cleared), else None."""
        prev, self._prev = self._prev, x
        if prev is None or prev.shape != x.shape:
            return None
        fg = zmax > k
        n = fg.size
        if np.count_nonzero(fg) <= NEW_VIEW_SHARE * n:  # (cheap: most frames stop here)
            self._clear()
            return None
        still = np.abs(x - prev).max(axis=0) <= STILL_LEVELS * sigma
        if np.count_nonzero(fg & still) <= NEW_VIEW_SHARE * n:
            self._clear()
            return None
        self._xs.append(x.copy())
        self._ts.append(None if tex is None else np.array(tex, np.float32))
        if len(self._xs) < self.frames:
            return None
        xs = np.stack(self._xs)
        ts = None if any(t is None for t in self._ts) else np.stack(self._ts)
        self._clear()
        return xs, ts

    @property
    def run(self) -> int:
        """New-view frames in a row so far."""
        return len(self._xs)

    def _clear(self) -> None:
        self._xs.clear()
        self._ts.clear()
