"""OpenCV baselines (mog2, knn) behind the method interface."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from bgsub.config import Config
from bgsub.io.frames import read_clip
from bgsub.methods.base import available, create
from bgsub.methods.classical import to_uint8

NAMES = ["mog2", "knn"]
_FACTORY = {"mog2": cv2.createBackgroundSubtractorMOG2, "knn": cv2.createBackgroundSubtractorKNN}


def _shadow_clip(frames: int = 60, seed: int = 0) -> torch.Tensor:
    """(T, 1, 32, 32) flat grey scene; from frame 50 a region darkened to 75 % (a shadow to OpenCV) and a dark
    square (a real object)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(frames):
        f = np.full((32, 32), 150.0) + rng.normal(0, 2, (32, 32))
        if t >= 50:
            f[8:24, 8:24] *= 0.75
            f[0:6, 0:6] = 20
        out.append(f)
    return torch.from_numpy((np.clip(np.stack(out), 0, 255) / 255).astype(np.float32))[:, None]


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_decides_masks(name):
    assert name in available()
    m = create(name, Config())
    assert m.name == name and m.decides_masks and m.fit_frames() == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("grayscale", [True, False])
def test_shapes_and_l_plus_s_is_the_clip(name, grayscale, small_clip):
    clip = read_clip(small_clip, grayscale=grayscale).frames[:12]
    dec = create(name).decompose(clip)
    t, c, h, w = clip.shape
    assert dec.background.shape == dec.foreground.shape == (t, c, h, w)
    assert dec.masks.shape == (t, 1, h, w) and dec.masks.dtype == torch.bool
    assert torch.allclose(dec.background + dec.foreground, clip, atol=1e-6)
    assert 0 <= float(dec.background.min()) and float(dec.background.max()) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_shadow_127_is_background_and_masks_match_opencv(name):
    clip = _shadow_clip()
    dec = create(name).decompose(clip)
    ref = _FACTORY[name]()
    raw = [ref.apply(to_uint8(f)) for f in clip]
    assert (raw[-1][8:24, 8:24] == 127).all()  # OpenCV calls the darkened region a shadow ...
    assert not dec.masks[-1, 0, 8:24, 8:24].any()  # ... and it counts as background
    assert dec.masks[-1, 0, 0:6, 0:6].all()  # the dark square is foreground
    expected = torch.from_numpy(np.stack(raw) == 255)[:, None]
    assert torch.equal(dec.masks, expected)


@pytest.mark.parametrize("name", NAMES)
def test_state_carries_across_windows_and_reset_forgets_it(name, small_clip):
    clip = read_clip(small_clip).frames
    m = create(name)
    whole = m.decompose(clip).masks
    m.reset()
    parts = torch.cat([m.decompose(clip[:7]).masks, m.decompose(clip[7:30]).masks, m.decompose(clip[30:]).masks])
    assert torch.equal(whole, parts)
    assert m.frames_seen == len(clip)
    m.reset()
    assert m.frames_seen == 0
    assert torch.equal(m.decompose(clip).masks, whole)  # deterministic for the same input


def test_uint8_round_trip_is_exact():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    frame = torch.from_numpy(img.astype(np.float32) / 255.0)[None]
    assert np.array_equal(to_uint8(frame), img)
    rgb = np.stack([img, img[::-1], img.T], axis=0).astype(np.float32) / 255.0
    bgr = to_uint8(torch.from_numpy(rgb))
    assert bgr.shape == (16, 16, 3) and np.array_equal(bgr[:, :, 2], img)


@pytest.mark.parametrize("name", NAMES)
def test_through_the_video_pipeline_masks_are_identical_run_to_run(name, small_clip, tmp_path):
    from bgsub.pipelines.evaluate import evaluate
    from bgsub.pipelines.run import decompose_video

    cfg = Config()
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        cv2.setRNGSeed(1234 + k)  # whatever the generator's state, the method seeds it itself
        decompose_video(create(name, cfg), small_clip, out, cfg=cfg, window=1, progress=False)
        outs.append(out)
    a = sorted(outs[0].glob("bin*.png"))
    b = sorted(outs[1].glob("bin*.png"))
    assert len(a) == 40 and [p.name for p in a] == [p.name for p in b]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(a, b))
    r = evaluate(outs[0], cdnet=small_clip)
    assert r["scores"]["precision"] > 0.5 and r["scores"]["recall"] > 0.1  # it finds the objects, not noise
