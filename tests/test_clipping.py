"""The white level (bgsub.background.clipping): a pile-up of values at one level with none above it is where the
frames were clipped; a scene that thins out towards its brightest values was not. Scenes drawn here, their clip
known: the level found must be it, and 255 where nothing was clipped below the 8-bit top."""

from __future__ import annotations

import numpy as np
import pytest

from bgsub.background.clipping import TOP, white_level


def _scene(rng, t=8, h=60, w=80, top=300.0):
    """(t, 3, h, w) grey levels: a ramp from dark to ``top`` across the frame (a quarter of it beyond 235),
    noise of two grey levels; not yet clipped or rounded."""
    ramp = np.linspace(20.0, top, w)[None, None, None, :]
    return np.broadcast_to(ramp, (t, 3, h, w)) + rng.normal(0, 2.0, size=(t, 3, h, w))


@pytest.mark.parametrize("clip", [235.0, 200.0, 88.0])
def test_a_clip_below_the_top_is_found_at_its_level(clip):
    rng = np.random.default_rng(0)
    x = np.clip(_scene(rng), 0, clip)
    if clip < 100:  # a dimmed copy: clipped at 255 first, then every value v -> 0.3 v + 12 (clip at 88.5)
        x = 0.3 * np.clip(_scene(rng), 0, 255) + 12.0
        clip = 88.5
    # a codec moves a clipped area by a level, in brightness (the same in every channel)
    x = x + rng.integers(-1, 2, size=(x.shape[0], 1) + x.shape[2:]) * (x >= clip - 0.5)
    assert abs(white_level(x) - clip) <= 1.0


def test_the_brightest_channel_decides_and_grey_frames_work_alike():
    rng = np.random.default_rng(1)
    x = np.clip(_scene(rng), 0, 235.0)
    x[:, 0] *= 0.5  # red darker: the clip shows in green and blue
    assert white_level(x) == 235.0
    assert white_level(x.max(axis=1)) == 235.0  # (T, h, w): each pixel's brightest channel given


def test_no_clip_below_the_top_gives_255():
    rng = np.random.default_rng(2)
    assert white_level(np.clip(_scene(rng), 0, 255)) == TOP  # clipped at the top: 255, as always
    assert white_level(np.clip(_scene(rng, top=200.0), 0, 255)) == TOP  # nothing clipped
    # a flat bright wall, the brightest thing in view, with the camera's noise: its values spread above its mode
    # as below it, no cliff
    x = np.clip(_scene(rng, top=180.0), 0, 255)
    x[..., :, 60:] = 210.0 + rng.normal(0, 2.0, size=x[..., :, 60:].shape)
    assert white_level(x) == TOP
    assert white_level(np.zeros((0, 3, 4, 4))) == TOP


def test_a_small_pile_up_is_not_a_clip():
    """A handful of values at one level (fewer than a thousandth) is not a clip."""
    rng = np.random.default_rng(3)
    x = np.clip(_scene(rng, top=200.0), 0, 255)
    x[0, 0, 0, :3] = 230.0  # three values piled at 230 with none above
    assert white_level(x) == TOP
