"""The smooth illumination compensation (``background.compensate: smooth``) against hand-built cases: a frame
made from the reference by a known quadratic gain and offset field, with an object in it, must give back that
field's background exactly; too few inliers fall back to the median offset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgsub.background import (SMOOTH_SAMPLES, Reference, background_for, background_from, compensation_for,
                              estimate, residual)
from bgsub.config import load_config
from bgsub.errors import BgsubError

H, W = 48, 64


def _ref(seed: int = 0, compensate: str = "smooth") -> Reference:
    g = np.random.default_rng(seed)
    bg = torch.tensor(g.uniform(0.2, 0.7, (3, H, W)), dtype=torch.float32)
    sigma = torch.tensor(g.uniform(0.005, 0.02, (1, H, W)), dtype=torch.float32)
    return Reference(bg, sigma, 0.005, 50, compensate=compensate, k=6.0)


def _fields(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Literal quadratic fields: gain 1 + sum a_j m_j, offset sum b_j m_j over the monomials of the pixel centres
    (u across, v down, in [-1, 1]). a, b: (C, 6) -> (C, H, W) each."""
    v = (np.arange(H) + 0.5) / H * 2 - 1
    u = (np.arange(W) + 0.5) / W * 2 - 1
    vv, uu = np.meshgrid(v, u, indexing="ij")
    mono = np.stack([np.ones_like(uu), uu, vv, uu * uu, uu * vv, vv * vv])  # (6, H, W)
    return 1 + np.einsum("cj,jhw->chw", a, mono), np.einsum("cj,jhw->chw", b, mono)


def test_a_known_smooth_light_change_is_recovered_exactly_despite_an_object():
    ref = _ref()
    g = np.random.default_rng(1)
    a = g.uniform(-0.15, 0.15, (3, 6))  # brightness varies by up to ~+-40% across the frame
    b = g.uniform(-0.05, 0.05, (3, 6))
    gain, off = _fields(a, b)
    truth = ref.background.numpy() * gain + off
    frame = truth.copy()
    frame[:, 10:30, 20:45] = 0.95  # a bright object over 16% of the frame
    comp = compensation_for(ref, torch.tensor(frame[None], dtype=torch.float32))
    assert comp.shape == (1, 3, 12)
    np.testing.assert_allclose(comp[0, :, :6].numpy(), a, atol=2e-4)
    np.testing.assert_allclose(comp[0, :, 6:].numpy(), b, atol=2e-4)
    got = background_from(ref, comp)[0].numpy()
    np.testing.assert_allclose(got, truth, atol=2e-4)
    z = residual(ref, torch.tensor(frame[None], dtype=torch.float32)).amax(1)[0].numpy()
    obj = np.zeros((H, W), bool)
    obj[10:30, 20:45] = True
    assert z[~obj].max() < 0.1 and z[obj].min() > 6  # only the object is left
    # the offset model cannot follow it: the wall lights up
    flat = Reference(ref.background, ref.sigma, ref.sigma_floor, ref.init, compensate="offset")
    z_off = residual(flat, torch.tensor(frame[None], dtype=torch.float32)).amax(1)[0].numpy()
    assert (z_off[~obj] > 6).mean() > 0.1


def test_an_unchanged_frame_keeps_the_reference_and_offsets_still_work():
    ref = _ref(2)
    frames = ref.background[None].repeat(2, 1, 1, 1)
    frames[1] += 0.1  # a global offset is a special case of the smooth model
    bg = background_for(ref, frames)
    np.testing.assert_allclose(bg[0].numpy(), ref.background.numpy(), atol=1e-5)
    np.testing.assert_allclose(bg[1].numpy(), ref.background.numpy() + 0.1, atol=1e-5)


def test_too_few_inliers_keep_the_median_offset():
    ref = _ref(3)
    g = torch.Generator().manual_seed(4)
    frame = torch.rand(1, 3, H, W, generator=g)  # nothing of the background is left: no pixel is an inlier
    comp = compensation_for(ref, frame)
    s = int((H * W / SMOOTH_SAMPLES) ** 0.5)  # the fit's grid: every s-th pixel
    d = np.sort((frame[0] - ref.background).numpy()[:, ::s, ::s].reshape(3, -1), axis=1)
    expected = d[:, (d.shape[1] - 1) // 2]  # the lower median of the grid's differences, per channel
    np.testing.assert_allclose(comp[0, :, 6].numpy(), expected, atol=1e-6)
    assert comp[0, :, :6].abs().max() == 0 and comp[0, :, 7:].abs().max() == 0


def test_reference_round_trip_and_config():
    ref = _ref()
    back = Reference.from_dict(ref.to_dict())
    assert back.compensate == "smooth" and back.k == 6.0
    d = ref.to_dict()
    del d["k"]  # references saved before the smooth model: k defaults to 6
    assert Reference.from_dict(d).k == 6.0
    cfg = load_config(overrides=["background.compensate=smooth"])
    assert cfg.background.compensate == "smooth"
    with pytest.raises(BgsubError, match="offset, smooth, none"):
        estimate(torch.rand(4, 3, 8, 8), compensate="bogus")


def test_clipped_samples_do_not_bend_the_fit_and_the_background_is_clamped():
    ref = _ref(5)
    bg = ref.background.clone()
    bg[:, 5:25, 5:30] = 1.0  # a white wall, saturated in the reference
    ref = Reference(bg, ref.sigma, ref.sigma_floor, ref.init, compensate="smooth", k=6.0)
    frame = (bg * 1.1).clamp(max=1.0)[None]  # the lights come on by 10%: the white wall cannot show it
    comp = compensation_for(ref, frame)
    np.testing.assert_allclose(comp[0, :, 0].numpy(), 0.1, atol=1e-4)  # the gain, from the unclipped pixels
    assert comp[0, :, 1:].abs().max() < 1e-4
    got = background_from(ref, comp)
    assert got.max() <= 1.0
    z = residual(ref, frame).amax(1)[0]
    assert z.max() < 0.05  # the white wall is background too
