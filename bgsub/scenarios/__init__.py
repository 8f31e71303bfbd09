"""Named synthetic scenarios for ``bgsub synth --scenario NAME``: one mechanism of a background model each.

Every scenario writes the same CDnet layout as the default clip (see :mod:`bgsub.synth`), is deterministic per
seed, and has exact ground truth (the pixels each object covers; everything else, swaying foliage, flicker and
light changes included, is background). Frames are generated one at a time (flat memory). Sensor noise is
Gaussian, sigma 0.01 (of the [0, 1] range) in all scenarios but ``lossless`` (0).

Notation: N frames numbered 1..N, frame H x W, s = min(H, W); ``r(v)`` rounds half up. Objects scale with the
frame: a "person" is an ellipse r(0.38 H) high (at least 8) and r(0.14 s) wide (at least 4), two-toned with a
fixed texture (sigma 0.03); a "car" is a rectangle r(s / 6) x r(W / 4) (at least 3 x 5). An object "crossing from
frame a to frame b" moves at constant speed from just outside one edge at frame a to just outside the other at
frame b (positions rounded per frame). Numbers in brackets are the defaults (N = 100, 120 x 160). The exact
frame numbers and boxes of a clip are in its ``synth.yaml`` (``events``) and :func:`scenario_events`.

``default``
    The default clip (:mod:`bgsub.scenarios.default`, written by :mod:`bgsub.synth`; unchanged, byte for byte).

``busy-start`` - initialisation from a busy scene (a first-frames median contains the objects).
    Two persons stand still from frame 1 to S = r(0.4 N) [40], at columns centred on 0.25 W and 0.70 W, top row
    r(0.15 H). From S + 1 they walk out, A to the left and B to the right, both fully out at frame
    S + L, L = max(1, r(0.15 N)) [frame 55]; from then on, where they stood is plain background. A car
    crosses left to right in rows from r(0.72 H), from frame C = r(0.6 N) [60] to N + 1 (still partly visible at
    N). A model from the first frames misses the standing persons and leaves ghosts where they stood. The ground
    truth marks the persons while they stand (standing objects ARE foreground). temporalROI starts at frame 1
    (the busy start is what is scored), not after the usual warm-up tenth.

``dynamic`` - dynamic background (a model must learn per-pixel variance, not one value).
    A band of foliage, rows r(0.08 H) to r(0.08 H) + r(0.30 H) (30 % of the frame) over the full width: a
    high-contrast green texture (blurred noise, sigma 1.2 px, values 0.42 +- 0.16 x tint) displaced each frame by
    dx = 3 sin(2 pi n / 10 + 0.35 y) px (per row: a travelling sway) and dy = sin(2 pi n / 13) px, bilinearly
    resampled. Its per-pixel temporal std is about 0.08-0.1 (the sensor noise's: 0.01); its ground truth is 0.
    A person whose mean colour is the foliage's mean colour (+0.04, smooth vertical shading +-0.05, its own
    texture sigma 0.02: within the foliage's range, never equal to it pixel for pixel) crosses left to right in
    front of the band (top row r(0.08 H) + 1) from frame r(0.25 N) [25] to r(0.75 N) [75]; a dark car crosses
    right to left over the static background (rows from r(0.75 H)) from frame 1 to N + 1.

``trees`` - trees swaying against the sky with a person in front (a model must not spread its noise level over the
    sway: Wallflower's WavingTrees, CDnet's fall). A band, rows r(0.08 H) to r(0.08 H) + max(r(0.38 H) + 2,
    r(0.42 H)), over the full width: leaf clumps (blurred noise, sigma max(1, 0.02 W) px, thresholded softly:
    leaf weight clip(0.5 + 1.5 t / std t)) of dark green leaves (0.16, 0.30, 0.12) + 0.05 x fine texture against
    a pale sky (0.70, 0.78, 0.88), displaced each frame by dx = max(1, 0.008 W) sin(2 pi n / 16 + 0.2 y /
    max(1, 0.01 H)) px (a travelling sway: 1.3 px at 160 wide) and dy = 0.5 sin(2 pi n / 23) px, bilinearly
    resampled. A pixel at a clump's edge sways between leaf, sky and their mixtures: a continuous range (half of
    the band's pixels span 60 grey levels or more in some channel, a quarter 120 or more). A person in a red
    shirt (0.65, 0.20, 0.18) and dark blue trousers (0.25, 0.22, 0.35) crosses left to right in front of the band
    (top row r(0.08 H) + 1) from frame r(0.2 N) [20] to r(0.8 N) [80]: in some channel at least 20 grey levels
    from every colour the band shows at the same pixel, 95% of his pixels 30 or more (at 64 x 80, 60 frames).
    Not among the pretraining clips.

``lossless`` - noise-free 8-bit frames (a model must not turn 1-grey-level changes into foreground).
    No sensor noise; every frame is exact 8-bit values (write it as PNG or BMP: ``--ext jpg`` is refused). A
    global flicker of 0.3 sin(2 pi n / 9) grey levels (sub-level: after rounding, most pixels are identical
    between consecutive frames, some change by 1), and compression-like blocks: in each frame
    max(1, r(0.03 x number of 8 x 8 grid blocks)) [9] blocks of the 8 x 8 grid, chosen at random, are offset by
    -2, -1, +1 or +2 grey levels. Objects of moderate contrast: a rectangle (r(0.22 H) x r(0.2 W), the
    background under it +0.1, about 25 levels) crossing left to right in rows from r(0.2 H) from frame
    O = r(0.2 N) [20] to N + 1, and a flat grey person (0.30, 0.32, 0.36) crossing right to left in rows from
    r(0.5 H) from frame r(0.4 N) [40] to N + 1. Frames 1..O contain no object.

``camouflage`` - camouflage (colour alone cannot separate the object; texture can).
    A smooth background (low-frequency shading, fine texture sigma 0.006, no hard edges). A rectangle
    r(0.28 H) high and 4 max(2, r(0.05 W)) px wide, with vertical stripes 2 px wide of +25 and -25 grey levels
    around a flat colour chosen each frame so that the object's mean colour over its visible pixels equals the
    mean of the background it covers (a difference of 0 before noise; well within 10 grey levels), crosses left
    to right in rows from r(0.22 H) from frame r(0.15 N) [15] to r(0.85 N) [85]. Its texture: std 25/255 around
    its mean, a 50-level step at every other pair of horizontal neighbours (mean |difference| about 23-25
    levels); the background's mean |horizontal difference| under it is below 2 levels. An ordinary dark
    ellipse crosses right to left in rows from r(0.62 H) from frame 1 to N + 1.

``stop`` - an object that stops after the initialisation (CDnet: it stays foreground).
    A person (top row r(0.3 H)) enters from the left: outside at frame E - 1, E = max(2, r(0.3 N) + 1) [31] is
    the first frame it can be seen; it walks to columns starting at r(0.4 W - pw / 2) (pw: its width), reached
    at frame S = max(E, r(0.45 N)) [45], and stands still from S to N: it is stopped N - S + 1 frames [56 of
    100], at least 40 % of any clip of 10 frames or more. Its pixels are identical (up to the sensor noise)
    over the stop; the ground truth marks it the whole time. A dark car loops left to right (wrapping around)
    in rows from r(0.78 H) throughout, never over the person. A model that absorbs still pixels into the
    background loses the person.

``light-switch`` - a sudden global illumination change (a model must re-learn or compensate, not flag it).
    Frames 1..L - 1 under gain 1, offset 0; from frame L = N // 2 + 1 [51] every pixel (objects too) is
    g(x) v + 0.02 with g(x) = 0.75 + 0.05 (2 x / (W - 1) - 1): 0.70 at the left edge, 0.80 at the right,
    0.75 on average (a smooth falloff, not a uniform gain). The mean brightness of the background drops by
    about 0.25 x its mean - 0.02 (about 0.09, 23 grey levels, for a mean of 0.45) between frames L - 1 and L,
    and stays constant otherwise. Three objects loop (wrapping around) throughout: a bright car, a small dark
    ellipse and a person.

``jitter`` - camera jitter (a model must register the frames, not flag every edge).
    The default clip rendered at (H + 2 J) x (W + 2 J), J = max(1, r(0.02 s)) [2], and each frame cropped to
    H x W at offset (J + dy, J + dx): (0, 0) for frame 1, then dy, dx uniform in [-J, J], drawn per frame (seeded;
    :func:`_jitter_offsets`). The content of frame n sits at -(dy, dx) from where frame 1 shows it; the ground
    truth is cropped with the frame (exact).

``pan`` - a camera panning steadily (a model must follow the view, not flag every edge it sweeps).
    The default clip rendered at H x (W + P), P = max(2, r(0.4 s)) [48], and frame n cropped to H x W at column
    (n - 1) P // (N - 1) (:func:`_pan_offsets`): whole pixels, about a third of a pixel a frame at 150 frames of
    160 x 120, past the registration's quarter of the smaller side [30] for the last quarter of the clip and
    within its half [60]. The ground truth is cropped with the frame (exact).

``pan-stop`` - a camera that pans most of a view and stops (a model must follow the view, and keep the new one).
    The default clip rendered at H x (W + P), P = max(2, r(0.9 W)) [144], frame n cropped to H x W at column 0 up to
    frame A = r(0.25 N) + 1 [26], at column (n - A) P // (B - A) from there to frame B = r(0.55 N) + 1 [56], and at
    column P from B on (:func:`~bgsub.scenarios.camera._pan_stop_offsets`: about two pixels a frame at 260 frames of
    160 x 120). The ground truth is cropped with the frame (exact).

``track`` - a camera tracking a person (the short hand-held and tracking clips of the UCSD set).
    The default clip rendered at H x (W + P), P = max(2, r((N - 1) W / 160)) [89 at 90 frames of 160 x 120],
    frame n cropped at column (n - 1) P // (N - 1) (:func:`~bgsub.scenarios.camera._track_offsets`: a pixel a
    frame at 160 wide), and a person (the ``busy-start`` person's size; red top, blue bottom, seeded texture)
    painted on the crop at row r((H - h) / 2 + 0.05 H sin(n / 5)), column r((W - w) / 2 + 0.06 W sin(n / 9)):
    near the centre, wobbling, so in the scene's coordinates the person moves with the pan. Scored from frame 1.

``cut`` - a camera re-pointed once and left there (knocked, a PTZ preset, a cut: a model must start again).
    The default clip rendered at (H + J) x (W + J), J = max(2, r(0.5 s)) [60] (past the registration's quarter of
    the smaller side: the frames are left as they are), frames 1..C - 1 cropped at (0, 0) and frames C..N at
    (J, J), down and right, C = r(0.65 N) + 1 [131 at 200 frames]: after the default clip's pedestrian has walked
    on (it stands from 0.4 N to 0.6 N). The ground truth is cropped with the frame (exact). (A jump along one axis
    leaves half of this smooth background looking as it did: diagonally, about 83% of the frame changes.)

From Python::

    from bgsub.scenarios import SCENARIOS, iter_scenario, scenario_events
    for number, image, mask in iter_scenario("stop", height=64, width=80, frames=60, seed=0):
        ...  # image: (H, W, 3) float32 RGB in [0, 1]; mask: (H, W) bool
    scenario_events("stop", frames=60, height=64, width=80)  # {'enter': 19, 'stop': 27, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

from bgsub.errors import BgsubError
from bgsub.scenarios.default import check_size, iter_synth
from bgsub.scenarios.camera import (
    _cut, _cut_events, _jitter, _jitter_events, _pan, _pan_events, _pan_stop, _pan_stop_events, _track,
    _track_events,
)
from bgsub.scenarios.draw import Frame
from bgsub.scenarios.scene import (
    _busy_start_events, _busy_start, _dynamic_events, _dynamic, _sweep_events, _sweep, _lossless_events,
    _lossless, _camouflage_events, _camouflage, _stop_events, _stop, _light_switch_events, _light_switch,
    _trees_events, _trees,
)

# cv2 is imported where the default clip's background is drawn (bgsub.scenarios.default), not at import: the CLI
# imports this package for its --help text, and cv2 costs about 0.1 s at start-up.

# --- registry --------------------------------------------------------------------------------------------------


def _default(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    return iter_synth(height=H, width=W, frames=N, seed=seed, noise=noise)


def _warm_up_tenth(frames: int) -> int:
    return frames // 10 + 1


@dataclass(frozen=True)
class Scenario:
    """A named clip: ``generate(H, W, N, seed, noise)`` yields ``(number, image, mask)`` for numbers 1..N."""

    generate: Callable[[int, int, int, int, float], Iterator[Frame]]
    summary: str  # one line, for --help
    events: Callable[[int, int, int], dict] = field(default=lambda N, H, W: {})  # frame numbers, boxes (rows, cols)
    noise: float = 0.01  # default sensor noise
    first_scored: Callable[[int], int] = _warm_up_tenth  # first frame of temporalROI.txt
    lossless: bool = False  # frames are exact 8-bit values (PNG/BMP only)
    pretrain: bool = True  # among scripts/pretrain.py's clips (jitter is not: the pipeline registers its frames,
    #                        and its raw frames, which pretraining reads, are not what the network is given)


SCENARIOS: dict[str, Scenario] = {
    "default": Scenario(_default, "moving objects of several sizes and contrasts, slow light drift, one pause"),
    "busy-start": Scenario(_busy_start, "two persons stand still from frame 1 to 40% of the clip, then walk out "
                           "(scored from frame 1)", _busy_start_events, first_scored=lambda N: 1),
    "dynamic": Scenario(_dynamic, "a band of swaying foliage (30% of the frame, background) with a person of "
                        "foliage colour passing in front", _dynamic_events),
    "trees": Scenario(_trees, "a band of trees swaying against the sky (40% of the frame, background) with a person "
                      "in a red shirt passing in front", _trees_events, pretrain=False),
    "lossless": Scenario(_lossless, "noise-free 8-bit frames: sub-level flicker, +-1-2 level 8x8 blocks, "
                         "moderate-contrast objects", _lossless_events, noise=0.0, lossless=True),
    "camouflage": Scenario(_camouflage, "a striped object (+-25 levels) whose mean matches the smooth background, "
                           "plus an ordinary one", _camouflage_events),
    "stop": Scenario(_stop, "a person walks in after 30% of the clip and stands still from 45% to the end",
                     _stop_events),
    "light-switch": Scenario(_light_switch, "the light drops to gain 0.70-0.80 (+0.02) at mid-clip, objects move "
                             "throughout", _light_switch_events),
    "sweep": Scenario(_sweep, "large defocused leaves sweep across about half of the scene from the first frame "
                      "(foreground, as SBI2015's foliage), scored from frame 1", _sweep_events,
                      first_scored=lambda N: 1),
    "jitter": Scenario(_jitter, "the default clip seen by a shaking camera: every frame after the first moved by up "
                       "to 2% of the frame's smaller side", _jitter_events, pretrain=False),
    "pan": Scenario(_pan, "the default clip seen by a camera panning steadily to the right, 40% of the frame's "
                    "smaller side over the clip", _pan_events, pretrain=False),
    "pan-stop": Scenario(_pan_stop, "the default clip seen by a camera that stands still, pans 90% of the frame's "
                         "width to the right from 25% to 55% of the clip, and stands still again", _pan_stop_events,
                         pretrain=False),
    "track": Scenario(_track, "the default clip seen by a camera panning a pixel a frame (at 160 wide) to follow a "
                      "person who stays near the centre, scored from frame 1", _track_events,
                      first_scored=lambda N: 1, pretrain=False),
    "cut": Scenario(_cut, "the default clip seen by a camera re-pointed at 65% of the clip: the view jumps half the "
                    "frame's smaller side down and right, and stays", _cut_events, pretrain=False),
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise BgsubError(f"synth: unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None


def scenario_events(name: str, *, frames: int = 100, height: int = 120, width: int = 160) -> dict:
    """The frame numbers (1-based) and boxes ``[top, left, bottom, right)`` of scenario ``name`` at this size."""
    return get_scenario(name).events(frames, height, width)


def iter_scenario(
    name: str = "default", *, height: int = 120, width: int = 160, frames: int = 100, seed: int = 0,
    noise: Optional[float] = None,
) -> Iterator[Frame]:
    """Yield ``(number, image, mask)`` for numbers 1..frames of scenario ``name``; image: (H, W, 3) float32 RGB in
    [0, 1]; mask: (H, W) bool, True where an object is. ``noise=None``: the scenario's sensor noise."""
    sc = get_scenario(name)
    check_size(height, width, frames)
    return sc.generate(height, width, frames, seed, sc.noise if noise is None else noise)
