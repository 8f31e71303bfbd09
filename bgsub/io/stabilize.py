"""Camera jitter: each frame moved back onto the first frame's pixel grid by a whole-pixel translation, found by
phase correlation and kept only where it brings the frame's texture closer to the first frame's.

A per-pixel background model compares each pixel with its own past: a camera that shakes by two pixels puts every
edge of the scene on a neighbouring pixel, and the edges become foreground (cdnet-highway with +-2 pixel jitter:
the shipped network's F 0.953 -> 0.833). Video stabilisation by a global translation is the classical answer
(the cameraJitter category of CDnet 2014): the frame is registered to a reference frame, segmented there, and its
mask moved back.

- **The estimate**: OpenCV's phase correlation (the normalised cross-power spectrum: a translation is a phase ramp,
  insensitive to a change of light) between the first frame and each frame, both grey, area-reduced to about 160
  pixels wide and weighted by a Hann window, scaled back to the frame's pixels. Below half a pixel each way the
  frame is taken as still (nothing else is done: a still camera pays for one small correlation a frame). Else the
  nine whole-pixel shifts around the estimate are scored by the mean absolute difference to the first frame over
  the test's pixels (below) and the best one is tested. Whole pixels: the frame is moved by copying, not
  interpolated, so a moved frame keeps its noise (which the background model measures) and a still one is never
  touched.
- **The test** (the first frame's texture, spread over the frame): in each cell of an 8 x 8 grid over the whole
  frame the 64 pixels of the strongest gradients of the first frame (a translation can only be seen where there is
  texture), their grey levels smoothed 3 x 3. Each pixel the shift keeps in view votes for the shift when its
  difference to the first frame is smaller with it than without it, against when larger; a cell votes when its net
  vote is at least a fifth of its pixels in view, one way or the other (and when at least half of them are). The
  shift is kept when at least :data:`BETTER` (3/4) of the cells that vote are for it (a camera moves every cell; a
  large object, a leaf across half the view, only its own: sbi-foliage, and ``tests/test_lookahead.py``'s leaf,
  are never moved) and it takes at least a tenth off the pixels' mean difference (:data:`GAIN`: a gesturing person
  in front of sbi-board's whiteboard made phase correlation round a sub-pixel wobble to a row, for a 1% gain, in
  16 frames). Measured on cdnet-highway and cdnet-office shaken by up to 2 pixels each way
  (``scripts/make_proxies.py``): 99.1% and 99.1% of the frames registered exactly (98.8% and 98.9% before a pan
  was followed), moved wrong 4 of highway's and 2 of office's (by a pixel); on the eight sequences of
  ``../shared/data`` 2 frames moved in all (highway's, where the camera drifted 0.6 pixel from the first frame
  for a moment).
- **The limit**: a shift of more than :data:`MAX_SHIFT` (a quarter) of the frame's smaller side is refused when
  it comes from nowhere (a jump is no shake: a leaf or a flock filling the view can make phase correlation say so);
  those frames are left as they are.
- **A slow pan or a drift is followed** up to :data:`PAN_SHIFT` (three quarters of the frame's height in rows and
  of its width in columns: at least a quarter of the view still shared with the first frame) as long as it is
  continuous: past the quarter, a shift is kept only within :data:`STEP` (3% of the smaller side) of the last
  shift kept or of where the pan's velocity (the last two kept shifts' difference over the frames between them)
  has taken the view since, and the nine whole-pixel shifts around each of the two are scored with those around
  the estimate (so that a pan is still followed where phase correlation against the first frame, sharing
  less of its view, loses the peak: a camera panning two pixels a frame was left a pixel behind, or lost, by the
  last shift's nine alone; the ``track`` scenario at 320 x 240 registered 76 of 100 frames exactly, 100 with the
  velocity). The nine around where the velocity takes the view are scored from a pan's second kept frame on, within
  the quarter too (twenty-ninth session: phase correlation against the first frame comes out short as less of its
  view is shared, three pixels behind at 28 columns of 160, and a pan of four pixels a frame then slid out of the
  nine around the estimate and the last shift: the ``pan-stop`` scenario over 120 frames had 83 of 120 frames off,
  none with it). A camera moves smoothly; a false estimate jumps. The pixels that leave the first frame's view are
  background in the masks, as for a shake (a frame registered is right where the model has seen the scene and
  says nothing elsewhere; a frame left as it is would be wrong everywhere). Past the limit (or where neither the
  estimate nor the velocity finds the pan) the frames are left as they are and **lost** (:attr:`Stabilizer.lost`):
  no model has seen their view, and ``segment`` writes their masks empty and says how many (compared with the
  first view's background they were that view's edges: the ``track`` scenario over 150 frames, zero-shot, F 0.454
  -> 0.591 at 320 x 240, 0.491 -> 0.561 at 160 x 120). A lost pan that stops (:data:`STOPPED` frames in a row
  still against the frame before) makes the frame it stopped on the reference: registration goes on against it,
  and the background model, which has seen the old view, starts again on the new one by its own test
  (:mod:`bgsub.background.restart`). The
  ``pan`` scenario (``bgsub synth --scenario pan``, the default clip seen by a camera panning steadily, 40% of the
  frame's smaller side over the clip) is this rule's test.
- **Following the view** (:meth:`Stabilizer.follow`, ``input.follow``, with the U-Net's sample model in
  ``segment``, and ``consensus``): the frames are registered onto the background model's grid instead of the first
  frame's, and the grid moves with the camera (:mod:`bgsub.background.follow`). Where the median offset of the
  last :data:`PATH` registered frames lies further from the grid than :data:`bgsub.background.follow.FOLLOW`
  (1/16) of the frame's smaller side and than three times their spread about it, the grid moves there by whole
  working pixels (:attr:`Stabilizer.move`, which the model moves by before that frame is compared). The frames are
  still registered against the first frame as long as they lie within :data:`RETAKE` (a quarter) of its height and
  width from it; a frame further away becomes the reference: the median of it and of :data:`RECENT` frames kept one
  every :data:`EVERY`, moved onto it (a frame's own objects would hold phase correlation). From there the pan's
  velocity is kept (a subject the camera tracks holds the correlation's peak at none), so a pan or a tracking shot
  is registered to its end, past three quarters of the first view (the ``track`` scenario at 160 x 120 and 320 x
  240 over 150 frames: every frame at its exact offset, none lost). A reference retaken at every move of the grid
  chained the integer shifts' rounding: on real footage panned sub-pixel (``scripts/make_proxies.py``'s
  ``highway-pan``) 561 of 1,700 frames then lay more than a pixel off its true offset, against none registered to
  the first frame and 12 with this rule (zero-shot F on ``highway-pan`` / ``office-pan`` 0.899 / 0.907 against
  0.934 / 0.933 now). A shake's median stays where the camera points: it is registered to the first frame as
  before (a view shaken by up to 20 pixels each way at 120 x 160 never moved the grid). A frame left as it is is
  taken to be where the camera points: at the first frame's view until the grid has moved (a shaking camera's
  rest), then at the median offset of the last frames registered (a camera where a pan stopped).

A moved frame's edge, where the first frame's view has no pixel of it, is filled by repeating the frame's last
row or column; the mask is moved back (:func:`unshift_mask`), and frame pixels outside the first frame's view are
background there (no model has seen them). With ``input.stabilize`` (on) every method's frames are registered this
way as they are read (segment, train, benchmark, and the frames a method samples to fit on) and the masks written
in the frame's own coordinates; ``|S|`` and ``L`` images (``--save-foreground``, ``--save-background``) stay on the
registered grid. Ground-truth masks given for training (``train.label_frames``) are not moved with their frames
(a warning names the label frames registered): with a shaking camera, label with ``input.stabilize=false``. A
frame too small to see a translation in (under 16 pixels a side at the correlation's size) switches the
registration off for its video; a flat frame (a fade to black) is left as it is and is no pan.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from bgsub.background.follow import FOLLOW

__all__ = ["Stabilizer", "shift_image", "unshift_mask", "BETTER", "MAX_SHIFT", "PAN_SHIFT", "STEP"]

BETTER = 0.75  # a shift is kept when at least this share of the cells that vote come closer to the first frame
MAX_SHIFT = 0.25  # the largest shift kept from anywhere (a shake, a bump), a share of the frame's smaller side (at
#                   least 2 pixels): more than half of the view shared with the first frame
PAN_SHIFT = 0.75  # the largest shift kept as a pan's continuation (within STEP of the last kept shift), a share
#                   of the frame's own height (rows) and width (columns): at least a quarter of the view shared
STEP = 0.03  # a pan's largest move from one kept frame to the next, a share of the frame's smaller side (at least 2)
SMALL_WIDTH = 160  # the width the phase correlation works at (frames reduced by a whole factor to about this)
TEXTURED = 4096  # the first frame's most textured pixels the test compares (TEXTURED / GRID^2 in each cell)
GRID = 8  # the test's cells per side
GAIN = 0.9  # ... and when it takes at least a tenth off their mean absolute difference to the first frame
DECISIVE = 0.2  # a cell votes when its pixels' net vote is at least this share of them, one way or the other
FLAT = 1.0  # a frame whose grey levels (at the correlation's size) spread less than this is flat: nothing to see
NEAR = 0.5  # phase correlation's estimate (frame pixels) below which a frame is taken as still, untested
RETAKE = 0.25  # following the view: a frame further than this share of the frame's height (or width) from the
#               reference becomes it
RECENT = 5  # following the view: a retaken reference is the median of this many registered frames, one kept
EVERY = 4  # every this many frames (and the frame it is retaken at): objects that cross the view in that time go
PATH = 9  # following the view: the grid moves to the median offset of this many last registered frames (a
#          shake's median stays where the camera points; a pan's follows it, this many frames over two behind)
STOPPED = 8  # frames in a row that stand still against the frame before (phase correlation below NEAR) after a
#             pan was lost: the pan has stopped, and the frame it stopped on becomes the reference (a new view)


def _grey(img: np.ndarray) -> np.ndarray:
    """The frame's grey levels as OpenCV decoded it (BGR, BGRA or grey; 8 or 16 bits)."""
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if img.ndim == 3:
        return img[..., 0]
    return img


def shift_image(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The frame registered onto the reference grid: ``out[y, x] = img[y + dy, x + dx]`` (a frame whose content
    moved by (dy, dx) moved back), the rows and columns with no source pixel repeating the nearest one."""
    if dy == 0 and dx == 0:
        return img
    h, w = img.shape[:2]
    crop = img[max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)]
    return cv2.copyMakeBorder(crop, max(-dy, 0), max(dy, 0), max(-dx, 0), max(dx, 0), cv2.BORDER_REPLICATE)


def unshift_mask(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """A mask computed on a registered frame moved back to the frame's own pixels: ``out[y, x] = mask[y - dy,
    x - dx]``, 0 where that falls outside (pixels the reference view does not hold)."""
    if dy == 0 and dx == 0:
        return mask
    h, w = mask.shape[:2]
    crop = mask[max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)]
    return cv2.copyMakeBorder(crop, max(dy, 0), max(-dy, 0), max(dx, 0), max(-dx, 0), cv2.BORDER_CONSTANT, value=0)


class Stabilizer:
    """Registers each frame of one video to its first (:meth:`__call__`): returns the frame moved back onto the
    first frame's grid and the whole-pixel shift (dy, dx) of its content (0, 0 when left as it is)."""

    def __init__(self, *, better: float = BETTER, max_shift: float = MAX_SHIFT, small_width: int = SMALL_WIDTH,
                 textured: int = TEXTURED):
        self.better, self.max_share, self.small_width, self.textured = better, max_shift, small_width, textured
        self._ref: Optional[np.ndarray] = None
        self._last = (0, 0)  # the last shift kept (a pan continues from it)
        self._vel = (0, 0)  # the pan's velocity (whole pixels a frame) at the last shift kept, (0, 0) if none
        self._kept_at = 0  # the frame (``seen``) of the last shift kept
        self._off = False  # frames too small to register (a strip, a thumbnail): every frame left as it is
        self.seen = 0  # frames registered so far (the first included)
        self.moved = 0  # frames moved so far
        self.refused = 0  # frames whose proposed shift was larger than the limit
        self.lost = False  # the last frame came after a pan that registration could no longer follow (past three
        #                    quarters of the view, or phase correlation and the pan's velocity both lost): no
        #                    background model has seen its view (bgsub.pipelines.run writes its mask empty)
        self.lost_frames = 0  # frames so far after such a pan
        self.anchors = 0  # times the reference was taken again, from a frame a lost pan stopped on
        self._compared: Optional[tuple[np.ndarray, np.ndarray]] = None  # the frame's grey and small images
        self._prev_small: Optional[np.ndarray] = None  # while lost: the frame before, at the correlation's size
        self._stopped = 0  # while lost: frames in a row still against the frame before
        self.registered = False  # the last frame was registered (still or moved), not left as it is
        # following the view (:meth:`follow`): the background model's grid moves with the camera
        self._grid: Optional[tuple[int, int]] = None  # the model's working size (h, w); None: not following
        self._mw = (0, 0)  # the model's grid: its moves so far, in working pixels
        self._wk = (0, 0)  # the reference's offset from the first frame's view (native pixels; retaken references)
        self.move: Optional[tuple[int, int]] = None  # the last frame's move of the model's grid (working pixels)
        self._path: list[tuple[int, int]] = []  # the last PATH registered frames' offsets from the first view
        self._recent: list[tuple[np.ndarray, tuple[int, int]]] = []  # the last RECENT frames registered (grey,
        #   offset from the first view): a retaken reference is their median (objects that move are not in it)
        self.follows = 0  # frames so far at which the model's grid moved

    def follow(self, grid: tuple[int, int]) -> None:
        """Follow the view (``input.follow``; :mod:`bgsub.background.follow`): the background model works on a grid
        of ``grid`` (h, w) working pixels, at first the first frame's view. Each frame is then registered onto the
        model's grid (the shift :meth:`__call__` returns, by which its mask is moved back); where the camera points
        (the median offset of the last :data:`PATH` registered frames) lies further than
        :data:`bgsub.background.follow.FOLLOW` of the frame's smaller side from it (and than the frames' spread), the
        grid moves there by whole working pixels (:attr:`move`, for the model to move with it before the frame is
        compared); and a frame further than :data:`RETAKE` of the frame's height or width from the reference becomes
        the reference (a pan goes on against a view it shares most of)."""
        self._grid = (int(grid[0]), int(grid[1]))

    def _small(self, grey: np.ndarray) -> np.ndarray:
        h, w = grey.shape
        return cv2.resize(grey, (w // self._f, h // self._f), interpolation=cv2.INTER_AREA).astype(np.float32) \
            if self._f > 1 else grey.astype(np.float32)

    def _start(self, grey: np.ndarray) -> None:
        h, w = grey.shape
        self._size = (h, w)
        self._f = max(1, int(round(w / self.small_width)))
        if min(h, w) // self._f < 2 * GRID:  # too small to see a translation in: nothing is moved in this video
            self._off = True
            return
        self._limit = max(2, int(self.max_share * min(h, w)))
        self._pan = (max(self._limit, int(PAN_SHIFT * h)), max(self._limit, int(PAN_SHIFT * w)))  # rows, columns
        self._step = max(2, int(round(STEP * min(h, w))))
        self._ref = grey
        smooth = cv2.blur(grey.astype(np.float32), (3, 3))  # the test's grey levels: 3 x 3 means (noise / 3)
        self._ref_small = self._small(grey)
        sh, sw = self._ref_small.shape
        self._hann = cv2.createHanningWindow((sw, sh), cv2.CV_32F)
        # the test's pixels: the reference's strongest gradients over the whole frame
        m = 1  # the whole frame but its outer ring (the gradient's); a shift uses the pixels it keeps in view
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.abs(gx) + np.abs(gy)
        inner = mag[m: h - m, m: w - m]
        if inner.shape[0] < GRID or inner.shape[1] < GRID or not np.any(inner > 0):
            self._ys = self._xs = None  # too small or flat to see a translation: nothing moved (see shift_of)
            return
        # spread over the frame: the strongest in each cell of a GRID x GRID grid, so that a camera's move (every
        # cell) outvotes an object's (the cells it covers)
        k = max(1, self.textured // (GRID * GRID))
        rows = np.linspace(0, inner.shape[0], GRID + 1).astype(int)
        cols = np.linspace(0, inner.shape[1], GRID + 1).astype(int)
        ys, xs = [], []
        for r0, r1 in zip(rows[:-1], rows[1:]):
            for c0, c1 in zip(cols[:-1], cols[1:]):
                cell = inner[r0:r1, c0:c1].ravel()
                kk = min(k, cell.size)
                top = np.argpartition(cell, cell.size - kk)[cell.size - kk:]
                cy, cx = np.divmod(top, c1 - c0)
                ys.append(cy + r0)
                xs.append(cx + c0)
        self._ys, self._xs = np.concatenate(ys) + m, np.concatenate(xs) + m
        self._cell_sizes = np.array([len(a) for a in ys], np.float32)
        self._cell_starts = np.concatenate([[0], np.cumsum(self._cell_sizes[:-1])]).astype(np.intp)
        self._ref_vals = smooth[self._ys, self._xs]

    def _diffs(self, grey: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
        """The textured pixels' absolute differences to the first frame's with shift (dy, dx), and which of them
        the shift keeps in view (the others' differences are those without the shift, and are not counted)."""
        h, w = self._size
        y, x = self._ys + dy, self._xs + dx
        ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        return np.abs(grey[np.where(ok, y, self._ys), np.where(ok, x, self._xs)] - self._ref_vals), ok

    def _vote(self, without: np.ndarray, with_shift: np.ndarray, ok: np.ndarray) -> float:
        """The cells' vote on a shift against none: the share of the cells that vote for it (see the module's
        account). Each textured pixel in view votes +1 when its difference to the first frame is smaller with the
        shift than without it (``with_shift`` against ``without``), -1 when larger."""
        vote = np.where(ok, np.sign(without - with_shift), 0.0)  # +1 closer, -1 farther, 0 the same or out of view
        sizes = np.add.reduceat(ok.astype(np.float32), self._cell_starts)
        cells = np.add.reduceat(vote, self._cell_starts) / np.maximum(sizes, 1)  # each cell's net vote, in [-1, 1]
        cells = cells[sizes >= self._cell_sizes / 2]  # a cell mostly out of view does not vote
        closer = int(np.count_nonzero(cells >= DECISIVE))
        decided = closer + int(np.count_nonzero(cells <= -DECISIVE))
        if decided < len(cells) // 4:  # too few cells say anything (a flat or changing view): no evidence
            return 0.0
        return closer / decided

    def shift_of(self, img: np.ndarray) -> tuple[int, int]:
        """The whole-pixel shift (dy, dx) of ``img``'s content relative to the first frame's, kept after the
        test; (0, 0) for the first frame itself and for every frame left as it is."""
        grey = _grey(img)
        self.seen += 1
        self._compared = None  # (grey, small) once this frame is compared with the reference (_after reads them)
        self.registered = False
        if self._off:
            return 0, 0
        if self._ref is None:
            self._start(grey)
            self.registered = True
            return 0, 0
        if grey.shape != self._size and self.seen == 2:  # a folder's files after the first decoded reduced
            h, w = grey.shape
            self._start(cv2.resize(self._ref, (w, h), interpolation=cv2.INTER_AREA))
        if grey.shape != self._size:
            return 0, 0
        if self._ys is None:  # the reference so far is flat (a fade from black): the first frame with texture is
            self._start(grey)  # the reference instead (the flat frames before it have nothing to register)
            self.registered = True
            return 0, 0
        small = self._small(grey)
        self._compared = (grey, small)
        (sx, sy), _ = cv2.phaseCorrelate(self._ref_small, small, self._hann)
        py, px = sy * self._f, sx * self._f
        last = self._last
        near = abs(py) < NEAR and abs(px) < NEAR
        if near and last == (0, 0) and self._vel == (0, 0):  # (a velocity at none: a pan whose frame was retaken)
            self._kept_at = self.seen  # still: a pan that starts next moves from here
            self.registered = True
            return 0, 0
        far = abs(py) > self._pan[0] + 1.5 or abs(px) > self._pan[1] + 1.5
        est = (int(round(py)), int(round(px)))
        # a frame left as it is is counted as refused (a pan past the limits, or a view too changeable) when the
        # estimate itself is a shift that may not be kept
        past = far or (not near and not self._allowed(est, last, 0))
        # the nine whole-pixel shifts around the estimate (good to about a pixel of the frame) and around the last
        # shift kept (a pan or a bump goes on from there), but none (the test is against none); past the quarter
        # only a continuation of the last (see the module's account), and one past each limit too, so that a shift
        # just beyond it is refused, not taken for the limit
        # also around where the pan's velocity has taken the view since the last shift kept (the last shift itself
        # at no velocity): a pan's continuation, where the estimate shares less of the first frame's view and comes
        # out short (and, following the view: a tracked subject, in the middle of the reference frame and of the
        # next ones, holds phase correlation's peak at none)
        pred = self._predicted()
        centres = ([] if near or far else [est]) + ([last] if last != (0, 0) else []) + (
            [pred] if pred != last else [])
        cands = []
        for cy, cx in centres:
            for c in [(cy + a, cx + b) for a in (-1, 0, 1) for b in (-1, 0, 1)]:
                if c != (0, 0) and c not in cands and self._allowed(c, last, 1, pred):
                    cands.append(c)
        if not cands:
            if near:
                self._still()
                self.registered = True
                return 0, 0
            return self._refuse(small) if past else (0, 0)
        smooth = cv2.blur(grey.astype(np.float32), (3, 3))
        scored = [self._diffs(smooth, dy, dx) for dy, dx in cands]
        res = [float(d[ok].mean()) for d, ok in scored]  # each shift's mean difference over the pixels in view
        i = int(np.argmin(res))
        best = cands[i]
        if not self._allowed(best, last, 0, pred):
            return self._refuse(small)
        without = np.abs(smooth[self._ys, self._xs] - self._ref_vals)
        if not (self._vote(without, *scored[i]) >= self.better and res[i] <= GAIN * float(without.mean())):
            if near:  # back to still (or never moved): the next frame starts from none
                self._still()
                self.registered = True
            return self._refuse(small) if past else (0, 0)
        self.moved += 1
        gap = self.seen - self._kept_at
        self._vel = (int(round((best[0] - last[0]) / gap)), int(round((best[1] - last[1]) / gap)))
        self._last, self._kept_at = best, self.seen
        self.registered = True
        return best

    def _still(self) -> None:
        """Back to still at this frame (or never moved): the next frame starts from none, at no velocity."""
        self._last, self._vel, self._kept_at = (0, 0), (0, 0), self.seen

    def _predicted(self) -> tuple[int, int]:
        """Where a pan at its last velocity has taken the view by this frame: the last shift kept plus the
        velocity times the frames since (a camera moves smoothly; the last shift alone lags a pan of more than a
        pixel a frame by more than the nine shifts around it reach, once phase correlation loses the peak)."""
        gap = self.seen - self._kept_at
        return (self._last[0] + self._vel[0] * gap, self._last[1] + self._vel[1] * gap)

    def _allowed(self, c: tuple[int, int], last: tuple[int, int], slack: int,
                 pred: Optional[tuple[int, int]] = None) -> bool:
        """Whether shift ``c`` may be kept (``slack`` 0), or scored (1: one past a limit, to be refused if it
        wins): within the quarter from anywhere, or within three quarters of each side as a pan's continuation
        of ``last`` (or of ``pred``, where the pan's velocity has taken it since)."""
        if max(abs(c[0]), abs(c[1])) <= self._limit + slack:
            return True
        within = abs(c[0]) <= self._pan[0] + slack and abs(c[1]) <= self._pan[1] + slack
        near = max(abs(c[0] - last[0]), abs(c[1] - last[1])) <= self._step
        if pred is not None:
            near = near or max(abs(c[0] - pred[0]), abs(c[1] - pred[1])) <= self._step
        return within and near

    def _refuse(self, small: np.ndarray) -> tuple[int, int]:
        """A shift past the limit: counted as a pan unless the frame is flat (a fade to black gives phase
        correlation no peak: it is no camera motion, just nothing to register)."""
        if float(small.std()) >= FLAT:
            self.refused += 1
        return 0, 0

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        dy, dx = self.shift_of(img)
        anchors = self.anchors
        self._after(img, (dy, dx))
        if self._grid is not None:
            if self.anchors != anchors:  # a lost pan stopped: its frame, the new reference, taken as on the grid
                self._wk, self._path, self._recent = self._origin(), [], []
            dy, dx = self._followed((dy, dx))
        return shift_image(img, dy, dx), (dy, dx)

    @property
    def grid(self) -> Optional[tuple[int, int]]:
        """The background model's grid (h, w) while following the view (:meth:`follow`), else None."""
        return self._grid

    def _ratio(self) -> tuple[float, float]:
        """Frame pixels a working pixel of the model's grid, per side."""
        return self._size[0] / self._grid[0], self._size[1] / self._grid[1]

    def _origin(self) -> tuple[int, int]:
        """The model's grid's offset from the first frame's view, in whole frame pixels (its moves are whole
        working pixels: the nearest frame pixel)."""
        ry, rx = self._ratio()
        return int(round(self._mw[0] * ry)), int(round(self._mw[1] * rx))

    def _followed(self, shift: tuple[int, int]) -> tuple[int, int]:
        """Following the view (:meth:`follow`): the shift that registers this frame (its content ``shift`` from the
        reference) onto the model's grid, after the grid has moved to where the camera points if that lay too far
        (:attr:`move`; the module's account). A frame further than :data:`RETAKE` of the frame's height or width
        from the reference becomes the reference (a pan is then registered against a view it shares most of). A
        frame left as it is is taken to be where the camera points."""
        self.move = None
        if self._off or self._ref is None:
            return shift
        if not self.registered:  # left as it is: taken to be where the camera points (once the grid has moved, the
            o = self._origin()  # last registered frames' median offset: where a pan stopped; else the first view, a
            if not (self.follows and self._path):  # shaking camera's rest)
                return -o[0], -o[1]
            at = np.median(np.array(self._path), axis=0).round().astype(int)
            return int(at[0]) - o[0], int(at[1]) - o[1]
        ry, rx = self._ratio()
        t = (shift[0] + self._wk[0], shift[1] + self._wk[1])  # from the first frame's view
        if shift == (0, 0) and t != (0, 0):  # still at a retaken reference: a frame moved from the first view
            self.moved += 1
        if self._compared is not None and self.seen % EVERY == 0:
            self._recent = self._recent[-(RECENT - 1):] + [(self._compared[0], t)]
        self._path = self._path[-(PATH - 1):] + [t]
        o = self._origin()
        d = (t[0] - o[0], t[1] - o[1])
        path = np.array(self._path, np.float32)
        aim = np.median(path, axis=0)  # where the camera points (a shake's frames around it)
        g = (aim[0] - o[0], aim[1] - o[1])
        shake = 3.0 * float(np.median(np.abs(path - aim).max(axis=1)))  # a shake's spread moves no grid
        if len(path) >= PATH and max(abs(g[0]), abs(g[1])) > max(2.0 * max(ry, rx), FOLLOW * min(self._size), shake):
            m = (int(round(g[0] / ry)), int(round(g[1] / rx)))
            self._mw = (self._mw[0] + m[0], self._mw[1] + m[1])
            self.move, self.follows = m, self.follows + 1
            o = self._origin()
            d = (t[0] - o[0], t[1] - o[1])
        far = abs(shift[0]) > RETAKE * self._size[0] or abs(shift[1]) > RETAKE * self._size[1]
        if self._compared is not None and far:
            self._start(self._view_at(t, self._compared[0]))  # this frame's view is the reference from here on
            vel = self._vel
            self._still()
            self._vel = vel  # the pan goes on (its next frame is looked for where the velocity takes it)
            self._wk = t
        return d

    def _view_at(self, t: tuple[int, int], grey: np.ndarray) -> np.ndarray:
        """The reference retaken at the frame ``grey`` whose view lies ``t`` (whole pixels) from the first frame's:
        per pixel, the median of the grey levels of that frame and of the last :data:`RECENT` frames kept (one
        every :data:`EVERY` registered), each moved onto its view (where one does not show a pixel, the frame's own
        value stands in). A pan's frame holds the objects crossing it, which phase correlation against it then
        follows (the ``pan`` scenario at 160 x 120 with the reference retaken from the frame alone, an eighth of it
        foreground: 25 frames in a row left as they are; from the median of five consecutive frames: 9 of 150),
        while objects that move do not stay in one place over 20 frames (none left). About 0.2 s at 1080p, once a
        reference is retaken."""
        h, w = grey.shape
        views = [grey]
        for g, tk in self._recent:
            dy, dx = tk[0] - t[0], tk[1] - t[1]
            if max(abs(dy), abs(dx)) >= min(h, w) // 2:  # (shares too little of the view to help)
                continue
            v = grey.copy()  # out[y, x] = g[y + dy, x + dx] where that is in the frame
            v[max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)] = \
                g[max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)]
            views.append(v)
        if len(views) == 1:
            return grey
        return np.round(np.median(np.stack(views), axis=0)).astype(grey.dtype)

    def _after(self, img: np.ndarray, shift: tuple[int, int]) -> None:
        """Whether ``img`` (its shift just found) came after a lost pan (:attr:`lost`): left as it is while the last
        shift kept lay past the quarter, a pan's continuation that nothing could follow any more. While lost, each
        frame is compared with the one before (phase correlation at the correlation's size): after
        :data:`STOPPED` frames in a row still, the pan has stopped, and that frame becomes the reference (a camera
        panned to a new view and left there: registration goes on against it, and the background model, which
        saw the old view, starts again on the new one after its own test, :mod:`bgsub.background.restart`)."""
        if self._off or self._ref is None:
            return
        last = self._last
        self.lost = shift == (0, 0) and max(abs(last[0]), abs(last[1])) > self._limit
        if not self.lost:
            self._prev_small, self._stopped = None, 0
            return
        self.lost_frames += 1
        if self._compared is None:  # (a frame of another size: not compared)
            return
        grey, small = self._compared
        if self._prev_small is not None:
            (sx, sy), _ = cv2.phaseCorrelate(self._prev_small, small, self._hann)
            still = abs(sy * self._f) < NEAR and abs(sx * self._f) < NEAR
            self._stopped = self._stopped + 1 if still else 0
        self._prev_small = small
        if self._stopped >= STOPPED:
            self._start(grey)
            self._still()
            self._prev_small, self._stopped = None, 0
            self.anchors += 1
