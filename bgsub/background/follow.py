"""A background model that moves with the view: a panning camera's model shifted with the pan, the pixels that
come into view started from the frame that shows them.

Registration (:mod:`bgsub.io.stabilize`) brings a shaking camera's frames back onto one grid. A camera that pans
(a PTZ camera turned, a camera following a walker) leaves that grid: on the first frame's grid a panned frame
shares ever less of the view the model has seen, the pixels it brings into view have no model (their masks are
background), and past three quarters of the view registration gives up (its masks are empty). A walker the camera
follows, near the frame's centre, leaves the first view after half of it: found up to there, never after (the
``track`` scenario over 150 frames: F 0.591, with 31 of 150 frames lost).

The field's answer for moving cameras is to keep the background model in the current view's coordinates and move it
with the camera: each frame's camera motion estimated, the model's per-pixel state moved by it, and the pixels that
enter the view given a fresh model (Kim et al. 2013, "Detection of moving objects with a moving camera using
non-panoramic background model"; Yi et al. 2013, "Detection of moving objects with non-stationary cameras in
5.8 ms", whose model is compensated by the camera's motion each frame and whose new pixels start at age 0). Here
the motion is registration's whole-pixel translation (:class:`~bgsub.io.stabilize.Stabilizer`'s ``follow``) and
the model moves in whole working pixels:

- **When**: the grid moves to where the camera points, the median offset of the last
  :data:`bgsub.io.stabilize.PATH` (9) registered frames, once that lies further from it than :data:`FOLLOW` (1/16)
  of the frame's smaller side and than three times the frames' spread about it (a shake's median stays where the
  camera points: a view shaken by up to 20 pixels each way at 120 x 160, iid, never moved the grid in 8 seeds; a
  pan's median follows it four frames behind, and a bump that stays is followed within 9 frames). The frames in
  between are registered onto the grid as a shake is.
- **The state** (:func:`move_state`, in the stepping thread, before the frame the move comes with is compared):
  the samples, colour and texture, and the noise levels move (:func:`shifted`); the pixels that came into view take
  their samples from that frame, each sample a random 3 x 3 neighbour's value (ViBe's start from one frame: Barnich
  & Van Droogenbroeck 2011), their noise levels their neighbours' (the grid's edge repeated), their counts (a
  stopped object's, the ghost test's) zero (:func:`fill_entered`); the stillest-frame search over a longer
  horizon (:mod:`bgsub.background.stable`) ends (its kept frames belong to the old grid; a panning camera has no
  still frames to search for); the new-view test (:mod:`bgsub.background.restart`) starts its run again.
- **Registration goes on from the frame the grid moved to**: its view (the median of it and of five frames kept
  one every four, moved onto it: objects that cross the view do not stay) becomes the reference, and the pan's
  velocity is kept, so a pan or a tracking shot is registered to its end (the ``track`` scenario, 150 frames at
  160 x 120 and 320 x 240, and ``pan``: every frame at its exact offset, none lost).
- **The initialisation window** is read while the grid already moves: the model starts on its frames brought back
  to the first frame's view (:func:`bgsub.pipelines.reading.on_first_grid`), and moves with them as it steps them.

Measured (zero-shot, the shipped network, 150 frames; twenty-eighth session): ``track`` 320 x 240 0.591 -> 0.845,
160 x 120 0.561 -> 0.809; a pan that stops (still, 2 px a frame to 150 columns, still) 0.411 -> 0.920; ``pan``
0.889 -> 0.891; ``jitter``, the eight sequences of ``../shared/data`` and the fifteen proxies unchanged (their
grids never move). The new pixels' start from one frame is the weak point, as it is ViBe's: an object in them at
that frame is a ghost until the updates take the scene in; the tracked walker is in the frame's middle, the new
pixels at its edge.
"""

from __future__ import annotations

import numpy as np

MOVED_STATE = ("samples", "tsamples", "sigma", "_dyn", "_sig0", "_over", "tsigma", "still", "_moved", "prev")
#   the sample model's per-pixel arrays a move shifts (and the ghost test's counts): every array attribute of the
#   model whose last two dimensions are its working size is one of these (a test checks)
FOLLOW = 1.0 / 16.0  # the model moves when a frame lies further than this share of the frame's smaller side from
#                      its grid (native pixels; at least two working pixels)


def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``a`` (..., h, w) moved by (dy, dx) whole pixels: ``out[..., y, x] = a[..., y - dy, x - dx]``, the rows and
    columns that have no source repeating the nearest one (a new array; ``a`` untouched)."""
    h, w = a.shape[-2:]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return np.ascontiguousarray(a[..., ys[:, None], xs[None, :]])


def entered(shape: tuple[int, int], dy: int, dx: int) -> np.ndarray:
    """(h, w) bool: the pixels that have no source after a move by (dy, dx) (:func:`shifted`): the view's new part."""
    h, w = shape
    y = np.arange(h) - dy
    x = np.arange(w) - dx
    return ((y < 0) | (y >= h))[:, None] | ((x < 0) | (x >= w))[None, :]


def from_one_frame(v: np.ndarray, mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples (n, C, P) for the pixels ``mask`` (h, w) of the frame ``v`` (C, h, w): each sample the value of
    a random pixel of its 3 x 3 neighbourhood (clipped at the frame's edge), as ViBe starts from one frame."""
    C, h, w = v.shape
    ys, xs = np.nonzero(mask)
    oy = rng.integers(-1, 2, size=(n, ys.size))
    ox = rng.integers(-1, 2, size=(n, ys.size))
    ny = np.clip(ys[None] + oy, 0, h - 1)
    nx = np.clip(xs[None] + ox, 0, w - 1)
    return np.ascontiguousarray(v[:, ny, nx].transpose(1, 0, 2), dtype=np.float32)  # (n, C, P)


def move_state(model, dy: int, dx: int) -> np.ndarray:
    """A :class:`~bgsub.background.samples.SampleModel`'s state moved with the view by (dy, dx) working pixels:
    every per-pixel array (:data:`MOVED_STATE`, the ghost test's counts) by :func:`shifted`; the search over a
    longer horizon ends, the new-view test's run starts again, the background image is made again. Returns the
    pixels that came into view, (h, w) bool, for :func:`fill_entered`."""
    same = model.sigma is model._dyn  # (one array, two names: kept so)
    for name in MOVED_STATE:
        a = getattr(model, name)
        if isinstance(a, np.ndarray):
            setattr(model, name, shifted(a, dy, dx))
    if same:
        model.sigma = model._dyn
    if model._ghost is not None:
        model._ghost = tuple(shifted(a, dy, dx) for a in model._ghost)
    model._stable, model._found = None, None  # its kept frames belong to the old grid
    if model._watch is not None:
        model._watch.clear()
    model._bg = None
    return entered(model.size, dy, dx)


def fill_entered(model, fresh: np.ndarray, xc: np.ndarray, tex) -> None:
    """The pixels ``fresh`` (h, w) that came into view take their samples from the frame ``xc`` (C, h, w, in the
    model's light) and its texture ``tex`` (h, w, or None), each sample a random 3 x 3 neighbour's
    (:func:`from_one_frame`, from the model's own random stream); their counts start at zero, their previous
    frame is this one."""
    if not fresh.any():
        return
    n = model.samples.shape[0]
    model.samples[:, :, fresh] = from_one_frame(xc, fresh, n, model._rng)
    if model.tsamples is not None and tex is not None:
        model.tsamples[:, :, fresh] = from_one_frame(np.asarray(tex, np.float32)[None], fresh, n, model._rng)
    if model.still is not None:
        model.still[fresh] = 0
    if model._moved is not None:
        model._moved[fresh] = False
    if model.prev is not None:
        model.prev[:, fresh] = xc[:, fresh]
    if model._ghost is not None:
        count, moved, quiet = model._ghost
        count[fresh], moved[fresh], quiet[fresh] = 0, False, 1
