"""Scenarios of the scene itself, seen by a still camera: a busy start, a dynamic background, a sweep across the
lens, noise-free frames, camouflage, a stopped object, a light switch (:mod:`bgsub.scenarios` has each one's exact
frames)."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from bgsub.scenarios.draw import (
    _r, _tag, _ellipse, _window, _paint, _cross, _loop, _person_size, _car_size, _person, _flat, _finish, _base,
    Frame,
)


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


# --- trees -----------------------------------------------------------------------------------------------------


def _trees_events(N: int, H: int, W: int) -> dict:
    y0 = _r(0.08 * H)
    ph, _ = _person_size(H, W)
    return {
        "band_rows": [y0, min(H, y0 + max(ph + 2, _r(0.42 * H)))], "sway_px": max(1.0, 0.008 * W),
        "sway_period": 16, "walker": [max(1, _r(0.2 * N)), max(2, _r(0.8 * N))], "walker_top": y0 + 1,
    }


def _trees(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    """A band of trees against the sky sways (leaves and sky: two colours with soft edges between, as Wallflower's
    WavingTrees); a person in a red shirt crosses in front of it. Ground truth: the person."""
    import cv2

    ev = _trees_events(N, H, W)
    rng, bg = _base("trees", H, W, seed)
    y0, y1 = ev["band_rows"]
    bh, pad = y1 - y0, int(math.ceil(ev["sway_px"])) + 2
    shape = (bh + 2 * pad, W + 2 * pad)
    clumps = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), max(1.0, 0.02 * W))
    leaf_w = np.clip(0.5 + 1.5 * clumps / (clumps.std() + 1e-6), 0.0, 1.0)[:, :, None]  # 1: leaves, 0: sky
    fine = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 0.8)[:, :, None]
    leaves = np.array([0.16, 0.30, 0.12], np.float32) + 0.05 * fine
    sky = np.array([0.70, 0.78, 0.88], np.float32) + 0.01 * fine
    canopy = np.clip(leaf_w * leaves + (1.0 - leaf_w) * sky, 0, 1).astype(np.float32)
    ph, pw = _person_size(H, W)
    walker = _person(ph, pw, rng, (0.65, 0.20, 0.18), (0.25, 0.22, 0.35))
    yy, xx = np.mgrid[0:bh, 0:W].astype(np.float32)
    for n in range(1, N + 1):
        img, mask = bg.copy(), np.zeros((H, W), bool)
        dx = ev["sway_px"] * np.sin(2 * math.pi * n / ev["sway_period"] + 0.2 * yy / max(1.0, 0.01 * H))
        dy = 0.5 * math.sin(2 * math.pi * n / 23)
        img[y0:y1] = cv2.remap(canopy, (xx + pad + dx).astype(np.float32), (yy + pad + dy).astype(np.float32),
                               cv2.INTER_LINEAR)
        x = _cross(n, *ev["walker"], -pw, W)
        if x is not None:
            _paint(img, mask, *walker, ev["walker_top"], x)
        yield n, _finish(img, noise, seed, n, _tag("trees")), mask


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
