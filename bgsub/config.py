"""All defaults in one place.

A :class:`Config` is a tree of dataclasses, one section per concern. Presets (``bgsub/configs/NAME.yaml``, shipped
inside the package and read with importlib.resources; ``--config NAME``) override only the keys that differ;
``--config path.yaml`` reads the user's own file; ``--set section.key=value`` overrides single keys on the
command line. Unknown sections, unknown keys and values of the wrong type are errors
(:class:`~bgsub.errors.BgsubError`), never silently ignored.
The resolved config is saved beside every output (``config.yaml``) and inside every checkpoint.

Example::

    cfg = load_config("paper", overrides=["train.lr=1e-3"])
    cfg.train.lr  # 0.001
"""

from __future__ import annotations

import dataclasses
import math
import os
from importlib import resources
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from bgsub.errors import BgsubError


@dataclass
class InputConfig:
    """How frames are read (see :func:`bgsub.io.frames.iter_frames`)."""

    start: Optional[int] = None  # first frame number to read (inclusive); None = from the first
    end: Optional[int] = None  # last frame number to read (inclusive); None = to the last
    stride: int = 1  # read every k-th frame
    grayscale: Optional[bool] = None  # None = the method's own choice (colour for unet, median, mog2, knn;
    #                                   grayscale for the rpca solvers, the paper's preprocessing); true/false forces it
    scale: float = 1.0  # resize factor applied to every frame (0.5 = half resolution)
    max_pixels: int = 250000  # pixel budget of the working size: larger frames are read reduced by
    #                           sqrt(max_pixels / (H W)) (effective scale min(scale, that)); every method fits and
    #                           runs at that size and masks are written back at the native size, so memory and time
    #                           follow the budget, not the camera (1080p runs at 666 x 375). 250000 keeps every
    #                           sequence of the benchmark data (up to 348 x 468) native. 0 = no budget. A saved
    #                           config.yaml holds the effective scale
    chunk: int = 64  # frames held in memory at once by streaming commands
    stabilize: bool = True  # camera jitter or a slow pan: each frame moved back onto the first frame's pixel grid
    #                         by a whole-pixel translation (phase correlation, kept only where it brings the frame's
    #                         texture closer to the first frame's; bgsub.io.stabilize), segmented there and its mask
    #                         moved back.
    #                         A still camera's frames are left as they are
    follow: bool = True  # with stabilize, a method whose background model moves with the view (the U-Net's sample
    #                      model, consensus): where the camera points (the last 9 registered frames' median offset)
    #                      further than 1/16 of the frame's smaller side from the model's grid moves the model there,
    #                      the pixels that come into view compared from the frame after they enter (ViBe's start
    #                      from one frame) and taking the stillest 20 of their first 40 frames as samples
    #                      (bgsub.background.follow); a frame a quarter of the frame from registration's reference
    #                      becomes it. false: every frame registered to the first (a pan followed to 3/4 of the view)


@dataclass
class ThresholdConfig:
    """How |S| becomes a mask (see :mod:`bgsub.threshold`)."""

    scope: str = "frame"  # "frame": one Otsu threshold per frame; "clip": one per window; "video": one overall
    median: int = 5  # odd size of a median filter applied to each mask (pixels of the masks as the method makes
    #                  them: the frames' own size, or the size they are read at); 0 = off. 5: the `median`
    #                  baseline's own; SuBSENSE, LOBSTER and PAWCS blur theirs by 9 (St-Charles et al. 2015). An
    #                  object is a region, not a speck: a 5 x 5 majority removes what is thinner than 3 pixels
    #                  and fills holes as small (thirty-second session, the shipped network zero-shot: the eight
    #                  0.7206 -> 0.7269, `consensus` 0.669 -> 0.691, `trees` at 160 x 120 0.638 -> 0.852 with
    #                  the thirtieth session's network; 9: ucsd-peds' small walkers 0.754 -> 0.692)
    fill: bool = True  # after the median filter, each mask's holes (background pixels no path of background
    #                    pixels joins to the frame's edge) become foreground: an object whose inside matches the
    #                    scene (a worker standing in view from the first frame, leaves whose middle is the
    #                    colour of what they cover) is found by its outline (SuBSENSE and LOBSTER fill their
    #                    masks' holes; thirty-second session: sbi-foliage 0.814 -> 0.849, office-from700 0.614 ->
    #                    0.634, no scenario lower)


@dataclass
class RPCAConfig:
    """Robust PCA solvers (``bgsub rpca``, the ``rpca-*`` methods; see :mod:`bgsub.solvers`)."""

    solver: str = "ialm"  # ialm (PCP, fast) | apg (Eq. 1 + FISTA momentum) | pfb (the paper's Eqs. 3-5)
    window: int = 50  # frames per window (the paper's 50); windows are tiled (see bgsub.pipelines.run)
    lam: Optional[float] = None  # lambda_1; None = 1/sqrt(max(m, n)) (ialm), lam_star/sqrt(max(m, n)) (apg, pfb)
    lam_star: float = 1.0  # lambda_* (apg, pfb)
    alpha: float = 0.5  # step size of apg/pfb (0 < alpha <= 1/2)
    tol: float = 1e-7  # stop at this relative residual: ||D-L-S||/||D|| (ialm), ||X_k+1-X_k||/||X_k+1|| (apg, pfb)
    max_iter: int = 1000  # then stop with a warning
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    dtype: str = "float32"  # float32 | float64
    rho: float = 1.5  # ialm: growth of the penalty mu per iteration (Lin, Chen, Ma's reference code)
    restart: bool = True  # apg: adaptive momentum restart (O'Donoghue and Candes)
    svd: str = "auto"  # SVT's SVD: auto (Gram matrix, accurate fallback) | gram (no fallback) | full (reference)
    threads: int = 0  # torch CPU threads while bgsub rpca runs; 0 = leave torch's default


@dataclass
class BackgroundConfig:
    """The background model the default U-Net is given (see :mod:`bgsub.background`): by default a
    sample-consensus model of each pixel (:mod:`bgsub.background.samples`), started from the initialisation window
    and updated over time; or the static reference (a conservative temporal median of the window, each pixel's
    noise level, per-frame illumination offset)."""

    model: str = "samples"  # samples: N samples per pixel, updated over time, healing a busy start | reference:
    #                         the static conservative median of the initialisation window (the previous default)
    init: int = 100  # the first `init` selected frames are the initialisation window (CDnet's convention)
    k: float = 6.0  # outlier distance in noise levels: the energy's per-pixel foreground/background boundary
    passes: int = 2  # reference: 1 = plain median and MAD; 2 = conservative re-estimation without the outliers
    compensate: str = "offset"  # offset: per-frame illumination offset (robust median) | smooth (reference
    #                             only): a quadratic gain and offset field per frame (robust fit) | none
    sway: int = 0  # samples: > 0: where the window shows the background sway (most of a pixel's misses explained by
    #              a neighbour's background within this many working pixels: branches, leaves against the sky), a
    #              neighbour's background within it may explain the pixel (Elgammal et al. 2000's displacement
    #              probability; bgsub.background.sway). Off: 2 takes the `trees` scenario 0.638 -> 0.956 zero-shot
    #              but costs ucsd-peds 0.06, sbi-foliage 0.07 and the fifteen proxies 0.037 (1: trees 0.781, the
    #              proxies -0.011; thirtieth session). For a scene you know sways
    shift: int = 0  # displacement tolerance in pixels (compared with the background within a radius; samples:
    #                 working-size pixels, a neighbour's background may explain a pixel)
    texture: bool = True  # samples: a texture channel (mean |neighbour difference| inside each working pixel,
    #                       measured at up to twice the working size; bgsub.background.texture): sees an object
    #                       whose colour matches the background
    texture_region: int = 5  # samples: the texture averaged over this many x this many working pixels (odd; 1 =
    #                          each working pixel's own): texture is a region's property (LBSP compares a pixel
    #                          with neighbours two pixels away); a swaying textured region keeps its texture
    #                          density while its pattern moves, so an untextured object in front of it stands out
    texture_halo: str = "bound"  # samples: an object's edge changes the texture of the region around it.
    #                                outside: the texture says nothing within the region of colour foreground
    #                                (dilated by texture_region + 2) except in that foreground's one-pixel gaps
    #                                (its 3 x 3 closing), where an object colour finds only in specks shows its own
    #                                texture (twenty-third session: camouflage at 160 x 120 zero-shot 0.54 ->
    #                                0.93); bound: as outside, and elsewhere there the texture says what it rose
    #                                by beyond twice the nearby colour foreground's contrast (an edge of contrast D
    #                                raises a pixel's texture by at most 2 D; thirty-second session: camouflage at
    #                                640 x 480, whose specks are a few grey levels, 0.68 -> 0.76 thresholded, the
    #                                eight unchanged); silence: nothing there at all, gaps included (the twentieth to
    #                                twenty-second sessions' default); mask: each pixel's region texture is
    #                                measured over the pixels colour did not claim (colour foreground dilated by
    #                                one), with the noise of an average over that share of the region (normalized
    #                                convolution). Measured in docs/RESEARCH.md (twenty-first to twenty-third
    #                                sessions): mask a fifth slower (highway 232 -> 182 frames/s) for a wash
    scenes: bool = True  # samples, start=stable: a pixel whose stillest window frames show two still scenes
    #                      (someone stood in view and left, or came and stopped) keeps the one whose region's
    #                      outline is no edge against the settled background around it; the other's samples
    #                      are replaced by its (bgsub.background.scenes)
    samples: int = 20  # samples: samples per pixel (ViBe's N)
    matches: int = 2  # samples: a pixel is background when this many samples lie within k noise levels (#min)
    start: str = "stable"  # samples: which window frames the samples come from: stable (each pixel's frames of
    #                        least local motion, LaBGen) | dense | window (spread over the window) | first (ViBe)
    update: int = 16  # samples: a background pixel replaces one of its samples, and one of a neighbour's, with
    #                   probability 1/update each (ViBe's subsampling factor phi); 0 = never updated
    still: int = 0  # samples: > 0: a foreground pixel that changed and then stayed unchanged this many frames,
    #                 and matches the background around it, heals (is absorbed): off by default (measured: it
    #                 absorbed parts of stopped objects, and the spatially diffused updates already heal)
    reach: int = 4  # samples: how far (working-size pixels) the background around a healing pixel is looked for
    restart: bool = True  # samples: a new view (more than half of the frame foreground and still since the
    #                       first of twice `samples` frames in a row: a camera re-pointed, a cut) starts the model
    #                       again from those frames (bgsub.background.restart); false: it keeps the old view
    ghost: int = 8  # samples: > 0: a region unlike the model's background and unchanged for this many frames, after
    #                 a change, lying in settled background, whose outline is the model's edge and not the frame's
    #                 (the scene a departed object hid: a ghost) is taken into the samples (bgsub.background.ghost);
    #                 an object that stops keeps its edge in the frame and stays; 0 = off
    pixels: int = 0  # samples: the model's working size in pixels; 0 = the network's pixel budget (model.pixels)
    horizon: int = 3000  # samples, start=stable: the stable start goes on online up to this frame for every
    #                      pixel (each pixel's samples stay its stillest frames seen so far, LaBGen over the
    #                      video so far: a background that the window never showed still is found later, and
    #                      a person standing in view from the first frame gives way once the scene behind shows
    #                      still); 0 or <= init = the window alone. An object that stops at frame t, as still
    #                      as the scene, is half taken in about t/2 frames later (README, the stopped-object
    #                      policy; `stiller` keeps it out)
    open_horizon: int = 0  # samples, start=stable: past the horizon, the pixels the window never saw stand still
    #                        (in fewer frames than the samples need: a background it never showed, leaves across
    #                        the lens) go on choosing their stillest frames up to this frame; the rest stop at
    #                        the horizon; 0 = off (the twelfth session's default: horizon 300, open_horizon 3000)
    stiller: float = 1.0  # samples, start=stable: after the window, a frame takes the place of one of a pixel's
    #                       kept (stillest) frames when its motion is below this share of that frame's; 1 = any
    #                       stiller frame (LaBGen). Below 1 an object that stops, as still as the scene, is never
    #                       taken in by the search (measured: 0.5 keeps it; costs highway 0.06 thresholded, whose
    #                       window's stillest frames keep improving over the video)
    short: float = 0.5  # samples, start=stable: a window of fewer than twice `samples` frames (a short clip) gives
    #                     each pixel its stillest `short` share of them as samples, the noise floor measured over
    #                     the whole window; 0 = its `samples` stillest frames, or every frame when it has no more
    motion: str = "both"  # samples, start=stable: how a frame's stillness is measured when choosing each pixel's
    #                       samples: diff (frame differences, box-filtered; LaBGen) | flow (the differences over
    #                       the gradient: displacement, LaBGen-OF's idea; a drifting blurred leaf moves, a sharp
    #                       still background does not) | both (still by both, each in units of the pixel's own
    #                       median over the window: flow alone cannot see a flat road or sky stand still)
    floor: str = "all"  # samples: the pixels the frame's noise floor (the median of the pixels' sample spreads)
    #                     is taken over: all | settled (those the window saw stand still in as many frames as
    #                     their samples need; at least a tenth of the frame, else all: leaves that sweep across
    #                     most of the frame then set no pixel's floor; measured: sbi-foliage +0.07, ucsd-birds
    #                     -0.09 thresholded, so all stays: the frame's spread guards water's stillest samples)
    spread: str = "camera"  # samples: each pixel's noise level: camera (the video's own, for every pixel: the
    #                         camera noise, floored at the frame's median MAD and 8-bit quantisation; the samples
    #                         themselves hold the background's modes and sway, as ViBe's one radius: a person in front
    #                         of swaying trees is as visible as in front of a wall; thirtieth session) | nn (from the
    #                         pixel's samples, their nearest-neighbour spread: a Gaussian's standard deviation per
    #                         channel; swaying leaves or water spread it to the width of their whole range) | mad
    #                         (1.4826 x their median absolute deviation, max over channels: spans all modes); both
    #                         floored as camera
    shadow: float = 0.8  # samples: > 0: cast shadows (Horprasert et al. 1999): a pixel darker than its background
    #                      by a brightness in [shadow, 1), its chromaticity kept within k noise levels and its
    #                      texture (scaled by the brightness) within k noise levels of the texture samples, is
    #                      the background in shadow; the value is the least share of the light a shadow leaves
    #                      (0.8: soft shadows; 0.5 is MOG2's); 0 = off
    highlight: float = 1.1  # samples, with shadow: the same test brighter, the brightness in (1, highlight): the
    #                         background in more light (Horprasert et al.'s highlighted background: a codec block
    #                         coded a grey level or two brighter, a lamp's spot on a wall; without it a block darker
    #                         was background and the same block brighter foreground); 1 = off. Not 1 / shadow
    #                         (1.25): an object that is the background brightened by a tenth or more stays one
    grey_shadow: bool = True  # samples, with shadow: grey video (no chromaticity; UCSD's clips, thermal cameras)
    #                           gets the shadow and highlight tests on its brightness and texture alone (a walker's
    #                           cast shadow on a walkway is background; a flat object up to a fifth darker than a
    #                           flat background passes for its shadow); false = colour video only
    gain: bool = True  # samples: compensate a per-channel gain as well as the offset, kept only in frames where
    #                    it brings back more of the scene than the offset alone (a light switched on or off, a
    #                    camera's exposure); pixels the camera clipped are compared as the bounds they are
    #                    (measured: censoring without the gain cost cdnet-office 0.05, so false turns both off)
    white: float = 0.0  # samples, with gain: the level the frames were clipped at (their white): 0 = measured from
    #                     the window's frames (a pile-up of values at one level with none above it: studio-range
    #                     video clips at 235, a dimmed copy wherever the dimming put 255; none found: 255,
    #                     bgsub.background.clipping); a level in [16, 255] sets it (255: the 8-bit top, as before)


@dataclass
class ModelConfig:
    """The U-Net architecture (see :mod:`bgsub.models.unet`). The defaults are the fast CPU network; the
    ``paper`` preset sets the paper's (518,433 parameters: base 32, depth 2, convs 2, up_kernel 3, conv_bias true,
    reference false)."""

    reference: bool = True  # true: the network is given the background reference (input log(1 + z), z the
    #                         residual in noise levels) and outputs a foreground probability, trained on the
    #                         low-rank + sparse support energy (bgsub.losses.support_energy); false: the paper's
    #                         network (frames in, signed S out, Eq. 6)
    in_channels: Optional[int] = None  # None = from the input (1 grey, 3 colour); else must match it
    pixels: int = 19200  # reference network's pixel budget: the residual z is computed at the input's size and
    #                      area-averaged down to at most this many pixels for the network (160 x 120: 320 x 240
    #                      runs at half size), whose logits are upsampled back (bilinear); so the network costs
    #                      the same per frame whatever the camera. 0 = no budget
    base_channels: int = 8  # channels of the first level; doubled at each level down
    depth: int = 3  # number of poolings
    convs: int = 1  # 3x3 conv + BN + ReLU blocks per level (the paper: 2; 1 measured as good and 1.7x faster)
    up: str = "transpose"  # transpose (learned transposed convolution) | nearest | bilinear
    up_kernel: int = 2  # kernel of the transposed convolution (2, 3 or 4)
    skip: str = "cat"  # how the decoder joins the skip connection: cat (concatenate, the paper) | add (sum; the
    #                    decoder's convolutions cost half; needs up: transpose)
    unary: bool = True  # reference network only: its logits are the support energy's own per-pixel decision
    #                     (log of the background cost (z/k)^2, capped; bgsub.models.unet.unary_logits) plus the
    #                     network's output, which learns the correction (coherence, specks, holes), not the mask
    conv_bias: bool = False  # bias in the 3x3 convolutions (redundant before batch norm)
    weights: Optional[str] = None  # unet-pretrained: a model file to use instead of the shipped weights
    #                                (bgsub/weights/unet.pt); e.g. weights pretrained without some videos
    stem: str = "conv"  # conv | csf: the first convolution replaced by a ConvSparseFactorization layer (Koch &
    #                     Corso), whose Eq. 12 loss joins the training loss; slower (about 0.4 s more per step)


@dataclass
class TrainConfig:
    """Training the U-Net without labels, Adam. With ``model.reference`` (default): minibatches of ``frames``
    frames (random ``crop`` x ``crop`` windows) from the pool, minimising the support energy; otherwise the
    paper's Eq. 6 on full-batch stacks of ``frames`` frames."""

    frames: int = 8  # frames per step (the paper: N = 50 frames stacked into D, pixels x N)
    pool: int = 200  # frames sampled from the video; each step draws its frames from them. 0 = `frames` (the
    #                  paper: one fixed stack). With model.reference the initialisation window is added.
    epochs: int = 400  # optimisation steps (from fresh weights)
    init: str = "auto"  # the weights a training starts from: auto (the shipped network, bgsub/weights/unet.pt or
    #                     model.weights, when this config builds its architecture, else fresh) | pretrained (the
    #                     shipped network, or an error) | scratch (fresh weights)
    tune_epochs: int = 50  # steps of a training that starts from the shipped network (at most train.epochs; 50
    #                       scored 0.7045 / 0.7005 against 100's 0.7009 / 0.6984 over two seeds in the ninth session, in
    #                       half the steps: more steps fit one video's unsupervised energy, away from the shared start)
    lr: float = 3e-3
    norm: str = "auto"  # batch norm in a training that starts from the shipped network: kept (its running
    #                     statistics, estimated over many videos, normalise as at inference and are not
    #                     replaced) | video (re-estimated from this video's batches of train.frames crops) | auto:
    #                     video for a clip shorter than twice background.samples frames (the background model's
    #                     short-clip regime, inputs the shipped statistics never saw), kept otherwise
    schedule: str = "cosine"  # constant | cosine (decay to 0 over the epochs)
    lam_star: float = 1.0
    lam_1: Optional[float] = None  # None = lam_1_scale / sqrt(max(m, n)) for the m x n training matrix
    lam_1_scale: float = 1.0  # factor on the default lambda_1 (ignored when lam_1 is set)
    tv: float = 1.0  # support energy: weight of the total variation of the mask (boundary length), in pixels
    cap: float = 16.0  # support energy: a background pixel's cost (z/k)^2 is capped here (a robust data term)
    label_frames: int = 0  # K ground-truth masks (spread over the video, seeded) added as a supervised term,
    #                        combined with the unsupervised energy as Koch & Corso's Eq. 14 (mu 0.8, 0.5, 0.3, 0);
    #                        0 = no labels (the default: unsupervised). Needs model.reference
    labels: Optional[str] = None  # ground truth for label_frames: a CDnet-style sequence folder, its groundtruth/
    #                               or a mask folder; None = the input itself when it is a sequence folder
    seed: int = 0  # frame sampling, stack and crop draws, weight initialisation
    crop: int = 128  # side of a random crop taken at one position in all frames of a step; 0 = whole frames
    bf16: bool = True  # bf16 autocast for the network (CPU with AMX/AVX512-BF16, or CUDA); losses in float32
    channels_last: bool = True  # NHWC memory format (faster oneDNN convolutions)
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda
    save_every: int = 50  # epochs between checkpoint writes (for --resume); the last epoch is always saved
    save_seconds: float = 300.0  # also write the checkpoint when this many seconds passed since the last; 0 = off


@dataclass
class PolishConfig:
    """The proximal refinement (Eq. 7), on the N training frames."""

    steps: int = 100
    optimizer: str = "adam"  # adam | sgd (plain gradient steps theta -= lr * grad, as the paper writes Eq. 7)
    lr: float = 3e-8
    alpha: float = 0.5
    tau_star: Optional[float] = None  # svt threshold; None = alpha * lam_star (the step of Eq. 4)
    tau_1: Optional[float] = None  # soft threshold; None = alpha * lam_1 (the step of Eq. 5)
    seed: Optional[int] = None  # which N frames of the input are used; None = train.seed (the training frames
    #                             when the input is the training video and train.pool is 0)


@dataclass
class SegmentConfig:
    """Running a model over a video (frames are read and processed in batches: memory is independent of the
    video length)."""

    batch: int = 8  # frames per window and forward pass: 8 keeps a forward's activations of the 160x120-class
    #                 network nearer the CPU's caches (the forward alone, one thread: 3.1-3.6 vs 5.1-5.8 ms a frame
    #                 with 16 on the development VM; the same masks on cdnet-highway); a checkpoint that saved
    #                 another value keeps it
    device: str = "auto"
    engine: str = "auto"  # the reference network when segmenting (the shipped one, or one from bgsub train on the
    #                       sample model): auto = OpenCV's DNN module on the CPU where it runs this network (checked
    #                       on a small case as it loads: the process then never imports torch, a second less
    #                       start-up), else torch | opencv: OpenCV or a one-line error | torch
    workers: int = 0  # windows decomposed at once, one torch thread each; 0 = auto: the torch thread count on the
    #                   CPU for methods that allow it (the U-Net), less one when the background model steps in a
    #                   thread of its own (the sample model), at least 1; else 1
    bf16: bool = True
    channels_last: bool = True
    threshold: str = "otsu"  # otsu: as threshold.scope says | fit: one Otsu threshold of |S| over the training
    #                          frames, saved in the checkpoint (like scope "video" without a second pass)
    boundary: bool = True  # the reference U-Net: the mask's edge decided at the frame's resolution (within one
    #                        working pixel of it, a pixel nearer the background than the object's interior colour
    #                        is dropped: bgsub.background.boundary); false = the network's upsampled mask as it is
    reuse_background: bool = False  # the reference U-Net: false = estimate the background from the first
    #                                 background.init frames of the video being segmented (the model file is the
    #                                 network; the background belongs to the video); true = reuse the one saved with
    #                                 the model at training time (same camera, same view and size)
    lookahead: bool = True  # the per-video U-Net (bgsub train, benchmark's unet): where its background model's
    #                         window did not show the scene (a pixel it saw at best twice as moving as the rest of
    #                         the video: leaves across the lens, someone standing), segmenting the same video starts
    #                         that pixel from the stillest frames the training pass found over the whole video (a
    #                         second pass; the
    #                         window's fingerprint must match: another video is never affected); false = one pass,
    #                         causal as the zero-shot network's
    prescan: Union[bool, str] = "auto"  # auto | true | false. The reference U-Net on a file or a folder: read
    #                                     it twice, a first pass stepping the background model alone over the whole
    #                                     video (about as long as segmenting it) so that any network (the zero-shot
    #                                     one too) starts as segment.lookahead says. auto: only when the
    #                                     initialisation window did not show the scene (more than a tenth of its
    #                                     pixels never still there: UNetMethod.PRESCAN_SHARE), no first pass's
    #                                     findings were taken already (the per-video network's training pass), the
    #                                     source is a regular file or a folder and longer than the window; else one
    #                                     pass. true: always (a camera or a stream is an error). false: never (read
    #                                     once, causal)


@dataclass
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    rpca: RPCAConfig = field(default_factory=RPCAConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    polish: PolishConfig = field(default_factory=PolishConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def explicit_over(saved, mine):
    """A config section: ``mine``'s keys where they differ from the defaults (what the user set), ``saved``'s
    elsewhere (e.g. what a model was trained or segmented with)."""
    base = type(mine)()
    changed = {f.name: getattr(mine, f.name) for f in dataclasses.fields(mine)
               if getattr(mine, f.name) != getattr(base, f.name)}
    return dataclasses.replace(saved, **changed)


def with_grayscale(cfg: Config, grayscale: bool) -> Config:
    """``cfg`` with ``input.grayscale`` resolved: kept when the user set it, else ``grayscale`` (the method's own
    choice, see :attr:`bgsub.methods.base.Method.grayscale`)."""
    if cfg.input.grayscale is not None:
        return cfg
    return dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, grayscale=bool(grayscale)))


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_value(where: str, value: Any, typ: Any) -> Any:
    """Return ``value`` converted to ``typ`` where that is lossless (int -> float), else raise."""
    origin = typing.get_origin(typ)
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(typ, types.UnionType)):
        args = typing.get_args(typ)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _check_value(where, value, inner[0])
        for a in inner:  # the first alternative that takes the value (e.g. true / false, or a word)
            try:
                return _check_value(where, value, a)
            except BgsubError:
                pass
        names = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}
        raise BgsubError(f"config {where}: expected {' or '.join(names.get(a, str(a)) for a in inner)}, "
                         f"got {value!r}")
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BgsubError(f"config {where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise BgsubError(f"config {where}: expected a finite number, got {value!r}")
        return float(value)
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BgsubError(f"config {where}: expected an integer, got {value!r}")
        return value
    if typ is bool:
        if not isinstance(value, bool):
            raise BgsubError(f"config {where}: expected true or false, got {value!r}")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise BgsubError(f"config {where}: expected a string, got {value!r}")
        return value
    return value


def apply_dict(cfg: Config, data: dict[str, Any], *, source: str = "config") -> Config:
    """Return a copy of ``cfg`` with the nested mapping ``data`` applied; unknown keys are errors."""
    if data is None:
        return cfg
    if not isinstance(data, dict):
        raise BgsubError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    out = dataclasses.replace(cfg)
    sections = {f.name for f in dataclasses.fields(Config)}
    for sec_name, values in data.items():
        if sec_name not in sections:
            raise BgsubError(f"{source}: unknown section {sec_name!r} (valid: {', '.join(sorted(sections))})")
        section = getattr(out, sec_name)
        if not isinstance(values, dict):
            raise BgsubError(f"{source}: section {sec_name!r} must be a mapping")
        hints = _field_types(type(section))
        changes = {}
        for key, value in values.items():
            if key not in hints:
                raise BgsubError(
                    f"{source}: unknown key {sec_name}.{key} (valid: {', '.join(sorted(hints))})"
                )
            changes[key] = _check_value(f"{sec_name}.{key}", value, hints[key])
        setattr(out, sec_name, dataclasses.replace(section, **changes))
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"train.lr=1e-3"`` -> ``{"train": {"lr": 0.001}}`` (the value is parsed as YAML)."""
    if "=" not in text:
        raise BgsubError(f"--set {text!r}: expected section.key=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise BgsubError(f"--set {text!r}: expected section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else None
    except yaml.YAMLError as exc:
        raise BgsubError(f"--set {text!r}: cannot parse value: {exc}") from None
    # YAML 1.1 reads "1e-3" as a string; accept it as a number.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    return {parts[0]: {parts[1]: value}}


def load_config(
    path: Optional[os.PathLike | str] = None, overrides: Optional[list[str]] = None, base: Optional[Config] = None
) -> Config:
    """Defaults, then the YAML preset at ``path`` (if any), then each ``section.key=value`` override."""
    cfg = base if base is not None else Config()
    if path is not None:
        p, text = _read_preset(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BgsubError(f"{p}: not valid YAML: {str(exc).splitlines()[0]}") from None
        cfg = apply_dict(cfg, data or {}, source=str(p))
    for text in overrides or []:
        cfg = apply_dict(cfg, parse_override(text), source=f"--set {text}")
    return cfg


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.to_dict` output (e.g. from a checkpoint)."""
    return apply_dict(Config(), data, source="saved config")


def preset_names() -> list[str]:
    """Names of the presets shipped inside the package (``bgsub/configs/NAME.yaml``), sorted."""
    return sorted(e.name[: -len(".yaml")] for e in resources.files("bgsub.configs").iterdir()
                  if e.name.endswith(".yaml"))


def _read_preset(path: os.PathLike | str) -> tuple[str, str]:
    """(where, YAML text) of ``--config PATH``: a file of the user's, else a preset name shipped in the package
    (read with importlib.resources, so it works from a wheel as from a checkout)."""
    p = Path(path)
    if p.is_file():
        try:
            return str(p), p.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise BgsubError(f"{p}: cannot read config file ({exc.__class__.__name__})") from None
    if p.exists():
        raise BgsubError(f"{path}: not a config file")
    name = p.name[: -len(".yaml")] if p.name.endswith(".yaml") and len(p.parts) == 1 else p.name
    if len(p.parts) == 1 and name in preset_names():
        res = resources.files("bgsub.configs").joinpath(f"{name}.yaml")
        return f"preset {name}", res.read_text()
    raise BgsubError(f"{path}: config file not found (presets: {', '.join(preset_names())})")


def _preset_dir() -> Path:
    """The folder of the shipped presets (on a normal, unzipped install)."""
    return Path(str(resources.files("bgsub.configs")))


def save_config(cfg: Config, path: os.PathLike | str) -> Path:
    """Write the resolved config as YAML, atomically."""
    from bgsub.io.atomic import atomic_write_bytes

    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    return atomic_write_bytes(path, text.encode())
