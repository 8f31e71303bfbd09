"""Scenarios of a moving camera: the default clip seen by a shaking camera (``jitter``) and by a panning one
(``pan``) (:mod:`bgsub.scenarios` has each one's exact frames)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bgsub.scenarios.draw import _r, _tag, Frame


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
    from bgsub.scenarios.default import iter_synth

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
    from bgsub.scenarios.default import iter_synth

    off = _pan_offsets(N, H, W)
    for n, img, mask in iter_synth(height=H, width=W + _pan_span(H, W), frames=N, seed=seed, noise=noise):
        x0 = int(off[n - 1])
        yield n, img[:, x0:x0 + W], mask[:, x0:x0 + W]
