"""A background model that moves with the view: a panning camera's model shifted with the pan, the pixels that
come into view learning their samples from the frames that show them.

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
  the samples, colour and texture, the noise levels and the counts (a stopped object's, the ghost test's) move
  (:func:`shifted`); the new-view test (:mod:`bgsub.background.restart`) starts its run again. The stillest-frame
  search past the window (:mod:`bgsub.background.stable`) moves too, so the pixels seen before keep their stillest
  frames (and the stopped-object policy: on ``office-pan``, where the worker who stood for minutes leaves at the
  end, dropping the search left his ghost, F 0.895 against 0.907).
- **The pixels that come into view learn their samples over their first n frames** (:func:`fill_entered`,
  :func:`boot_step`), as the initialisation window teaches every pixel: they start from the frame that shows them
  (each sample a random 3 x 3 neighbour's value, ViBe's start from one frame: Barnich & Van Droogenbroeck 2011; their
  noise levels their neighbours'), and each of the next n frames replaces one of those samples with its own value.
  They are compared from the frame after they enter, as ViBe's pixels are (an object that crosses them after that
  frame is foreground; one that stood in it is in a part of their samples until their own frames outnumber it:
  with two matches needed, two frames of the scene behind it), and give their neighbours nothing meanwhile; then
  their samples are set as at every setting (the conservative pass takes out an object that crossed). They stay
  out of the search (no window's stillest frames to improve on, and a paused object would be taken in at once: the
  README's pan that stops, 0.78 when they joined it after learning, 0.89 left out). Started from the one frame
  alone, cars in the new columns were ghosts: ``highway-pan`` 0.868 against 0.905 learning (the same
  registration), below registering to the first frame (0.876). Until the twenty-ninth session they said
  background while they learned (blind for n frames): compared meanwhile, the camera clips gain 0.002-0.042
  (README, "A panning or tracking camera").
- **Registration goes on past the first view**: a frame further than a quarter of the frame's height or width
  from registration's reference becomes the reference (its view: the median of it and of five frames kept one
  every four, moved onto it, so that objects crossing it are left out), and the pan's velocity is kept, so a pan
  or a tracking shot is registered to its end (the ``track`` scenario, 150 frames at 160 x 120 and 320 x 240, and
  ``pan``: every frame at its exact offset, none lost), while a pan within that reach is registered against the
  first frame as accurately as before.
- **The initialisation window** is read while the grid already moves: the model starts on its frames brought back
  to the first frame's view (:func:`bgsub.pipelines.reading.on_first_grid`), and moves with them as it steps them.

Measured: README, "A panning or tracking camera" (the camera scenarios, ``highway-pan`` and ``office-pan`` of
``scripts/make_proxies.py``); the eight sequences of ``../shared/data`` and the fifteen proxies are unchanged (their
grids never move). The weak point: an object that stands in the pixels that come into view through their first n
frames is taken in (as in a busy initialisation window).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

MOVED_STATE = ("samples", "tsamples", "sigma", "_dyn", "_sig0", "_over", "tsigma", "still", "_moved", "prev",
               "_boot")
#   the sample model's per-pixel arrays a move shifts (and the ghost test's counts): every array attribute of the
#   model whose last two dimensions are its working size is one of these (a test checks)
FOLLOW = 1.0 / 16.0  # the model moves when where the camera points lies further than this share of the frame's
#                      smaller side from its grid (native pixels; at least two working pixels)


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
    fresh = entered(model.size, dy, dx)
    if model._stable is not None and not model._stable.moved(dy, dx, fresh):
        model._stable = None  # past the horizon: the search for the open pixels ends
    model._found = None
    if model._watch is not None:
        model._watch.clear()
    model._bg = None
    return fresh


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
    if model._stable is not None:
        model._stable.fill(fresh, xc)
    if model._boot is None:
        model._boot = np.full(fresh.shape, -1, np.int16)
    model._boot[fresh] = 0


def boot_step(model, xc: np.ndarray, tex) -> Optional[np.ndarray]:
    """The pixels that came into view learn their samples over their first ``n`` frames, as the initialisation
    window teaches every pixel: at the k-th frame since, sample k is that frame's value ``xc`` (C, h, w, the
    model's light; the texture sample too, from ``tex``), after the frame was compared with the samples as they
    were (the frame it entered with and the frames since). After ``n`` frames their samples are set as at every
    setting (the conservative pass: a sample more than k noise levels off the median is an object that crossed,
    replaced; their noise levels from the samples). Returns the pixels still learning at this frame (h, w) (the
    updates leave them out), None when none are."""
    b = model._boot >= 0
    if not b.any():
        model._boot = None
        return None
    n = model.samples.shape[0]
    ys, xs = np.nonzero(b)
    j = model._boot[ys, xs].astype(np.intp)
    model.samples[j, :, ys, xs] = xc[:, ys, xs].T
    if model._stable is not None:  # (its kept values are what the samples are set from again now and then)
        model._stable.learn(j, np.flatnonzero(b), xc[:, ys, xs])
    if model.tsamples is not None and tex is not None:
        model.tsamples[j, 0, ys, xs] = np.asarray(tex, np.float32)[ys, xs]
    model._boot[ys, xs] += 1
    done = model._boot >= n
    if done.any():
        idx = np.flatnonzero(done)
        C = model.samples.shape[1]
        model._settle_open(idx, model.samples.reshape(n, C, -1)[:, :, idx].copy())
        model._boot[done] = -1
    return b
