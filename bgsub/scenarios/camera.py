"""Scenarios of a moving camera: the default clip seen by a shaking camera (``jitter``), by a panning one (``pan``),
by one that pans most of a view and stops (``pan-stop``), by one tracking a person (``track``) and by one
re-pointed once (``cut``) (:mod:`bgsub.scenarios` has each one's
exact frames)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bgsub.scenarios.default import iter_synth
from bgsub.scenarios.draw import Frame, _paint, _person, _person_size, _r, _tag


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
    off = _pan_offsets(N, H, W)
    for n, img, mask in iter_synth(height=H, width=W + _pan_span(H, W), frames=N, seed=seed, noise=noise):
        x0 = int(off[n - 1])
        yield n, img[:, x0:x0 + W], mask[:, x0:x0 + W]


# --- pan-stop --------------------------------------------------------------------------------------------------

PAN_STOP_SPAN = 0.9  # the pan's span, a share of the frame's width: nearly a whole new view
PAN_STOP_FROM, PAN_STOP_TO = 0.25, 0.55  # the camera pans between these shares of the clip, still before and after


def _pan_stop_events(N: int, H: int, W: int) -> dict:
    return {"span": max(2, _r(PAN_STOP_SPAN * W)), "pan": _r(PAN_STOP_FROM * N) + 1, "stop": _r(PAN_STOP_TO * N) + 1}


def _pan_stop_offsets(N: int, H: int, W: int) -> np.ndarray:
    """(N,) each frame's crop column: 0 up to frame A (``pan``), then growing steadily to the span P at frame B
    (``stop``), P from there on (whole pixels): column (n - A) P // (B - A) between them."""
    ev = _pan_stop_events(N, H, W)
    P, A, B = ev["span"], ev["pan"], ev["stop"]
    n = np.arange(1, N + 1)
    return np.clip((n - A) * P // max(B - A, 1), 0, P)


def _pan_stop(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    off = _pan_stop_offsets(N, H, W)
    P = _pan_stop_events(N, H, W)["span"]
    for n, img, mask in iter_synth(height=H, width=W + P, frames=N, seed=seed, noise=noise):
        x0 = int(off[n - 1])
        yield n, img[:, x0:x0 + W], mask[:, x0:x0 + W]


# --- track -----------------------------------------------------------------------------------------------------

TRACK_RATE = 1 / 160  # the view's pan, a share of the frame's width a frame


def _track_span(N: int, W: int) -> int:
    return max(2, _r(TRACK_RATE * W * (N - 1)))


def _track_events(N: int, H: int, W: int) -> dict:
    return {"span": _track_span(N, W)}


def _track_offsets(N: int, H: int, W: int) -> np.ndarray:
    """(N,) each frame's crop column: 0 for frame 1, growing steadily to the span at frame N (whole pixels)."""
    return (np.arange(N) * _track_span(N, W)) // max(N - 1, 1)


def _track_position(n: int, H: int, W: int) -> tuple[int, int]:
    """The tracked person's top-left corner in frame n (frame coordinates): near the centre, wobbling."""
    ph, pw = _person_size(H, W)
    y = _r((H - ph) / 2 + 0.05 * H * np.sin(n / 5))
    x = _r((W - pw) / 2 + 0.06 * W * np.sin(n / 9))
    return y, x


def _track(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    off = _track_offsets(N, H, W)
    rng = np.random.default_rng([seed, _tag("track")])
    shape, patch = _person(*_person_size(H, W), rng, (0.80, 0.20, 0.20), (0.20, 0.20, 0.45))
    for n, img, mask in iter_synth(height=H, width=W + _track_span(N, W), frames=N, seed=seed, noise=noise):
        x0 = int(off[n - 1])
        img, mask = img[:, x0:x0 + W].copy(), mask[:, x0:x0 + W].copy()
        _paint(img, mask, shape, patch, *_track_position(n, H, W))
        yield n, img, mask


# --- cut -------------------------------------------------------------------------------------------------------

CUT_AT = 0.65  # the view changes at this share of the clip (after the default clip's pedestrian walks on, at 0.6)
CUT_JUMP = 0.5  # the view's jump, a share of the smaller side (past registration's quarter: left as it is)


def _cut_jump(H: int, W: int) -> int:
    return max(2, _r(CUT_JUMP * min(H, W)))


def _cut_events(N: int, H: int, W: int) -> dict:
    return {"cut": _r(CUT_AT * N) + 1, "jump": _cut_jump(H, W)}


def _cut(H: int, W: int, N: int, seed: int, noise: float) -> Iterator[Frame]:
    J, C = _cut_jump(H, W), _cut_events(N, H, W)["cut"]
    for n, img, mask in iter_synth(height=H + J, width=W + J, frames=N, seed=seed, noise=noise):
        o = J if n >= C else 0
        yield n, img[o:o + H, o:o + W], mask[o:o + H, o:o + W]
