"""The stillest-frame search over the whole video (background.horizon 3000) and its stopped-object policy, on
``bgsub synth --scenario stop`` (exact ground truth: the box where the object stands from its stop to the end)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgsub.background.stable import settle_due
from bgsub.config import Config
from bgsub.errors import BgsubError


def _stop_clip(frames=600, height=48, width=64):
    from bgsub.scenarios import iter_scenario, scenario_events

    x = np.stack([img for _, img, _ in iter_scenario("stop", height=height, width=width, frames=frames, seed=0)])
    ev = scenario_events("stop", frames=frames, height=height, width=width)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), ev


def _held(x, ev, **background):
    """The share of the stopped object's interior the defaults' model (thresholded at z > k) calls foreground,
    {frames after the stop: share}."""
    from bgsub.background.state import start

    cfg = Config()
    for k, v in background.items():
        setattr(cfg.background, k, v)
    st = start(x[:100], cfg.background, pixels=cfg.model.pixels)
    z = torch.cat([st.step(x[i : i + 8]) for i in range(0, x.shape[0], 8)]).amax(1).numpy() > cfg.background.k
    y0, x0, y1, x1 = ev["stop_box"]
    S = ev["stop"] - 1  # 0-based
    return {d: float(z[S + d][y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].mean()) for d in (50, 150, 320)}


def test_a_still_stopped_object_is_taken_in_about_half_the_time_the_scene_was_seen_without_it():
    """The policy (README): an object that stops at frame t (here 270) and stands as still as the scene (noise
    alone) competes for each pixel's stillest frames on equal terms with the scene before it, so the search takes
    it in as it holds the pixel about as long as the scene was seen without it: whole 50 frames after the stop,
    about half at t / 2 (150 frames), nearly gone after 320. With ``stiller`` 0.5 a later frame must move less
    than half as much as a kept one: the still object never wins and stays foreground to the end."""
    x, ev = _stop_clip()
    assert ev["stop"] == 270 and ev["stopped_frames"] == 331
    held = _held(x, ev)
    assert held[50] > 0.9 and 0.2 < held[150] < 0.65 and held[320] < 0.15
    kept = _held(x, ev, stiller=0.5)
    assert min(kept.values()) > 0.9
    short = _held(x, ev, horizon=300, open_horizon=3000)  # the twelfth session's default: the search ends at 300
    assert short[320] > 0.9


def test_the_samples_are_set_again_less_often_as_the_video_goes_on():
    """settle_due: on multiples of 16 frames, at least a sixteenth of the frames seen apart (hand-computed)."""
    last, got = 100, []
    for t in range(101, 700):
        if settle_due(t, last):
            got.append(t)
            last = t
    assert got[:10] == [112, 128, 144, 160, 176, 192, 208, 224, 240, 256]
    assert got[10:] == [288, 320, 352, 384, 416, 448, 480, 512, 560, 608, 656]  # 32 apart from 272, 48 from 544


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_stiller_outside_its_range_is_a_clear_error(bad):
    from bgsub.background.state import start

    cfg = Config()
    cfg.background.stiller = bad
    with pytest.raises(BgsubError, match="background.stiller must be in"):
        start(torch.rand(20, 3, 24, 32), cfg.background, pixels=cfg.model.pixels)
