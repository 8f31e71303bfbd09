"""A sample-consensus background model that is updated over time (the default U-Net's background).

Each pixel keeps ``n`` samples of what its background has looked like (ViBe, Barnich & Van Droogenbroeck 2011;
LOBSTER and SuBSENSE, St-Charles & Bilodeau 2014-2015). A frame's pixel is background when at least ``matches``
of them lie within ``k`` noise levels of it: multi-modal by construction (leaves, water, a blinking screen take
several sample values) without inflating one noise level. The model works at a working resolution of at most
``pixels`` pixels (area-averaged frames: averaging m pixels before comparing divides the noise by sqrt(m) and
keeps a coherent object's contrast), and gives the network, per frame and channel, the residual

    z_c = (the ``matches``-th smallest |x_c - s_jc| over the samples j) / sigma

in noise levels, the same contract as :func:`bgsub.background.residual`: z > k is the model's own decision.

What each piece is for (measured one at a time: README, "This round"):

- **Initialisation from a busy start** (LaBGen, Laugraud et al. 2017; SBMnet 2016): the samples come from the
  frames of the initialisation window in which the pixel moves least (the ``n`` of lowest local motion, motion
  being the frame differences around that frame, box-filtered over a neighbourhood), so objects that cross the
  window are left out, and a background that shows only between two passing leaves is found. With
  ``motion="both"`` (the default config's) a frame is still only when it is still in two senses, each in units of
  the pixel's own median over the window: its frame differences (as above) and its displacement (the differences
  over the gradient, :func:`bgsub.background.stats._flow`: LaBGen-OF's idea); a blurred leaf or a flat shirt that
  drifts changes its pixels little but moves, a flat road that stands still shows noise over no gradient
  (``init="stable"``;
  ``"first"`` is ViBe's start from the first frame, ``"window"`` a spread of the window, ``"dense"`` the
  window's most repeated values). A **conservative pass** (``clean``) then replaces samples more than k noise
  levels off the samples' median by the median: an object that stood in a minority of them is not a mode. A
  **short window** (fewer than 2n frames: a clip shorter than the window) gives each pixel its stillest ``short``
  share (half by default), with the noise floor measured over the whole window in one light.
  **Over a longer horizon** (``horizon`` frames, online; :meth:`SampleModel._extend`): after the window each new
  frame's local motion is measured too, and where a pixel moved less than in the least still of its kept frames
  (less than ``stiller`` times it), the new value replaces that one; the samples are set again from the kept
  values every 16 frames, further apart as the video goes on (:func:`bgsub.background.stable.settle_due`). Leaves
  that sweep across the lens for the whole window, never quite still, give way to the scene behind them once it
  shows still, and so does a person who stood in view from the first frame, with no delay before the first mask.
  The config's horizon (3000 frames) covers whole videos: each pixel's samples are its stillest frames of the
  video so far (LaBGen over the video, streamed). The price: an object that stops after frame t and stands as
  still as the scene (noise alone) wins the pixel's stillest frames as it holds the pixel about as long as the
  scene was seen without it (half of it taken in about t/2 frames after it stopped, README); ``stiller`` < 1
  keeps it out. The noise floor stays the window's (the stillest frames of a longer stretch are also its least
  noisy: their spread underestimates the noise). **Past the horizon** (up to ``open_horizon``) the search goes on
  only at the pixels the window never saw stand still (in fewer frames than their samples need, the health
  check's measure): a background it never showed may show later, while an object that stops where the window
  saw the scene still stays foreground.
- **One noise level, the camera's** (``dynamics="camera"``, the config's default ``background.spread`` since the
  thirtieth session): every pixel's sigma is the video's noise floor (the camera noise, the frame's median MAD,
  8-bit quantisation: the next bullet), and the samples alone hold what the background does: leaves that sway,
  water, a leaf that rested in front of the scene. ViBe's one radius for every pixel (Barnich & Van Droogenbroeck
  2011); the issue's "multi-modal by construction, without inflating a single noise level". A per-pixel noise
  level fitted to the samples (``"nn"``, ``"mad"``) grows with the sway to its whole range (a Gaussian's width
  fitted to it: leaves swaying over 80 grey levels got sigma 13.7, k sigma 82), so a person in front of the leaves,
  40 levels outside every colour they take, was background (a unit test on a literal swaying patch; the ``trees``
  scenario). The price: where a pixel's samples do not cover its sway (the stillest frames of a swaying branch are
  its turning points), the positions between are foreground (README, "One noise level").
- **Noise levels fitted to the samples** (the ablation's): with ``dynamics="nn"`` (the default before the thirtieth
  session) sigma is the samples' nearest-neighbour spread (each sample's n/3-th nearest other
  sample, max over channels, the 75th percentile over the samples: :func:`nn_statistic`), calibrated by :func:`spread_ratio` to a Gaussian's
  standard deviation per channel, the unit z is measured in; a pixel whose samples form several modes (a leaf that
  rested in front of the scene, water) gets each mode's own width, not the span of all of them. With
  ``dynamics="mad"`` sigma is 1.4826 x the median absolute deviation of the pixel's samples (max over channels:
  about 1.85 standard deviations for 3-channel Gaussian noise). Either is floored at the frame's median MAD and
  at the camera noise (:func:`noise_level`: the smaller of a temporal estimate and Immerkaer's single-image one;
  the temporal one compares frames a group of pictures apart, 12 frames, as a codec copies the blocks it does not
  code again from frame to frame), itself never below the quantisation noise of 8-bit samples averaged to the
  working size (1/sqrt(12 m) grey levels for m pixels averaged). With ``floor_over="settled"`` (measured, left
  off: sbi-foliage gains 0.07 thresholded, ucsd-birds' water loses 0.09) the frame's median is taken over the
  pixels the window saw stand still, not over leaves that sweep across most of the frame. Other estimates kept
  for the ablation: ``"spread"`` (the spread without the conservative pass and MAD floor), ``"diff"`` (frame
  differences at the sampled frames), ``"both"``.
- **Conservative, random, spatially diffused updates** (ViBe): a pixel within ``within`` x k noise levels of its
  samples replaces one random sample of its own with probability 1/``phi``, and one random sample of a random
  neighbour with probability 1/``phi``; foreground never enters the model by its own update. A stopped object is
  taken in only from its border, by the background next to it (about one pixel per ``phi`` frames).
- **Ghosts** (``ghost``, 8 frames in the config; :mod:`bgsub.background.ghost`): a region unlike the model's
  background image and unchanged for ``ghost`` frames after a change, lying in settled background, whose outline
  is the model's edge and not the frame's (nine in ten of its telling pairs), is the scene a departed object hid:
  its pixels' samples that disagree with the frame become the frame's, in the stillest-frame search's kept values
  as well. An object that stops keeps its edge in the frame and stays.
- **Healing after a change** (``heal``, off by default): a foreground pixel that changed by more than k noise
  levels since the start and then stayed unchanged for ``still`` frames, and whose value matches the samples of
  the pixels ``reach`` away in at least ``heal_votes`` of 8 directions, is background revealed by an object that
  left (a ghost): one of its samples is replaced by its value each frame.
- **Illumination**: each frame's per-channel median offset from the model's background (the median of the
  samples), over a regular grid of pixels, is removed before comparing. With ``gain`` a per-channel gain is
  fitted as well (robust least squares over the grid) and kept only when it brings back more of the grid's pixels
  within k noise levels than the offset alone, by more than chance (3 sqrt(n), model selection by consensus as
  in RANSAC): a light switched on or off scales a textured scene; a flat or ever-changing one (sky, water)
  cannot tell a gain from noise and keeps the offset. The fit starts from the median offset and from the median
  ratio (a pure gain), and keeps the start with more inliers. **Saturated pixels** (``censor``): a pixel the
  camera clipped (a channel within ``255 - CLIP_HI`` of the white level, ``white``: 255, or where the window's
  frames show their values piled up, :mod:`bgsub.background.clipping`) only bounds the truth from below; it is
  compared with the samples one-sidedly, never enters them, and is left out of the light's fit.
- **Texture** (``texture``; :mod:`bgsub.background.texture`): samples of each working pixel's texture (the mean
  |difference| of adjacent pixels inside it, measured at up to twice the working size) beside the colour
  samples, matched the same way; its z raises every colour channel's, except next to colour foreground (an
  object's edge changes its neighbours' texture: no halo) and where the change does not hold over a 3 x 3
  neighbourhood (a glint on water). The texture is a region's (``texture_region``: box-averaged over 5 x 5
  working pixels in the config): a swaying textured region (foliage) keeps its texture density while its pattern
  moves, so its texture samples are tight and an untextured object in front of it stands out, where each working
  pixel's own texture spread as widely as the colours; "next to colour foreground" then reaches as far as the
  region does.
- **Cast shadows** (``shadow``, on in the config with ``shadow_min`` 0.8: soft shadows): a foreground pixel that
  is its background scaled by a brightness in [``shadow_min``, 1) with the chromaticity kept (Horprasert, Harwood
  & Davis 1999) and, with the texture channel, the texture kept as well (scaled by the same brightness: a shadow
  darkens a surface, it does not change its pattern) is the background in shadow. Without the texture test an
  object a little darker than the wall with its colour (the issue's low-contrast class) passed for a shadow. With
  ``highlight`` (1.1 in the config) the same test with the brightness in (1, ``highlight``) is the background in
  more light (Horprasert's highlighted background: a codec block coded brighter, a lamp's spot on a wall). Grey
  video has no chromaticity: with ``grey_shadow`` (on in the config) the test there is the brightness and the
  texture alone (a flat object a little darker than a flat background passes for its shadow; one whose texture
  differs from the background's does not).
- Options measured and left off (README, ablation): ``shift`` (a neighbour's background may explain a pixel: a
  shaking camera), ``sway`` (the same only where the window showed the background sway:
  :mod:`bgsub.background.sway`), ``absorb=False`` (the diffused updates never write into foreground pixels).
- **A health check**: when most pixels never stand still in the window, a warning says the model holds what
  moved there (:func:`bgsub.background.start.choose`, which makes the window's choice of samples as well).

Example::

    model = SampleModel.initialise(first_frames)          # (T, C, H, W) in [0, 1]
    z = model.step(frames)                                  # (T, C, h, w) in noise levels, updates the model
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from bgsub.arrays import float32_of, like
from bgsub.background import illumination
from bgsub.background.clipping import TOP, clipped_from, white_level
from bgsub.background.ghost import absorb, ghost_regions
from bgsub.background.ghost import counts as ghost_counts
from bgsub.background.follow import boot_step, fill_entered, move_state
from bgsub.background.restart import ViewWatch, watch_view
from bgsub.background.shadow import shadowed
from bgsub.background.stable import StableSearch
from bgsub.background.sway import closer, sway_mask
from bgsub.background.start import FLOOR_OVER, choose
from bgsub.background.update import diffuse, heal
from bgsub.background.stats import (  # noqa: F401 (kth_smallest, noise_level, spread_ratio: re-exported)
    _channel_max, kth_smallest, median0, nn_spread, noise_level, robust_spread, spread_ratio)
from bgsub.background.texture import masked_region, masked_z, region_z
from bgsub.background.working import box_region, to_working, working_and_texture  # noqa: F401 (to_working: re-exported)
from bgsub.errors import BgsubError
from bgsub.netinput import network_size as working_size  # (h, w) within a pixel budget, aspect kept

log = logging.getLogger("bgsub")
CLIP_HI = 253.0  # grey levels at the working size: a channel this close to the 8-bit range's top was clipped by the
#                  camera (a censored value: the truth is at least it; JPEG moves a clipped flat area by a level or two)
WHITE_FRAMES = 16  # the window's frames the white level is measured on (spread over it; a million values at 320 x 240)
DYNAMICS = ("camera", "nn", "mad", "spread", "diff", "both", "mad-spread")  # how sigma is estimated (the first
#                                                                         three: the config's background.spread;
#                                                                         the rest: ablation)

def nn_statistic(n: int) -> tuple[int, float]:
    """``dynamics="nn"``'s statistic for ``n`` samples: (order, percentile). Each sample's distance to its
    ``n // 3``-th nearest other sample (a mode that holds a third of the samples keeps its own width), the 75th
    percentile over the samples (a quarter of them may be ties, as in noise-free footage where identical values
    would read as no spread, or lie outside every mode)."""
    return max(1, n // 3), 75.0


SHADOW_MIN = 0.5  # a cast shadow leaves at least this share of the light (MOG2's default tau; Prati et al. 2003)


@dataclass
class SampleModel:
    """The model's state. samples: (n, C, h, w) float32 grey levels; sigma: (h, w) each pixel's noise level;
    still: (h, w) frames each pixel has been still foreground; prev: (C, h, w) the last frame; size: working
    (h, w); native: the frames' (H, W)."""

    samples: np.ndarray
    sigma: np.ndarray
    noise: float
    native: tuple[int, int]
    size: tuple[int, int]
    k: float = 6.0
    matches: int = 2
    phi: int = 16
    still_frames: int = 8
    reach: int = 4
    heal_votes: int = 3
    heal: bool = False
    ghost: int = 0  # > 0: a region unlike the model and unchanged this many frames whose outline says ghost is taken in
    update: bool = True
    compensate: bool = True
    gain: bool = False
    smooth: bool = False
    sigma_update: bool = False
    within: float = 0.5
    shift: int = 0
    sway: int = 0  # > 0: where the window showed the background sway, a neighbour's background within this many
    #                working pixels may explain a pixel (bgsub.background.sway)
    texture: bool = False
    texture_region: int = 1  # the texture box-averaged over this many x this many working pixels (odd)
    texture_halo: str = "outside"  # next to colour foreground: outside (no texture there but in the one-pixel
    #                                gaps of colour's foreground, bgsub.background.texture.halo_gaps), bound (as
    #                                outside, and elsewhere there the texture's rise beyond what colour's edges can
    #                                make, bgsub.background.texture.edge_bound_z), silence (none there) or mask (the
    #                                region's texture over the unclaimed pixels, bgsub.background.texture.masked_region)
    censor: bool = True
    absorb: bool = True
    shadow: bool = False
    shadow_min: float = SHADOW_MIN  # the least share of the light a shadow leaves (alpha's lower bound)
    shadow_texture: bool = True  # a shadow keeps the texture it falls on (with ``texture``)
    highlight: float = 1.0  # with ``shadow``: the background in more light as well, alpha in (1, highlight); 1: off
    white: float = TOP  # the level the frames were clipped at (bgsub.background.clipping)
    grey_shadow: bool = False  # with ``shadow``: grey video too (no chromaticity: brightness and texture decide)
    motion: str = "diff"
    _grey: bool = False
    tsamples: Optional[np.ndarray] = None
    tsigma: Optional[np.ndarray] = None
    seed: int = 0
    frames_seen: int = 0
    horizon: int = 0
    _camera: float = 0.0
    _clean: bool = True
    _floor: float = 0.0
    _sig0: Optional[np.ndarray] = field(default=None, repr=False)
    _over: Optional[np.ndarray] = field(default=None, repr=False)  # (h, w) the pixels the floor is measured over
    _nn: bool = False  # sigma from the samples' nearest-neighbour spread (dynamics="nn"), not their MAD
    _flat: bool = False  # one noise level for every pixel, the video's (dynamics="camera"): the samples carry the
    #                      background's dynamics
    _sway: Optional[np.ndarray] = field(default=None, repr=False)  # (h, w) bool: the pixels whose window showed
    #                                                                the background sway (sway.py)
    _stable: Optional[StableSearch] = field(default=None, repr=False)  # the stable start after the window
    _found: Optional[dict] = field(default=None, repr=False)  # the search's lookahead when it ended
    still: Optional[np.ndarray] = None
    prev: Optional[np.ndarray] = None
    _bg: Optional[np.ndarray] = field(default=None, repr=False)
    _bg_at: int = field(default=0, repr=False)
    _dyn: Optional[np.ndarray] = field(default=None, repr=False)
    _moved: Optional[np.ndarray] = field(default=None, repr=False)
    _poly: Optional[np.ndarray] = field(default=None, repr=False)
    _rng: Optional[np.random.Generator] = field(default=None, repr=False)
    _params: Optional[dict] = field(default=None, repr=False)  # initialise's arguments (a new view starts again)
    _watch: Optional[ViewWatch] = field(default=None, repr=False)  # the new-view test (restart)
    _early: Optional["SampleModel"] = field(default=None, repr=False)  # a new view's model in use before the run
    #                                                                     completes (restart.py)
    restarts: list = field(default_factory=list, repr=False)  # where it started again: the n-th frame stepped (1-based)
    _base: int = field(default=0, repr=False)  # the video's frames before this model's window
    _ghost: Optional[tuple] = field(default=None, repr=False)  # the ghost test's per-pixel counts (ghost.py)
    _pending: Optional[tuple] = field(default=None, repr=False)  # a move (dy, dx) the next frame comes with
    _boot: Optional[np.ndarray] = field(default=None, repr=False)  # (h, w) frames since a pixel came into view while
    #                                                              it learns its samples, -1 for the others
    _bvals: Optional[np.ndarray] = field(default=None, repr=False)  # (LEARN n, C, h, w) their learning frames,
    _bmot: Optional[np.ndarray] = field(default=None, repr=False)  # (2, LEARN n, h, w) those frames' motions,
    _btex: Optional[np.ndarray] = field(default=None, repr=False)  # (LEARN n, h, w) and textures (follow.py)
    moves: list = field(default_factory=list, repr=False)  # where the model moved with the view (follow.py):
    #                                                       the n-th frame stepped (1-based)

    # ---- initialisation ---------------------------------------------------------------------------------------

    @classmethod
    def initialise(cls, frames, *, n: int = 20, pixels: int = 19200, k: float = 6.0,
                   matches: int = 2, phi: int = 16, still: int = 8, reach: int = 4, init: str = "stable",
                   heal: bool = False, update: bool = True, compensate: bool = True, gain: bool = False, smooth: bool = False, sigma_update: bool = False, within: float = 0.5, dynamics: str = "mad", clean: bool = True, seed: int = 0,
                   box: int = 0, shift: int = 0, texture: bool = False, horizon: int = 0,
                   censor: bool = True, absorb: bool = True, shadow: bool = False,
                   motion: str = "diff", shadow_min: float = SHADOW_MIN, open_horizon: int = 0, stiller: float = 1.0,
                   shadow_texture: bool = True, short: float = 0.0, texture_region: int = 1,
                   floor_over: str = "all", restart: bool = False, ghost: int = 0,
                   texture_halo: str = "outside", scenes: bool = False, highlight: float = 1.0,
                   grey_shadow: bool = False, white: float = TOP, cover: Optional[np.ndarray] = None,
                   sway: int = 0) -> "SampleModel":
        """The model from the initialisation window ``frames`` (T, C, H, W) in [0, 1]. ``init``: "stable" (the
        ``n`` frames of least local motion per pixel), "window" (``n`` frames spread over the window), "first"
        (the first frame, as ViBe). ``short`` (> 0, "stable"): a window of fewer than twice ``n`` frames gives each
        pixel its stillest ``short`` share of them (at least ``matches``), with the noise floor measured over the
        whole window; 0: its ``n`` stillest frames (every frame when it has no more). ``restart``: start again
        from a new view (:mod:`bgsub.background.restart`). ``ghost`` (> 0): a region unlike the model's background and
        unchanged for that many frames whose outline says it is the scene, not an object
        (:mod:`bgsub.background.ghost`), is taken into the samples. ``scenes`` ("stable"): a pixel whose stillest
        frames show two still scenes keeps the one its region's outline says is the scene
        (:mod:`bgsub.background.scenes`). ``highlight`` (> 1, with ``shadow``): a pixel brighter than its
        background by a brightness below it, its colour and texture kept, is the background in more light
        (:func:`bgsub.background.shadow.shadowed`); 1: off. ``grey_shadow`` (with ``shadow``): grey video (no
        chromaticity) is tested as well, on its brightness and texture. ``white``: the level the frames were
        clipped at; 0: measured on the window's frames (:func:`bgsub.background.clipping.white_level`, on at most
        :data:`WHITE_FRAMES` of them spread over it); a new view keeps the level. ``cover`` (T, h, w) bool at the
        working size, or None: the frames that show each pixel, where a followed camera moved within the window
        (:func:`bgsub.background.start.select` chooses each pixel's samples among those). ``sway`` (> 0): where the
        window shows the background sway, a neighbour's background within that many working pixels may explain a
        pixel (:mod:`bgsub.background.sway`); 0: off."""
        params = {name: value for name, value in locals().items() if name not in ("cls", "frames", "pixels", "cover")}
        if frames.ndim != 4 or frames.shape[0] < 1:
            raise BgsubError(f"background: expected initialisation frames (T, C, H, W), got {tuple(frames.shape)}")
        if matches < 1 or n < matches:
            raise BgsubError(f"background: need 1 <= matches <= samples, got {matches} of {n}")
        if texture_region < 1 or texture_region % 2 == 0:  # (checked here only: the config's path comes here too)
            raise BgsubError(f"background.texture_region must be an odd number of working pixels >= 1 (1 = each "
                             f"pixel's own texture), got {texture_region}")
        if floor_over not in FLOOR_OVER:
            raise BgsubError(f"background.floor must be one of {', '.join(FLOOR_OVER)}, got {floor_over!r}")
        if dynamics not in DYNAMICS:
            raise BgsubError(f"background: dynamics must be one of {', '.join(DYNAMICS)}, got {dynamics!r}")
        if white <= 0:  # measured at the frames' own resolution (averaging blurs the pile-up)
            pick = np.unique(np.linspace(0, frames.shape[0] - 1, min(frames.shape[0], WHITE_FRAMES)).round())
            top = np.stack([float32_of(frames[int(t)]).max(axis=0) for t in pick])  # each pixel's brightest channel
            params["white"] = white_level(top * np.float32(255.0))
            if params["white"] < TOP:
                log.info("background: the frames are clipped at grey level %d (studio-range video, or a copy whose "
                         "contrast was changed): values from %d up are compared as the bounds they are",
                         params["white"], params["white"] - (TOP - CLIP_HI))
        H, W = frames.shape[-2:]
        size = working_size(H, W, pixels)
        tm = None
        if texture:
            x, tm = working_and_texture(frames, size, texture_region)  # (T, C, h, w), (T, h, w)
        else:
            x = to_working(frames, size)
        return cls._from_working(x, tm, (H, W), params, cover)

    @classmethod
    def _from_working(cls, x: np.ndarray, tm: Optional[np.ndarray], native: tuple[int, int], params: dict,
                      cover: Optional[np.ndarray] = None) -> "SampleModel":
        """The model from the window's frames at the working size ``x`` (T, C, h, w) grey levels and their
        textures ``tm`` (T, h, w) or None, the frames' size being ``native`` (H, W); ``params``: the rest of
        :meth:`initialise`'s arguments (kept: a new view starts the model again with them); ``cover``: the frames
        that show each pixel (:meth:`initialise`)."""
        p = params
        n, k, matches, phi, still, reach, init = (p["n"], p["k"], p["matches"], p["phi"], p["still"], p["reach"],
                                                  p["init"])
        heal, update, compensate, gain, smooth = p["heal"], p["update"], p["compensate"], p["gain"], p["smooth"]
        sigma_update, within, dynamics, clean, seed = (p["sigma_update"], p["within"], p["dynamics"], p["clean"],
                                                       p["seed"])
        box, shift, texture, horizon, censor, absorb = (p["box"], p["shift"], p["texture"], p["horizon"],
                                                        p["censor"], p["absorb"])
        shadow, motion, shadow_min, open_horizon, stiller = (p["shadow"], p["motion"], p["shadow_min"],
                                                             p["open_horizon"], p["stiller"])
        shadow_texture, short, texture_region = p["shadow_texture"], p["short"], p["texture_region"]
        texture_halo = p.get("texture_halo", "outside")
        highlight = p.get("highlight", 1.0)  # (a model saved before it: shadows only)
        grey_shadow = p.get("grey_shadow", False)  # (a model saved before it: colour video only)
        floor_over = p["floor_over"]
        H, W = native
        T, C, h, w = x.shape
        white = float(p.get("white", TOP))  # (a model saved before it: the 8-bit top)
        # what the window gives: each pixel's samples, the noise, the health check (bgsub.background.start.choose)
        win = choose(x, native, n=n, k=k, matches=matches, init=init, box=box, motion=motion, short=short,
                     floor_over=floor_over, clean=clean, seed=seed, scenes=bool(p.get("scenes", False)), white=white,
                     cover=cover)
        n, noise, floor, quiet, over, b = win.n, win.noise, win.floor, win.quiet, win.over, win.box
        samples, idx, m, mnorm = win.samples, win.idx, win.motion, win.norm
        model = cls(samples=samples, sigma=np.full((h, w), noise, np.float32), noise=noise, native=(H, W),
                    size=(h, w), k=k, matches=matches, phi=phi, still_frames=still, reach=reach, heal=heal,
                    update=update, compensate=compensate, gain=gain, smooth=smooth, sigma_update=sigma_update, within=within, shift=shift, texture=texture, texture_region=texture_region, texture_halo=texture_halo, censor=censor, absorb=absorb, shadow=shadow, shadow_min=shadow_min, shadow_texture=shadow_texture, highlight=highlight,
                    grey_shadow=grey_shadow, motion=motion, seed=seed, white=white)
        model._grey = C == 1 or bool(np.abs(np.diff(x[: min(T, 8)], axis=1)).max() < 1.0)  # channels all equal
        model._dyn = np.full((h, w), noise, np.float32)
        model._camera, model._clean, model._floor = noise, clean, floor
        model._over = over
        model._nn = dynamics == "nn"
        model._flat = dynamics == "camera"
        if init == "stable" and horizon > T and T > n and T > 1 and dynamics in ("camera", "mad", "nn"):
            # the stable start goes on past the window, up to ``horizon`` frames: each pixel's samples stay the
            # values of its frames of least motion seen so far (see :meth:`_extend`)
            model.horizon = horizon
            m_idx = np.take_along_axis(m, np.ascontiguousarray(idx), axis=0).astype(np.float32)
            # past the horizon, the pixels the window never saw still (in fewer frames than their samples need:
            # the health check's measure) go on, up to open_horizon
            model._stable = StableSearch(samples, m_idx, first=T, horizon=horizon, box=b, camera=noise,
                                         motion=motion, norm=mnorm, open_mask=quiet < n, open_horizon=open_horizon,
                                         stiller=stiller)
        if T > 1 and dynamics in ("diff", "both"):
            # each pixel's own dynamics: how much its background changes from one frame to the next, measured
            # at the frames the samples come from (the median |x_t - x_(t-1)| there is 0.954 sigma for noise)
            dd = np.abs(np.diff(x, axis=0)).max(axis=1)  # (T-1, h, w)
            dd = np.concatenate([dd[:1], dd])  # frame t's difference to its previous (the first: to the next)
            sel = np.take_along_axis(dd, np.ascontiguousarray(idx), axis=0)
            model._dyn = np.maximum(np.median(sel, axis=0) / 0.954, noise).astype(np.float32)
        model.sigma = model._dyn
        if dynamics in ("camera", "mad", "mad-spread", "nn"):
            model._settle(model.samples)
            if model._stable is not None:
                model._floor = model.noise  # the window's noise floor: a longer horizon never lowers it,
                # nor the noise level of a pixel the window saw still in all the frames its samples need (its
                # estimate was sound); one it never saw still (leaves across the lens) had none to keep
                model._sig0 = np.where(quiet >= n, model.sigma, 0).astype(np.float32)
        if dynamics in ("spread", "both", "mad-spread"):
            model.sigma = np.maximum(model._spread(), model._dyn)
        if tm is not None:  # the colour samples' frames, the same noise levels and conservative pass
            ts = np.take_along_axis(tm, np.ascontiguousarray(idx), axis=0)[:, None]  # (n, 1, h, w)
            model.tsamples, model.tsigma, _ = robust_spread(ts.astype(np.float32), k, noise, clean,
                                                            over=model._over)
        model.still = np.zeros((h, w), np.int32)
        model.prev = None  # the first frame stepped has no previous one
        model._params = params
        model.ghost = int(p["ghost"])
        model.sway = int(p.get("sway", 0))  # (a model saved before it: none)
        if model.sway > 0 and T > 1:  # where the window shows the background sway (sway.py)
            model._sway = sway_mask(x, model.samples, model.background(), model.sigma, k, model.matches, model.sway,
                                    cover)
        if p["restart"]:
            model._watch = ViewWatch(2 * p["n"])  # a full window: twice the samples (restart.py)
        return model

    def _settle(self, samples: np.ndarray) -> None:
        """Samples and noise levels from stable values ``samples`` (n, C, h, w): as the static reference, sigma is
        1.4826 x the median absolute deviation of the samples from their median (max over channels), floored at
        the frame's median of it and at the camera noise; with ``dynamics="nn"`` the samples' nearest-neighbour
        spread (:meth:`_spread`, :func:`nn_statistic`) replaces the MAD, the floor staying the same. The
        conservative pass (``clean``, as the static reference's second pass): a sample more than k noise levels off the samples' median is an object that
        crossed the window, not a background mode; it is replaced by the median, and the noise level estimated
        again without it. Over a longer horizon (:meth:`_extend`) neither the floor nor any pixel's noise level
        drops below the window's: the stillest frames of a longer stretch are also its least noisy ones, and their
        spread underestimates the noise (a selection bias)."""
        samples, dyn, floor = robust_spread(samples, self.k, max(self._camera, self._floor), self._clean,
                                            over=self._over)
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.noise = floor
        if self._nn:  # the width of the samples' modes, per channel: their nearest-neighbour spread (a leaf that
            # rested in front of the scene, or water, gives the samples several modes; their MAD spans them all)
            dyn = self._spread(*nn_statistic(samples.shape[0]))
        if self._flat:  # the video's noise level at every pixel (ViBe's one radius): the samples hold the modes
            dyn = np.full(dyn.shape, floor, np.float32)
        if self._sig0 is not None:
            dyn = np.maximum(dyn, self._sig0)
        self._dyn = dyn
        self.sigma = dyn
        self._bg = None

    def _spread(self, order: Optional[int] = None, q: float = 50.0, samples: Optional[np.ndarray] = None
                ) -> np.ndarray:
        """(h, w) each pixel's own dynamics: over its samples (``samples``, (n, C, ...), or the model's), the
        ``q``-th percentile of each sample's ``order``-th smallest distance (max over channels) to the other
        samples (``order`` None: ``matches``), calibrated by :func:`spread_ratio` to a Gaussian's standard deviation
        per channel, floored at the noise floor. Water and leaves that sway in place spread their samples; a still
        pixel's spread is its noise. The frames the samples were not taken from (objects crossing the window) play
        no part."""
        s = self.samples if samples is None else samples
        n, C = s.shape[:2]
        order = min(n - 1, self.matches if order is None else order)
        spread = nn_spread(s, order, q) / spread_ratio(n, C, order, q)
        return np.maximum(spread, self.noise).astype(np.float32)

    # ---- one frame --------------------------------------------------------------------------------------------

    def background(self) -> np.ndarray:
        """(C, h, w) the model's background image: the median of the samples (cached until the samples change)."""
        if self._bg is None or self.frames_seen - self._bg_at >= 64:
            self._bg = median0(self.samples).astype(np.float32)
            self._bg_at = self.frames_seen
        return self._bg

    def _offset(self, x: np.ndarray) -> np.ndarray:
        """(C, 1, 1) the frame's per-channel median offset from the background (zero without ``compensate``)."""
        if not self.compensate:
            return np.zeros((x.shape[0], 1, 1), np.float32)
        return illumination.offset(x, self.background())

    def _compensated(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """The frame in the model's illumination (:mod:`bgsub.background.illumination`): minus the median offset
        per channel; with ``gain`` a gain as well where it explains more of the scene; with ``smooth`` a
        quadratic light field. Returns (frame, the gain undone, its mean over channels: 1 without one); the
        texture (differences, where an offset cancels) is divided by it."""
        off = self._offset(x)
        if self.compensate and self.smooth:
            if self._poly is None or self._poly.shape[1:] != x.shape[1:]:
                self._poly = illumination.polynomial_basis(*x.shape[1:])
            return illumination.smooth_compensated(x, self.background(), self.sigma, self.k, off, self._poly,
                                                   top=clipped_from(self.white)), 1.0
        if not (self.compensate and self.gain):
            return x - off, 1.0
        xc, a = illumination.gain_compensated(x, self.background(), self.sigma, self.k, off, with_gain=True,
                                              top=clipped_from(self.white))
        return xc, float(a.mean())

    def _censored(self, x: np.ndarray, xc: np.ndarray, res: np.ndarray) -> Optional[np.ndarray]:
        """Saturated pixels: where the camera clipped a pixel (a channel within ``255 - CLIP_HI`` grey levels of
        the white level, :attr:`white`; the colour processing after the sensor mixes the channels, so every channel
        of it is affected), its values only say the truth is at least that bright. In the model's light (``xc``)
        the bound is compared one-sidedly: a sample brighter than it matches (a bright wall clips under a light
        that brightens the scene, and undoing the change would make it darker than its samples). ``res`` is corrected in place; returns the
        (h, w) mask of saturated pixels (None if none)."""
        sat = _channel_max(x) >= self.white - (TOP - CLIP_HI)
        if not sat.any():
            return None
        ys, xs = np.divmod(np.flatnonzero(sat), sat.shape[1])  # np.nonzero's, in a fifth of its time
        s = self.samples[:, :, ys, xs]  # (n, C, P)
        d = xc[None, :, ys, xs] - s  # how far the bound lies below each sample: > 0 is a mismatch
        np.maximum(d, 0, out=d)
        m = min(self.matches, d.shape[0])
        res[:, ys, xs] = np.partition(d, m - 1, axis=0)[m - 1]
        return sat

    def _shadowed(self, xc: np.ndarray, zmax: np.ndarray, tex: Optional[np.ndarray] = None
                  ) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Cast shadows (:func:`bgsub.background.shadow.shadowed`), and with ``highlight`` the background in more
        light: (alpha, shadow mask, chromaticity distortion) at the foreground pixels, None when no pixel is one;
        with the texture (``tex``, in the model's light) and ``shadow_texture`` a shadow keeps the texture it falls
        on."""
        if not (zmax > self.k).any():  # (the background image is made only when needed: its cache's schedule)
            return None
        guard = tex is not None and self.shadow_texture and self.tsamples is not None
        top = max(1.0, float(self.highlight))
        return shadowed(xc, zmax, self.background(), self.sigma, self.k, self.shadow_min,
                        tex if guard else None, self.tsamples if guard else None, self.tsigma, self.matches, top)

    def _residual(self, x: np.ndarray, extra: int = 0) -> np.ndarray:
        """(C, h, w) per channel, the (matches + extra)-th smallest |x - s_j| over the samples, grey levels."""
        return kth_smallest(self.samples, x, self.matches + extra)

    def _shifted(self, x: np.ndarray, res: np.ndarray) -> np.ndarray:
        """The residual where a neighbour's background (within ``shift`` working pixels) explains the pixel better:
        a camera that shakes by a fraction of a pixel, or an edge whose blur changes, moves the background's edges
        but not its colours (:func:`bgsub.background.sway.closer`; ``res`` is changed in place)."""
        closer(x, res, self.background(), self.shift)
        return res

    def step(self, frames):
        """z (T, C, h, w) float32 in noise levels for consecutive frames (T, C, H, W) in [0, 1], each seen once
        and in order; the model is updated after each frame. The kind of ``frames`` (a NumPy array or a tensor)
        is the kind returned."""
        if tuple(frames.shape[-2:]) != self.native:
            raise BgsubError(f"background: frames are {frames.shape[-1]}x{frames.shape[-2]} but the model was "
                             f"initialised on {self.native[1]}x{self.native[0]}")
        tm = raw = None
        if self.texture and self.tsamples is not None:
            if self.texture_halo == "mask":  # the texture before its box average as well (masked per frame)
                x, raw = working_and_texture(frames, self.size, 1)
                tm = raw.copy()
                box_region(tm, self.texture_region)
            else:
                x, tm = working_and_texture(frames, self.size, self.texture_region)
        else:
            x = to_working(frames, self.size)
        out = np.empty_like(x)
        for t in range(x.shape[0]):
            out[t] = self._step(x[t], None if tm is None else tm[t], None if raw is None else raw[t])
        return like(out, frames)

    def _extend(self, xc: np.ndarray) -> None:
        """The stable start over a longer horizon (:class:`bgsub.background.stable.StableSearch`): where the search
        says so, the samples are set again from the kept values (every pixel: :meth:`_settle`; past the horizon,
        the pixels the window never saw still: :meth:`_settle_open`); updates made in between are replaced."""
        act = self._stable.step(xc, self.frames_seen)
        if act is not None:
            idx, vals = act
            if idx is None:
                self._settle(vals)
            else:
                self._settle_open(idx, vals)
        if self._stable.done:
            self._found = self._stable.lookahead()  # what a second pass may adopt (the search is dropped)
            self._stable = None

    def unsettled_share(self) -> float:
        """The share of the pixels the initialisation window never saw still (fewer still frames than their samples
        need: the stillest-frame search's open pixels; 47% of sbi-foliage's, 0.5% of highway's), 0.0 when the model
        has no search past the window."""
        s = self._stable
        return 0.0 if s is None or s.unsettled is None else float(s.unsettled.mean())

    def lookahead(self) -> Optional[dict]:
        """What the stillest-frame search has found so far for the pixels whose window did not show the scene (at
        best twice as moving as the video later: :meth:`bgsub.background.stable.StableSearch.lookahead`), for a
        second pass over the same video, with ``"tvals"``: those pixels' texture samples as they are now (n, P),
        healed by the updates since the window; None without a search or when there are none."""
        found = self._stable.lookahead() if self._stable is not None else self._found
        if found is not None and self.tsamples is not None:
            n = self.tsamples.shape[0]
            found = dict(found, tvals=self.tsamples.reshape(n, -1)[:, found["pixels"]].copy())
        return found

    def adopt(self, found: Optional[dict]) -> bool:
        """Right after :meth:`initialise`, before any frame is stepped: take the stillest frames that a model
        started on the same window found further on (``found``, :meth:`lookahead` after a first pass over the same
        video) for the pixels whose window did not show the scene, and set the samples again from the kept values
        (the same conservative pass and noise levels as at every setting). Every other pixel keeps the window's
        samples; the texture samples of the pixels taken are the first pass's (``"tvals"``: the window's were the
        occluder's texture). Returns False (nothing changed) when ``found`` belongs to another window."""
        if self._stable is None or self.frames_seen or not self._stable.adopt(found):
            return False
        s = self._stable
        self._settle(s.vals.reshape((-1,) + s.shape).copy())
        tvals = found.get("tvals")
        if self.tsamples is not None and tvals is not None:
            n = self.tsamples.shape[0]
            tvals = np.asarray(tvals, np.float32)
            if tvals.shape == (n, len(found["pixels"])):
                self.tsamples = np.ascontiguousarray(self.tsamples)  # (reshape below then a view: written in place)
                self.tsamples.reshape(n, -1)[:, found["pixels"]] = tvals
        return True

    def _settle_open(self, idx: np.ndarray, vals: np.ndarray) -> None:
        """:meth:`_settle` for the pixels ``idx`` (flat) alone, from their kept values ``vals`` (n, C, P): the same
        conservative pass and noise levels, floored at the frame's noise floor as it stands (not re-estimated from
        these pixels alone)."""
        samples, dyn, _ = robust_spread(vals[..., None], self.k, self.noise, self._clean, fixed_floor=True)
        if self._nn:
            dyn = self._spread(*nn_statistic(samples.shape[0]), samples=samples)
        dyn = dyn[:, 0]
        if self._flat:
            dyn = np.full(dyn.shape, self.noise, np.float32)
        if self._sig0 is not None:
            dyn = np.maximum(dyn, self._sig0.reshape(-1)[idx])
        n, C = self.samples.shape[:2]
        self.samples.reshape(n, C, -1)[:, :, idx] = samples[..., 0]
        self._dyn = self._dyn.copy()
        self._dyn.reshape(-1)[idx] = dyn
        self.sigma = self._dyn
        if self._bg is not None:  # the background image changes at these pixels only (a copy: a snapshot may hold it)
            self._bg = self._bg.copy()
            self._bg.reshape(C, -1)[:, idx] = median0(samples[..., 0])

    def _in_shadow(self, tex: np.ndarray, shade) -> np.ndarray:
        """A texture map in the background's light where a cast shadow fell (``shade``: :meth:`_shadowed`'s alpha
        and mask, or None): a shadow scales the texture under it as it scales the colour."""
        if shade is None:
            return tex
        return np.where(shade[1], tex / np.maximum(shade[0], self.shadow_min), tex).astype(np.float32)

    def _masked_texture_z(self, raw: np.ndarray, zmax: np.ndarray, gain: float, shade) -> np.ndarray:
        """``texture_halo=mask``: the texture z of each pixel's region measured over the pixels colour did not claim
        (:func:`bgsub.background.texture.masked_z`), in the model's light as the plain texture is."""
        claimed = cv2.dilate((zmax > self.k).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        texm, share = masked_region(raw, claimed, self.texture_region)
        if gain != 1.0:  # a gain scales differences
            texm = texm / np.float32(gain)
        texm = self._in_shadow(texm, shade)
        return masked_z(texm, share, claimed, self.tsamples[:, 0], self.tsigma, self.matches)

    def _step(self, x: np.ndarray, tex: Optional[np.ndarray] = None, raw: Optional[np.ndarray] = None
              ) -> np.ndarray:
        tex0 = tex  # as read (the new-view test keeps it; a gain rescales `tex` below)
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        rng = self._rng
        fresh = None
        if self._pending is not None:  # the view moved: the state moves with it (follow.py)
            fresh = move_state(self, *self._pending)
            self._pending = None
            self.moves = self.moves + [self._base + self.frames_seen + 1]
        xc, gain = self._compensated(x)
        if fresh is not None:  # the pixels that came into view start from this frame
            fill_entered(self, fresh, xc, tex if tex is None or gain == 1.0 else tex / np.float32(gain))
        if self._stable is not None:
            self._extend(xc)
        res = self._residual(xc)  # (C, h, w)
        if self.shift > 0:
            res = self._shifted(xc, res)
        if self._sway is not None and self._sway.any():  # (where the window showed a sway: sway.py)
            closer(xc, res, self.background(), self.sway, self._sway)
        clipped = self._censored(x, xc, res) if self.censor else None
        z = res / self.sigma
        zmax = _channel_max(z)  # (h, w), computed once
        if tex is not None and gain != 1.0:  # a gain scales differences
            tex = tex / np.float32(gain)
        shade = (self._shadowed(xc, zmax, tex) if self.shadow and (self.grey_shadow or not self._grey)
                 else None)
        if shade is not None:  # the background in shadow: its colour z is the chromaticity distortion
            sh, cd = shade[1], shade[2]
            z[:, sh] = np.minimum(z[:, sh], cd[sh][None])
            zmax[sh] = np.minimum(zmax[sh], cd[sh])
        if tex is not None:  # the texture as one more channel: its z raises every colour channel's
            tex = self._in_shadow(tex, shade)
            if raw is not None:
                zt = self._masked_texture_z(raw, zmax, gain, shade)
            else:
                zt = region_z(tex, self.tsamples[:, 0], self.tsigma, self.matches, zmax > self.k,
                              self.texture_region, self.texture_halo,
                              _channel_max(res) if self.texture_halo == "bound" else None)
            np.maximum(z, zt[None], out=z)
            np.maximum(zmax, zt, out=zmax)
        booting = boot_step(self, xc, tex, zmax) if self._boot is not None else None  # (follow.py)
        if self.update:
            # only values well inside the model enter it (z < within * k): a borderline match (a leaf a little
            # like one sample) never becomes a sample, so misclassifications do not feed the model
            bgpx = zmax <= self.within * self.k
            if clipped is not None:  # a clipped value is a bound, not a sample
                bgpx &= ~clipped
            if shade is not None:  # a shadow is not what the background looks like
                bgpx &= ~shade[1]
            if booting is not None:  # (a pixel learning its samples gives none to its neighbours yet)
                bgpx &= ~booting
            if self.sigma_update and self.frames_seen % 32 == 31:
                self.sigma = np.maximum(self._spread(), self._dyn)  # the dynamics follow the samples as they are replaced
            diffuse(self.samples, self.tsamples, xc, tex, bgpx, zmax, k=self.k, phi=self.phi, absorb=self.absorb,
                    rng=rng)
        if self.ghost > 0:
            bgi = self.background()
            # off: unlike the model's background image (foreground, or matching only a minority of the samples)
            self._ghost, off = ghost_counts(self._ghost, xc, self.prev, bgi, zmax > self.k, self.sigma, self.k)
            # the regions judged once every `ghost` frames, as long as a region must stand still (about a
            # millisecond a call at 160 x 120; the counts, every frame, a thirtieth of that)
            found = (ghost_regions(*self._ghost, self.ghost, xc, bgi, off, self.sigma, self.k)
                     if self.frames_seen % self.ghost == 0 else None)
            if found is not None:
                absorb(self, found, xc, tex)
                self._ghost[0][found] = 0
        if self.heal and self.still is not None and self.prev is not None:  # (the first frame has no previous)
            self.still, self._moved = heal(self.samples, self.sigma, xc, self.prev, zmax, self.still, self._moved,
                                           k=self.k, still_frames=self.still_frames, reach=self.reach,
                                           matches=self.matches, votes_needed=self.heal_votes, rng=rng)
        if self.heal or self.ghost > 0:  # (what the ghost counts and the healing compare the next frame with)
            self.prev = xc
        self.frames_seen += 1
        if self._watch is not None:
            z = watch_view(self, x, tex0, raw, z, zmax)
        return z

    def move(self, dy: int, dx: int) -> None:
        """The view moved: the next frame stepped lies (dy, dx) working pixels from the model's grid (its content at
        ``y`` is the model's at ``y - dy``): before it is compared the model's state moves with it and the pixels
        that came into view start from it (:mod:`bgsub.background.follow`)."""
        if dy or dx:
            py, px = self._pending or (0, 0)
            self._pending = (py + int(dy), px + int(dx))
