"""The background reference, the support energy, the ``median`` and ``reference`` methods and the default
(reference-conditioned) U-Net, each against an independent NumPy computation or a hand-built case."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.filters import threshold_otsu

from bgsub.background import Reference, estimate, residual
from bgsub.config import load_config
from bgsub.losses import support_energy
from bgsub.methods import create


def _np_reference(x: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Literal NumPy float64 version of the two-pass estimate without illumination offsets.
    x: (T, C, H, W) -> background (C, H, W), sigma (H, W)."""
    bg = np.median(x, axis=0)
    dev = np.abs(x - bg).max(axis=1)
    sig = np.median(dev, axis=0) * 1.4826
    floor = max(_lower_median(sig.reshape(-1, 1))[0], 1 / 255 / 8)
    keep = dev <= k * np.maximum(sig, floor)
    bg2 = np.empty_like(bg)
    sig2 = np.empty_like(sig)
    T, C, H, W = x.shape
    for i in range(H):
        for j in range(W):
            sel = keep[:, i, j]
            if not sel.any():
                bg2[:, i, j], sig2[i, j] = bg[:, i, j], sig[i, j]
                continue
            samples = x[sel, :, i, j]
            bg2[:, i, j] = _lower_median(samples)
            d = np.abs(x[:, :, i, j] - bg2[:, i, j]).max(axis=1)[sel]
            sig2[i, j] = _lower_median(d[:, None])[0] * 1.4826
    floor2 = max(_lower_median(sig2.reshape(-1, 1))[0], 1 / 255 / 8)
    return bg2, np.maximum(sig2, floor2)


def _lower_median(a: np.ndarray) -> np.ndarray:
    """torch.median's convention: the lower of the two middle values. a: (n, C) -> (C,)."""
    s = np.sort(a, axis=0)
    return s[(len(s) - 1) // 2]


def test_conservative_estimate_matches_numpy_and_ignores_a_passing_object():
    g = np.random.default_rng(0)
    T, C, H, W = 21, 3, 6, 7
    bg = g.uniform(0.2, 0.8, (C, H, W))
    noise = 0.01 * g.standard_normal((T, C, H, W))
    x = bg + noise
    x[3:12, :, 2, 3] = 0.0  # an object stays on pixel (2, 3) for 9 of 21 frames
    ref = estimate(torch.tensor(x, dtype=torch.float64), k=6.0, passes=2, compensate="none")
    nb, ns = _np_reference(x, 6.0)
    np.testing.assert_allclose(ref.background.numpy(), nb, atol=1e-6)
    np.testing.assert_allclose(ref.sigma[0].numpy(), ns, atol=1e-6)
    # without the conservative pass the object inflates that pixel's noise level and drags its background
    plain = estimate(torch.tensor(x), k=6.0, passes=1, compensate="none")
    assert plain.sigma[0, 2, 3] > 2 * ref.sigma[0, 2, 3]
    true = torch.tensor(bg[:, 2, 3], dtype=torch.float32)
    assert (plain.background[:, 2, 3] - true).abs().max() > 2 * (ref.background[:, 2, 3] - true).abs().max()


def test_residual_compensates_a_global_brightness_offset():
    g = torch.Generator().manual_seed(1)
    bg = 0.3 + 0.4 * torch.rand(1, 3, 10, 12, generator=g)
    init = bg + 0.01 * torch.randn(30, 3, 10, 12, generator=g)
    ref = estimate(init)
    brighter = bg + 0.15  # the lights come on
    brighter[:, :, 2:4, 2:4] = 0.0  # and something dark is there
    z = residual(ref, brighter).amax(1)[0]
    assert z[2:4, 2:4].min() > 10  # the object stands out
    z[2:4, 2:4] = 0
    assert z.max() < 6  # the wall does not, although every pixel moved by 0.15 (>> sigma ~ 0.01)
    none = Reference(ref.background, ref.sigma, ref.sigma_floor, ref.init, compensate="none")
    assert residual(none, brighter).amax(1)[0, 6:, 6:].min() > 6


def test_support_energy_matches_the_formula_and_its_pixelwise_minimiser():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 1, 5, 6, generator=g, dtype=torch.float64)
    z = 10 * torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64)
    k, tv, cap = 6.0, 0.7, 16.0
    e, parts = support_energy(logits, z, k=k, tv=tv, cap=cap)
    m = 1 / (1 + np.exp(-logits.numpy()))
    r = np.minimum((z.numpy().max(axis=1, keepdims=True) / k) ** 2, cap)
    data = ((1 - m) * r + m).mean()
    grad = np.abs(np.diff(m, axis=2)).mean() + np.abs(np.diff(m, axis=3)).mean()
    assert e.item() == pytest.approx(data + tv * grad, rel=1e-12)
    assert parts["data"].item() == pytest.approx(data, rel=1e-12)
    # without TV, each pixel's energy is lower as foreground exactly where z > k
    fg, _ = support_energy(torch.full_like(logits, 30.0), z, k=k, tv=0.0, cap=cap)
    bgE, _ = support_energy(torch.full_like(logits, -30.0), z, k=k, tv=0.0, cap=cap)
    assert fg.item() == pytest.approx(1.0, abs=1e-9)
    assert bgE.item() == pytest.approx(r.mean(), rel=1e-9)


def test_support_energy_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 1, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    z = 12 * torch.rand(1, 1, 4, 5, generator=g, dtype=torch.float64)
    z[0, 0, 0, 0] = 0.0  # avoid ties in the TV term's |.| at exactly equal m
    assert torch.autograd.gradcheck(lambda x: support_energy(x, z, tv=0.5)[0], (logits,))


def _clip_with_object(T=40, H=24, W=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    bg = 0.2 + 0.6 * torch.rand(1, 3, H, W, generator=g)
    clip = (bg + 0.01 * torch.randn(T, 3, H, W, generator=g)).clamp(0, 1)
    truth = torch.zeros(T, 1, H, W, dtype=torch.bool)
    for t in range(20, T):  # nothing moves in the first 20 frames; then a square crosses
        x = (t - 20) % (W - 8)
        clip[t, :, 8:16, x : x + 8] = torch.tensor([0.95, 0.05, 0.05])[:, None, None]
        truth[t, 0, 8:16, x : x + 8] = True
    return clip, truth


def test_median_method_is_the_calibration_recipe():
    cfg = load_config(None, ["background.init=20"])
    clip, _ = _clip_with_object()
    m = create("median", cfg)
    assert m.fit_numbers(list(range(1, 41)), seed=0)[:20] == list(range(1, 21))
    m.fit(clip)
    x = clip.numpy()
    med = np.median(x[:20], axis=0)  # 20 samples: torch takes the lower middle value
    med = np.sort(x[:20], axis=0)[9]
    d = np.abs(x - med).max(axis=1)
    t = threshold_otsu(d.ravel(), nbins=256) + (d.max() - d.min()) / 256 / 2
    want = np.stack([cv2.medianBlur((di > t).astype(np.uint8) * 255, 5) > 0 for di in d])
    dec = m.decompose(clip)
    assert np.array_equal(dec.masks[:, 0].numpy(), want)
    assert dec.masks[:20].sum() == 0 and dec.masks[20:].sum() > 0


def test_reference_method_is_the_thresholded_residual():
    cfg = load_config(None, ["background.init=20"])
    clip, truth = _clip_with_object()
    m = create("reference", cfg)
    m.fit(clip)
    dec = m.decompose(clip)
    ref = estimate(clip[:20])
    assert torch.equal(dec.masks, residual(ref, clip).amax(1, keepdim=True) > 6.0)
    assert torch.equal(dec.masks, truth)  # clean synthetic case: exact
    torch.testing.assert_close(dec.background + dec.foreground, clip)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("background", ["samples", "reference"])
def test_default_unet_learns_the_support_and_keeps_a_static_scene_empty(device, background):
    cfg = load_config(None, ["background.init=20", "train.epochs=150", "train.crop=0", "model.depth=2",
                             f"train.device={device}", f"segment.device={device}", f"background.model={background}"])
    clip, truth = _clip_with_object()
    m = create("unet", cfg)
    m.progress = False
    assert m.cfg.input.grayscale is False and m.model.spec.in_channels == 3 and m.model.spec.out_channels == 1
    m.fit(clip)
    # the static reference travels in the training state (old model files); the sample model belongs to the video
    assert m.decides_masks and (m.state.reference is not None) == (background == "reference")
    assert next(m.model.parameters()).device.type == device
    m.begin(clip[:20])  # the video's background, started again on its first frames
    dec = m.decompose(clip)
    pred, gt = dec.masks[20:], truth[20:]
    tp = (pred & gt).sum().item()
    f = 2 * tp / (pred.sum().item() + gt.sum().item())
    assert f > 0.9
    assert dec.masks[:20].float().mean() < 0.01  # nothing moves: (nearly) empty masks, no Otsu on noise
    torch.testing.assert_close(dec.background + dec.foreground, clip)


def test_fit_numbers_take_the_initialisation_window_then_a_seeded_draw():
    cfg = load_config(None, ["background.init=5", "train.pool=3"])
    m = create("unet", cfg)
    nums = list(range(10, 40))
    a = m.fit_numbers(nums, seed=0)
    assert a[:5] == [10, 11, 12, 13, 14] and len(a) == 8 and a == sorted(a) and set(a[5:]) <= set(nums[5:])
    assert a == m.fit_numbers(nums, seed=0) and a != m.fit_numbers(nums, seed=1)


def test_network_input_keeps_native_noise_units_under_the_pixel_budget():
    from bgsub.netinput import network_input, network_size

    assert network_size(240, 320, 19200) == (120, 160) and network_size(100, 100, 19200) == (100, 100)
    z = torch.full((1, 3, 240, 320), 4.0)
    x = network_input(z, 19200)
    assert x.shape == (1, 3, 120, 160)
    torch.testing.assert_close(x, torch.full_like(x, float(np.log1p(4.0))))
    # the area average against NumPy block means (an integer factor: the pooling path)
    g = np.random.default_rng(0)
    z = g.uniform(0, 9, size=(2, 3, 240, 320)).astype(np.float32)
    want = np.log1p(z.reshape(2, 3, 120, 2, 160, 2).mean(axis=(3, 5)))
    np.testing.assert_allclose(network_input(torch.tensor(z), 19200).numpy(), want, rtol=1e-5)


@pytest.mark.parametrize("shape, factors", [((2, 3, 240, 321), (2, 3)), ((3, 1, 9, 12), (3, 4)), ((1, 3, 4, 6), (1, 2))])
def test_block_means_against_numpy(shape, factors):
    from bgsub.netinput import _block_mean

    B, C, H, W = shape
    fy, fx = factors
    z = np.random.default_rng(1).uniform(0, 9, size=shape).astype(np.float32)
    want = z.reshape(B, C, H // fy, fy, W // fx, fx).mean(axis=(3, 5))
    with torch.inference_mode():  # as segment calls it
        np.testing.assert_allclose(_block_mean(torch.tensor(z), fy, fx).numpy(), want, rtol=1e-6)
    g = torch.tensor(z, requires_grad=True)  # the pooling fallback keeps the graph
    out = _block_mean(g, fy, fx)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), np.full(shape, 1.0 / (fy * fx)), rtol=1e-6)


def test_label_frames_are_trained_on_and_left_out_of_scoring(small_clip, tmp_path, cli):
    import json

    from bgsub.io.labels import pick_label_frames
    from bgsub.io.layout import find_ground_truth

    model = tmp_path / "m.pt"
    sets = ["--set", "model.depth=2", "--set", "train.device=cpu", "--set", "background.init=10"]
    r = cli("train", small_clip, "-o", model, "--epochs", "3", "--label-frames", "3", *sets, "--json")
    assert r.code == 0, r.stderr
    scored = find_ground_truth(small_clip).scored_numbers()
    want = pick_label_frames(scored, 3, 0)
    assert json.loads(r.stdout)["label_frames"] == want
    out = tmp_path / "bench"
    r = cli("benchmark", small_clip, "-m", "unet", "-o", out, "--contact", "0", "--label-frames", "3",
            "--set", "train.epochs=3", *sets, "--json")
    assert r.code == 0, r.stderr
    rec = json.loads(r.stdout)["records"][0]
    assert rec["status"] == "ok" and rec["label_frames"] == want
    assert rec["scored_frames"] == len(scored) - 3
    masks = out / small_clip.name / "unet"
    assert len(list(masks.glob("bin*.png"))) >= len(scored) - 3
    assert not any((masks / f"bin{n:06d}.png").exists() for n in want)
    r = cli("train", small_clip, "-o", tmp_path / "p.pt", "--config", "paper", "--label-frames", "2", "--epochs",
            "1")
    assert r.code == 1 and "needs model.reference" in r.stderr


def test_csf_stem_keeps_the_shape_trains_its_dictionary_and_adds_its_eq12_loss():
    from bgsub.background import estimate
    from bgsub.losses import sparse_layer_loss
    from bgsub.models.unet import UNet, UNetSpec, stem_layer
    from bgsub.training import TrainState, build_model, train_model

    net = UNet(UNetSpec(in_channels=3, out_channels=1, base_channels=4, depth=1, stem="csf"))
    x = torch.rand(2, 3, 10, 14)
    assert net(x).shape == (2, 1, 10, 14)
    stem = stem_layer(net)
    lam = (stem.csf.lam1, stem.csf.lam2)
    assert lam == (0.1, 0.01) and stem.last is not None
    torch.testing.assert_close(sparse_layer_loss(stem.csf, *stem.last),
                               sparse_layer_loss(stem.csf, torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"),
                                                 stem.last[1]))
    cfg = load_config(None, ["model.stem=csf", "model.base_channels=4", "model.depth=1", "train.epochs=3",
                             "train.crop=0", "train.device=cpu", "train.tv=0"])
    clip, _ = _clip_with_object(T=24, H=12, W=16)
    model = build_model(cfg)
    before = stem_layer(model).csf.dictionary.detach().clone()
    state = TrainState(reference=estimate(clip[:20]).to_dict())
    state = train_model(model, clip, cfg, state=state, progress=False)
    after = stem_layer(model).csf.dictionary.detach()
    assert not torch.equal(before, after) and after.norm(dim=0).max() <= 1 + 1e-5
    assert all(r["loss"] > r["data"] + 1e-6 for r in state.history)  # the stem's Eq. 12 term is in the loss
    assert stem_layer(model).last is None  # no graph left on the module
    # the same with labelled frames (a second forward per step): the trained model can still be copied
    g = torch.Generator().manual_seed(0)
    labels = (clip[20:22], torch.rand(2, 1, 12, 16, generator=g) > 0.5, torch.ones(2, 1, 12, 16, dtype=torch.bool))
    cfg = load_config(None, ["model.stem=csf", "model.base_channels=4", "model.depth=1", "train.epochs=2",
                             "train.crop=0", "train.device=cpu", "train.label_frames=2"])
    model = build_model(cfg)
    train_model(model, clip, cfg, state=TrainState(reference=estimate(clip[:20]).to_dict()), progress=False,
                labels=labels)
    assert stem_layer(model).last is None
    import copy

    copy.deepcopy(model)


def test_shifted_residual_matches_a_literal_numpy_search_and_tolerates_a_one_pixel_sway():
    g = np.random.default_rng(7)
    T, C, H, W, r = 2, 3, 6, 7, 1
    bg = g.uniform(0, 1, size=(C, H, W))
    sigma = g.uniform(0.01, 0.05, size=(1, H, W))
    x = g.uniform(0, 1, size=(T, C, H, W))
    ref = Reference(torch.tensor(bg, dtype=torch.float32), torch.tensor(sigma, dtype=torch.float32), 0.01, 10,
                    compensate="none", shift=r)
    got = residual(ref, torch.tensor(x, dtype=torch.float32)).numpy()
    want = np.zeros_like(x)
    for t in range(T):
        for i in range(H):
            for j in range(W):
                best = None
                for di in range(-r, r + 1):  # row-major order of offsets, first minimum kept
                    for dj in range(-r, r + 1):
                        qi, qj = min(max(i + di, 0), H - 1), min(max(j + dj, 0), W - 1)  # replicate border
                        z = np.abs(x[t, :, i, j] - bg[:, qi, qj]) / sigma[0, qi, qj]
                        if best is None or z.max() < best.max():
                            best = z
                want[t, :, i, j] = best
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # float32 against float64
    # a textured background swaying by one pixel is background with shift 1, not without
    swayed = torch.tensor(np.roll(bg, 1, axis=2)[None], dtype=torch.float32)
    z1 = residual(ref, swayed).amax(1)[0, :, 1:]
    z0 = residual(Reference(ref.background, ref.sigma, 0.01, 10, compensate="none"), swayed).amax(1)[0, :, 1:]
    assert float(z1.max()) < 1e-5 and float(z0.max()) > 6


@pytest.mark.parametrize("shape, size", [((3, 1, 120, 160), (240, 320)), ((2, 2, 7, 9), (20, 13)), ((1, 1, 50, 75), (120, 180))])
def test_upsample_is_bilinear_with_half_pixel_centres(shape, size):
    """The OpenCV path of netinput.upsample against torch's bilinear interpolation (align_corners=False) and, on
    a small case, against the formula written out in NumPy."""
    from bgsub.netinput import upsample

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        got = upsample(x, size)
    want = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
    a = x[0, 0].numpy().astype(np.float64)
    h, w = a.shape
    H, W = size

    def axis(n_out, n_in):  # source coordinate of each output pixel, clamped at the border
        c = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(c).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), c - i0

    y0, y1, fy = axis(H, h)
    x0, x1, fx = axis(W, w)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    np.testing.assert_allclose(got[0, 0].numpy(), top * (1 - fy[:, None]) + bottom * fy[:, None], atol=1e-4)


def test_unary_logits_are_the_energys_own_decision():
    """model.unary: the logits are log min((max_c z_c / k)^2, cap) (floored at e^-4) plus the network's output;
    with the head zeroed the mask is the reference thresholded at z > k (the energy's minimiser without TV)."""
    from bgsub.models.unet import unary_logits
    from bgsub.training import build_model

    g = np.random.default_rng(5)
    z = g.uniform(0, 40, size=(2, 3, 16, 24)).astype(np.float32)
    z[0, :, :4, :4] = 0.0  # the floor
    k, cap = 6.0, 16.0
    r = np.clip((z.max(axis=1, keepdims=True) / k) ** 2, np.exp(-4.0), cap)
    x = torch.tensor(np.log1p(z))
    np.testing.assert_allclose(unary_logits(x, k, cap).numpy(), np.log(r), rtol=1e-5, atol=1e-5)

    cfg = load_config(None, ["model.unary=true", "background.k=5", "input.grayscale=false"])
    net = build_model(cfg)
    assert net.spec.unary_k == 5.0 and net.spec.unary_cap == cfg.train.cap
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        out = net.eval()(x)
    np.testing.assert_allclose(out.numpy(), np.log(np.clip((z.max(axis=1, keepdims=True) / 5) ** 2,
                                                           np.exp(-4.0), cap)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal((out > 0).numpy(), z.max(axis=1, keepdims=True) > 5)
    assert build_model(load_config(None, ["model.reference=false"])).spec.unary_k == 0  # the paper's network
    assert build_model(load_config("paper")).spec.unary_k == 0
    assert build_model(load_config(None, ["model.unary=false"])).spec.unary_k == 0
