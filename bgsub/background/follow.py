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
- **The pixels that come into view learn their samples over their first 2n frames** (:func:`fill_entered`,
  :func:`boot_step`, :func:`settle_learned`), as the initialisation window teaches every pixel: they start from the
  frame that shows them (each sample a random 3 x 3 neighbour's value, ViBe's start from one frame: Barnich & Van
  Droogenbroeck 2011; their noise levels their neighbours'), and are compared from the next frame on, as ViBe's
  pixels are; a frame that matches their samples replaces one of the start's (the model's conservative update: an
  object that lingers in them is not learned meanwhile). Every frame is kept with its motion (the window's two
  measures, from the frame before), and after 2n frames their samples are their n stillest (the window's rule for
  a window shorter than twice the samples: its stillest half; a car that moves along with the pan through the new
  columns for most of their frames is left out), set as at every setting (the conservative pass takes out what
  crossed). They give their neighbours nothing meanwhile, and stay out of the search (no window's stillest frames
  to improve on, and a paused object would be taken in at once: the README's pan that stops, 0.78 when they
  joined it after learning, 0.89 left out). Started from the one frame alone, cars in the new columns were
  ghosts: ``highway-pan`` 0.868 against 0.905 learning (the same registration), below registering to the first
  frame (0.876). Until the twenty-ninth session they learned from every one of their first n frames and said
  background meanwhile (blind for n frames, and a car that lingered was learned: the ``pan-stop`` scenario's
  ghost). Measured: README, "A panning or tracking camera".
- **Registration goes on past the first view**: a frame further than a quarter of the frame's height or width
  from registration's reference becomes the reference (its view: the median of it and of five frames kept one
  every four, moved onto it, so that objects crossing it are left out), and the pan's velocity is kept, so a pan
  or a tracking shot is registered to its end (the ``track`` scenario, 150 frames at 160 x 120 and 320 x 240, and
  ``pan``: every frame at its exact offset, none lost), while a pan within that reach is registered against the
  first frame as accurately as before.
- **The initialisation window** is read while the grid already moves: the model starts on its frames brought back
  to the first frame's view (:func:`bgsub.pipelines.reading.on_first_grid`), and moves with them as it steps them.
  Where a frame does not show a pixel of that view it repeats its edge, so each pixel's samples are chosen among the
  frames that show it (:func:`bgsub.background.start.select`'s ``cover``; twenty-ninth session).

Measured: README, "A panning or tracking camera" (the camera scenarios, ``highway-pan`` and ``office-pan`` of
``scripts/make_proxies.py``); the eight sequences of ``../shared/data`` and the fifteen proxies are unchanged (their
grids never move). The weak point: an object that stands still in the pixels that come into view through most of
their first 2n frames is taken in (as in a busy initialisation window).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from bgsub.background.start import box_size, motion_terms, unitless

MOVED_STATE = ("samples", "tsamples", "sigma", "_dyn", "_sig0", "_over", "tsigma", "still", "_moved", "prev",
               "_boot", "_bvals", "_bmot", "_btex", "_sway")
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


LEARN = 2  # the pixels that come into view learn over this many times n frames and keep their stillest n (the
#           initialisation window's rule for a window shorter than twice the samples: its stillest half)


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
    if model._sway is not None:  # (no window showed them sway)
        model._sway[fresh] = False
    if model._boot is None:
        model._boot = np.full(fresh.shape, -1, np.int16)
        C, (h, w) = xc.shape[0], fresh.shape
        model._bvals = np.zeros((LEARN * n, C, h, w), np.float32)  # each learning frame's value
        model._bmot = np.zeros((2, LEARN * n, h, w), np.float32)  # its motion: differences, displacement
        model._btex = None if model.tsamples is None or tex is None else np.zeros((LEARN * n, h, w), np.float32)
    model._boot[fresh] = 0


def boot_step(model, xc: np.ndarray, tex, zmax: np.ndarray) -> Optional[np.ndarray]:
    """The pixels that came into view learn their samples over their first ``LEARN n`` frames, as the initialisation
    window teaches every pixel. Each frame ``xc`` (C, h, w, the model's light) is compared with their samples
    first (the frame they entered with, each sample a neighbour's value, and the frames since that matched), and
    where it matches them (``zmax`` (h, w) within ``within k``, the updates' test) the k-th frame since gives
    sample k mod n its value (the texture sample too, from ``tex``). Every frame is kept with its motion (its
    difference to the frame before, and that over the gradient: the window's two measures, box-filtered). After
    ``LEARN n`` frames each pixel's samples are its ``n`` stillest frames (by :attr:`SampleModel.motion`, as the
    window chooses: :func:`settle_learned`), set as at every setting. Returns the pixels still learning at this
    frame (h, w) (the updates leave them out), None when none are."""
    b = model._boot >= 0
    if not b.any():
        model._boot = model._bvals = model._bmot = model._btex = None
        return None
    n = model.samples.shape[0]
    ys, xs = np.nonzero(b)
    j = model._boot[ys, xs].astype(np.intp)
    # the samples they are compared with take the frame where it matches them, as the model's updates do (an object
    # that lingers is not learned while they learn); every frame is kept for the choice at the end
    ok = zmax[ys, xs] <= model.within * model.k
    slot, oy, ox = j[ok] % n, ys[ok], xs[ok]
    model.samples[slot, :, oy, ox] = xc[:, oy, ox].T
    if model._stable is not None:  # (its kept values are what the samples are set from again now and then)
        model._stable.learn(slot, oy * xc.shape[2] + ox, xc[:, oy, ox])
    model._bvals[j, :, ys, xs] = xc[:, ys, xs].T
    md, mf = learning_motion(model, xc)
    model._bmot[0, j, ys, xs] = md[ys, xs]
    model._bmot[1, j, ys, xs] = mf[ys, xs]
    if model.tsamples is not None and tex is not None:
        tv = np.asarray(tex, np.float32)[ys, xs]
        model.tsamples[slot, 0, oy, ox] = tv[ok]
        if model._btex is not None:
            model._btex[j, ys, xs] = tv
    model._boot[ys, xs] += 1
    done = model._boot >= LEARN * n
    if done.any():
        settle_learned(model, done)
        model._boot[done] = -1
    return b


def learning_motion(model, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) each (differences, displacement): the frame ``xc``'s motion against the frame before (the model's
    ``prev``), box-filtered as the window's (:func:`bgsub.background.start.stillness`)."""
    h, w = xc.shape[1:]
    prev = xc if model.prev is None else model.prev
    box = box_size(h, w, (model._params or {}).get("box", 0))
    return motion_terms((prev, xc, xc), box, model._camera or model.noise)


def settle_learned(model, done: np.ndarray) -> None:
    """The pixels ``done`` (h, w) have learned over ``LEARN n`` frames: their samples become their ``n`` stillest
    frames' values (the window's measure: differences, displacement or the larger of the two, each over the
    pixel's own median), set as at every setting."""
    n, C = model.samples.shape[:2]
    idx = np.flatnonzero(done)
    T = model._bvals.shape[0]
    md = model._bmot[0].reshape(T, -1)[:, idx]
    mf = model._bmot[1].reshape(T, -1)[:, idx]
    # the frame each entered with (its first: no frame before it in view) is never among its stillest
    m = np.full(md.shape, np.inf, np.float32)
    m[1:] = unitless(md[1:], mf[1:], model.motion)[0]
    pick = np.argpartition(m, n - 1, axis=0)[:n]  # (n, P)
    cols = np.arange(idx.size)[None]
    vals = model._bvals.reshape(T, C, -1)[:, :, idx][pick, :, cols].transpose(0, 2, 1)  # (n, C, P)
    vals = np.ascontiguousarray(vals, dtype=np.float32)
    if model._stable is not None:  # (the search's kept values: what the samples are set from again)
        for s in range(n):
            model._stable.learn(np.full(idx.size, s), idx, vals[s])
    if model._btex is not None and model.tsamples is not None:
        tv = model._btex.reshape(T, -1)[:, idx][pick, cols]  # (n, P)
        model.tsamples = np.ascontiguousarray(model.tsamples)
        model.tsamples.reshape(n, -1)[:, idx] = tv
    model._settle_open(idx, vals)
