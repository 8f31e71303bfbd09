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
    The default clip of :mod:`bgsub.synth` (unchanged, byte for byte).

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

From Python::

    from bgsub.scenarios import SCENARIOS, iter_scenario, scenario_events
    for number, image, mask in iter_scenario("stop", height=64, width=80, frames=60, seed=0):
        ...  # image: (H, W, 3) float32 RGB in [0, 1]; mask: (H, W) bool
    scenario_events("stop", frames=60, height=64, width=80)  # {'enter': 19, 'stop': 27, ...}
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np

from bgsub.errors import BgsubError

# cv2 and bgsub.synth (which imports cv2) are imported inside the generators: the CLI imports this module for
# its --help text, and cv2 costs about 0.1 s at start-up.

Frame = tuple[int, np.ndarray, np.ndarray]


def _r(v: float) -> int:
    """Round half up (Python's round() rounds half to even)."""
    return int(math.floor(v + 0.5))


def _tag(name: str) -> int:
    return zlib.crc32(name.encode())


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    return ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0


def _window(y: int, x: int, h: int, w: int, H: int, W: int):
    """(frame slices, sprite slices) of a h x w sprite at (y, x), or None where it is outside the frame."""
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, H), min(x + w, W)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def _paint(img: np.ndarray, mask: np.ndarray, shape: np.ndarray, patch: np.ndarray, y: int, x: int) -> None:
    win = _window(y, x, *shape.shape, *mask.shape)
    if win is None:
        return
    fs, ss = win
    sm = shape[ss]
    img[fs][sm] = patch[ss][sm]
    mask[fs] |= sm


def _cross(n: int, a: int, b: int, start: float, end: float) -> Optional[int]:
    """Position at frame n of an object moving from ``start`` at frame a to ``end`` at frame b (None outside)."""
    if n < a or n > b:
        return None
    return _r(start + (end - start) * (n - a) / max(b - a, 1))


def _loop(n: int, x0: float, v: float, w: int, W: int) -> int:
    """Column at frame n of an object looping around the frame (as the default clip's objects do)."""
    return _r((x0 + v * (n - 1) + w) % (W + w) - w)


def _person_size(H: int, W: int) -> tuple[int, int]:
    return max(8, _r(0.38 * H)), max(4, _r(0.14 * min(H, W)))


def _car_size(H: int, W: int) -> tuple[int, int]:
    return max(3, _r(min(H, W) / 6)), max(5, _r(W / 4))


def _person(h: int, w: int, rng: np.random.Generator, top, bottom) -> tuple[np.ndarray, np.ndarray]:
    patch = np.empty((h, w, 3), np.float32)
    k = max(1, _r(0.45 * h))
    patch[:k], patch[k:] = top, bottom
    patch += 0.03 * rng.normal(0, 1, (h, w, 1)).astype(np.float32)
    return _ellipse(h, w), np.clip(patch, 0, 1)


def _flat(h: int, w: int, value) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float32), (h, w, 3))


def _finish(img: np.ndarray, noise: float, seed: int, n: int, tag: int) -> np.ndarray:
    if noise > 0:
        img = img + np.random.default_rng([seed, n, tag]).normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def _base(name: str, H: int, W: int, seed: int):
    """The scenario's random generator and the default clip's textured static background."""
    from bgsub.synth import _background

    rng = np.random.default_rng([seed, _tag(name)])
    return rng, _background(H, W, rng)


# --- busy-start ------------------------------------------------------------------------------------------------


def _busy_start_events(N: int, H: int, W: int) -> dict:
    ph, pw = _person_size(H, W)
    ch, cw = _car_size(H, W)
    S, L = max(1, _r(0.4 * N)), max(1, _r(0.15 * N))
    y = _r(0.15 * H)
    xa, xb = _r(0.25 * W - pw / 2), _r(0.70 * W - pw / 2)
    C = max(1, _r(0.6 * N))
    return {
        "stand": [1, S], "walk_out": [S + 1, S + L], "car": [C, N + 1], "car_top": min(_r(0.72 * H), H - ch),
        "box_a": [y, xa, y + ph, xa + pw], "box_b": [y, xb, y + ph, xb + pw],
    }


def _busy_start(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    ev = _busy_start_events(N, H, W)
    rng, bg = _base("busy-start", H, W, seed)
    ph, pw = _person_size(H, W)
    ch, cw = _car_size(H, W)
    a = _person(ph, pw, rng, (0.20, 0.30, 0.70), (0.15, 0.15, 0.20))
    b = _person(ph, pw, rng, (0.80, 0.70, 0.20), (0.30, 0.20, 0.15))
    car = np.ones((ch, cw), bool), _flat(ch, cw, (0.90, 0.15, 0.12))
    S, (_, last) = ev["stand"][1], ev["walk_out"]
    y, xa, xb = ev["box_a"][0], ev["box_a"][1], ev["box_b"][1]
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        if n <= S:
            _paint(img, mask, *a, y, xa)
            _paint(img, mask, *b, y, xb)
        elif n <= last:
            _paint(img, mask, *a, y, _cross(n, S, last, xa, -pw))
            _paint(img, mask, *b, y, _cross(n, S, last, xb, W))
        x = _cross(n, ev["car"][0], ev["car"][1], -cw, W)
        if x is not None:
            _paint(img, mask, *car, ev["car_top"], x)
        yield n, _finish(img, noise, seed, n, _tag("busy-start")), mask


# --- dynamic ---------------------------------------------------------------------------------------------------


def _dynamic_events(N: int, H: int, W: int) -> dict:
    y0 = _r(0.08 * H)
    ch, _ = _car_size(H, W)
    return {
        "band_rows": [y0, min(H, y0 + max(2, _r(0.30 * H)))], "sway_px": 3.0, "sway_period": 10,
        "walker": [max(1, _r(0.25 * N)), max(2, _r(0.75 * N))], "walker_top": y0 + 1,
        "car": [1, N + 1], "car_top": min(_r(0.75 * H), H - ch),
    }


def _dynamic(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    import cv2

    ev = _dynamic_events(N, H, W)
    rng, bg = _base("dynamic", H, W, seed)
    y0, y1 = ev["band_rows"]
    bh, pad = y1 - y0, 6
    tex = cv2.GaussianBlur(rng.normal(0, 1, (bh + 2 * pad, W + 2 * pad)).astype(np.float32), (0, 0), 1.2)
    leaf = np.clip(0.42 + 0.16 * tex / (tex.std() + 1e-6), 0.08, 0.85)
    foliage = np.clip(leaf[:, :, None] * np.array([0.80, 1.05, 0.70], np.float32), 0, 1)
    mean_leaf = foliage.reshape(-1, 3).mean(0)
    ph, pw = _person_size(H, W)
    shade = np.linspace(-0.05, 0.05, ph, dtype=np.float32)[:, None, None]
    walker = _ellipse(ph, pw), np.clip(
        mean_leaf + 0.04 + shade + 0.02 * rng.normal(0, 1, (ph, pw, 1)).astype(np.float32), 0, 1)
    ch, cw = _car_size(H, W)
    car = np.ones((ch, cw), bool), _flat(ch, cw, (0.10, 0.10, 0.14))
    yy, xx = np.mgrid[0:bh, 0:W].astype(np.float32)
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        dx = ev["sway_px"] * np.sin(2 * math.pi * n / ev["sway_period"] + 0.35 * yy)
        dy = math.sin(2 * math.pi * n / 13)
        band = cv2.remap(foliage, (xx + pad + dx).astype(np.float32), (yy + pad + dy).astype(np.float32),
                         cv2.INTER_LINEAR)
        img[y0:y1] = band
        x = _cross(n, *ev["walker"], -pw, W)
        if x is not None:
            _paint(img, mask, *walker, ev["walker_top"], x)
        x = _cross(n, *ev["car"], W, -cw)
        if x is not None:
            _paint(img, mask, *car, ev["car_top"], x)
        yield n, _finish(img, noise, seed, n, _tag("dynamic")), mask


# --- sweep -----------------------------------------------------------------------------------------------------


def _sweep_events(N: int, H: int, W: int) -> dict:
    return {"leaves": 3, "period": [max(2, _r(0.45 * N)), max(2, _r(0.7 * N)), max(2, _r(0.55 * N))],
            "leaf_size": [_r(0.75 * H), _r(0.45 * W)]}


def _sweep(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    """Large defocused leaves close to the lens sweep to and fro across the scene from the first frame to the
    last (covering about half of it), each a smooth green texture that shifts as it swings; the scene behind shows
    wherever they are not. Ground truth: the leaves (SBI2015's foliage: what occludes the scene)."""
    import cv2

    ev = _sweep_events(N, H, W)
    rng, bg = _base("sweep", H, W, seed)
    lh, lw = ev["leaf_size"]
    leaves = []
    for i in range(ev["leaves"]):
        t = cv2.GaussianBlur(rng.normal(0, 1, (lh, lw)).astype(np.float32), (0, 0), max(1.0, 0.08 * lw))
        t = t / (t.std() + 1e-6)
        base = np.array([0.30, 0.45, 0.22], np.float32) * (0.8 + 0.4 * rng.random())
        col = np.clip(base + 0.05 * t[:, :, None], 0, 1).astype(np.float32)
        top = _r((0.05 + 0.25 * rng.random()) * H) - lh // 4
        centre = (0.2 + 0.6 * rng.random()) * W
        amp = (0.25 + 0.15 * rng.random()) * W
        leaves.append((_ellipse(lh, lw), col, top, centre, amp, ev["period"][i % 3], rng.random() * 2 * math.pi))
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        for shape, col, top, centre, amp, period, phase in leaves:
            x = _r(centre + amp * math.sin(2 * math.pi * n / period + phase) - lw / 2)
            y = top + _r(2 * math.sin(2 * math.pi * n / 7 + phase))
            _paint(img, mask, shape, col, y, x)
        yield n, _finish(img, noise, seed, n, _tag("sweep")), mask


# --- lossless --------------------------------------------------------------------------------------------------


def _lossless_events(N: int, H: int, W: int) -> dict:
    blocks = math.ceil(H / 8) * math.ceil(W / 8)
    return {
        "flicker_levels": 0.3, "flicker_period": 9, "blocks_per_frame": max(1, _r(0.03 * blocks)),
        "block_levels": [-2, -1, 1, 2], "object_free": [1, max(1, _r(0.2 * N))],
        "rect": [max(1, _r(0.2 * N)), N + 1], "rect_top": _r(0.2 * H),
        "person": [max(1, _r(0.4 * N)), N + 1], "person_top": _r(0.5 * H),
    }


def _lossless(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    ev = _lossless_events(N, H, W)
    rng, bg = _base("lossless", H, W, seed)
    rh, rw = max(4, _r(0.22 * H)), max(6, _r(0.2 * W))
    ph, pw = _person_size(H, W)
    person = _ellipse(ph, pw), _flat(ph, pw, (0.30, 0.32, 0.36))
    rect = np.ones((rh, rw), bool)
    by, bx = math.ceil(H / 8), math.ceil(W / 8)
    for n in range(1, N + 1):
        frng = np.random.default_rng([seed, n, _tag("lossless")])
        img = bg + ev["flicker_levels"] / 255 * math.sin(2 * math.pi * n / ev["flicker_period"])
        mask = np.zeros((H, W), bool)
        x = _cross(n, *ev["rect"], -rw, W)
        if x is not None:
            win = _window(ev["rect_top"], x, rh, rw, H, W)
            if win is not None:
                patch = np.zeros((rh, rw, 3), np.float32)
                patch[win[1]] = img[win[0]] + 0.1
                _paint(img, mask, rect, patch, ev["rect_top"], x)
        x = _cross(n, *ev["person"], W, -pw)
        if x is not None:
            _paint(img, mask, *person, ev["person_top"], x)
        if noise > 0:
            img = img + frng.normal(0, noise, img.shape)
        q = np.floor(np.clip(img, 0, 1) * 255 + 0.5).astype(np.int16)
        k = ev["blocks_per_frame"]
        for blk, off in zip(frng.choice(by * bx, k, replace=False), frng.choice(ev["block_levels"], k)):
            i, j = divmod(int(blk), bx)
            q[8 * i : 8 * i + 8, 8 * j : 8 * j + 8] += int(off)
        yield n, (np.clip(q, 0, 255) / 255).astype(np.float32), mask


# --- camouflage ------------------------------------------------------------------------------------------------


def _camouflage_events(N: int, H: int, W: int) -> dict:
    return {
        "stripes": [max(1, _r(0.15 * N)), max(2, _r(0.85 * N))], "stripes_top": _r(0.22 * H),
        "stripe_levels": 25, "stripe_width": 2, "ellipse": [1, N + 1], "ellipse_top": _r(0.62 * H),
    }


def _smooth_background(H: int, W: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    p, q = rng.uniform(0, 2 * math.pi, 2)
    base = 0.45 + 0.12 * np.sin(2 * math.pi * xx / (W * 1.3) + p) * np.cos(2 * math.pi * yy / (H * 1.7) + q)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 2.0)
    base += 0.006 * fine / (fine.std() + 1e-6)
    return np.clip(base[:, :, None] * np.array([1.0, 0.96, 0.9], np.float32), 0.05, 0.95)


def _camouflage(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    ev = _camouflage_events(N, H, W)
    rng = np.random.default_rng([seed, _tag("camouflage")])
    bg = _smooth_background(H, W, rng)
    sh, sw = max(6, _r(0.28 * H)), 4 * max(2, _r(0.05 * W))
    cols = np.arange(sw) % (2 * ev["stripe_width"]) < ev["stripe_width"]
    stripes = np.broadcast_to(np.where(cols, 1.0, -1.0).astype(np.float32)[None, :, None] * ev["stripe_levels"]
                              / 255, (sh, sw, 1))
    rect = np.ones((sh, sw), bool)
    eh, ew = max(4, _r(0.2 * H)), max(4, _r(0.12 * W))
    ell = _ellipse(eh, ew), _flat(eh, ew, (0.10, 0.10, 0.12))
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        x = _cross(n, *ev["stripes"], -sw, W)
        win = None if x is None else _window(ev["stripes_top"], x, sh, sw, H, W)
        if win is not None:
            fs, ss = win
            base = img[fs].reshape(-1, 3).mean(0) - stripes[ss].mean()
            _paint(img, mask, rect, base + stripes, ev["stripes_top"], x)
        x = _cross(n, *ev["ellipse"], W, -ew)
        if x is not None:
            _paint(img, mask, *ell, ev["ellipse_top"], x)
        yield n, _finish(img, noise, seed, n, _tag("camouflage")), mask


# --- stop ------------------------------------------------------------------------------------------------------


def _stop_events(N: int, H: int, W: int) -> dict:
    ph, pw = _person_size(H, W)
    ch, _ = _car_size(H, W)
    E = max(2, _r(0.3 * N) + 1)
    S = max(E, _r(0.45 * N))
    y, x = _r(0.3 * H), _r(0.4 * W - pw / 2)
    return {"enter": E, "stop": S, "stopped_frames": N - S + 1, "stop_box": [y, x, y + ph, x + pw],
            "car_top": min(_r(0.78 * H), H - ch)}


def _stop(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    ev = _stop_events(N, H, W)
    rng, bg = _base("stop", H, W, seed)
    ph, pw = _person_size(H, W)
    walker = _person(ph, pw, rng, (0.85, 0.25, 0.20), (0.20, 0.20, 0.30))
    ch, cw = _car_size(H, W)
    car = np.ones((ch, cw), bool), _flat(ch, cw, (0.10, 0.12, 0.15))
    y, xs = ev["stop_box"][:2]
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        if n >= ev["stop"]:
            _paint(img, mask, *walker, y, xs)
        elif n >= ev["enter"]:
            _paint(img, mask, *walker, y, _cross(n, ev["enter"] - 1, ev["stop"], -pw, xs))
        _paint(img, mask, *car, ev["car_top"], _loop(n, 0.1 * W, W / max(0.35 * N, 1), cw, W))
        yield n, _finish(img, noise, seed, n, _tag("stop")), mask


# --- light-switch ----------------------------------------------------------------------------------------------


def _light_switch_events(N: int, H: int, W: int) -> dict:
    return {"switch": N // 2 + 1, "gain": 0.75, "gain_left": 0.70, "gain_right": 0.80, "offset": 0.02}


def _light_switch(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    ev = _light_switch_events(N, H, W)
    rng, bg = _base("light-switch", H, W, seed)
    s = min(H, W)
    ch, cw = _car_size(H, W)
    ph, pw = _person_size(H, W)
    dh = max(4, _r(s / 8))
    sprites = [  # (shape, patch, top row, first column, columns per frame)
        (np.ones((ch, cw), bool), _flat(ch, cw, (0.95, 0.93, 0.90)), min(_r(0.6 * H), H - ch), -cw,
         1.25 * W / max(0.3 * N, 1)),
        (_ellipse(dh, dh), _flat(dh, dh, (0.08, 0.10, 0.12)), _r(0.1 * H), 0.8 * W, -0.9 * W / max(0.33 * N, 1)),
        (*_person(ph, pw, rng, (0.20, 0.50, 0.80), (0.25, 0.20, 0.20)), _r(0.3 * H), 0.05 * W,
         0.5 * W / max(0.33 * N, 1)),
    ]
    x = np.arange(W, dtype=np.float32)
    gain = (ev["gain"] + (ev["gain_right"] - ev["gain"]) * (2 * x / max(W - 1, 1) - 1))[None, :, None]
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        for shape, patch, top, x0, v in sprites:
            _paint(img, mask, shape, patch, top, _loop(n, x0, v, shape.shape[1], W))
        if n >= ev["switch"]:
            img = img * gain + ev["offset"]
        yield n, _finish(img, noise, seed, n, _tag("light-switch")), mask


# --- jitter ----------------------------------------------------------------------------------------------------


def _jitter_amplitude(H: int, W: int) -> int:
    return max(1, _r(0.02 * min(H, W)))


def _jitter_events(N: int, H: int, W: int) -> dict:
    return {"amplitude": _jitter_amplitude(H, W)}


def _jitter_offsets(N: int, H: int, W: int, seed: int) -> np.ndarray:
    """(N, 2) offsets (dy, dx) of each frame's crop: (0, 0) for frame 1, then uniform in [-J, J]."""
    J = _jitter_amplitude(H, W)
    off = np.random.default_rng([seed, _tag("jitter")]).integers(-J, J + 1, size=(N, 2))
    off[0] = 0
    return off


def _jitter(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    from bgsub.synth import iter_synth

    J = _jitter_amplitude(H, W)
    off = _jitter_offsets(N, H, W, seed)
    for n, img, mask in iter_synth(height=H + 2 * J, width=W + 2 * J, frames=N, seed=seed, noise=noise):
        dy, dx = (int(v) for v in off[n - 1])
        ys, xs = slice(J + dy, J + dy + H), slice(J + dx, J + dx + W)
        yield n, img[ys, xs], mask[ys, xs]


# --- pan -------------------------------------------------------------------------------------------------------


PAN_SPAN = 0.4  # the pan's whole span, a share of the smaller side


def _pan_span(H: int, W: int) -> int:
    return max(2, _r(PAN_SPAN * min(H, W)))


def _pan_events(N: int, H: int, W: int) -> dict:
    return {"span": _pan_span(H, W)}


def _pan_offsets(N: int, H: int, W: int) -> np.ndarray:
    """(N,) each frame's crop column: 0 for frame 1, growing steadily to the span at frame N (whole pixels)."""
    return (np.arange(N) * _pan_span(H, W)) // max(N - 1, 1)


def _pan(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    from bgsub.synth import iter_synth

    off = _pan_offsets(N, H, W)
    for n, img, mask in iter_synth(height=H, width=W + _pan_span(H, W), frames=N, seed=seed, noise=noise):
        x0 = int(off[n - 1])
        yield n, img[:, x0:x0 + W], mask[:, x0:x0 + W]


# --- registry --------------------------------------------------------------------------------------------------


def _default(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    from bgsub.synth import iter_synth

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
    from bgsub.synth import check_size

    sc = get_scenario(name)
    check_size(height, width, frames)
    return sc.generate(height, width, frames, seed, sc.noise if noise is None else noise)
