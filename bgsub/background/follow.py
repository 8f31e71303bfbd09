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
the motion is registration's whole-pixel translation and the model moves in whole working pixels: when a frame lies
more than :data:`FOLLOW` of the frame's smaller side from the model's grid (three times the ``jitter`` scenario's
shake: a shaking camera is registered, not followed), the model's grid moves to the frame
(:class:`~bgsub.io.stabilize.Stabilizer`'s ``follow``), and :func:`shifted` moves every per-pixel array of its
state with it, in the stepping thread, before the frame is compared:

- the samples, colour and texture, and the noise levels move; the pixels that came into view take their samples
  from the frame that shows them, each sample a random 3 x 3 neighbour's value (ViBe's start from one frame:
  Barnich & Van Droogenbroeck 2011), their noise levels their neighbours' (the edge of the model's grid, repeated);
- the counts that judge a stopped object and a ghost move; they start at zero in the new pixels;
- the stillest-frame search over a longer horizon (:mod:`bgsub.background.stable`) ends: its kept frames belong to
  the old grid (moving them is possible, but a camera that pans has no still frames to search for);
- the new-view test (:mod:`bgsub.background.restart`) starts its run again.

The new pixels' start from one frame is the weak point, as it is ViBe's: an object in them at that frame is a ghost
until the updates take the scene in. The tracked walker is in the frame's middle, the new pixels at its edge.
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
