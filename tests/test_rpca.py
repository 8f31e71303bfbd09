"""``bgsub rpca`` end to end on synthetic clips, and the rpca-* methods behind the common interface."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from bgsub.config import Config, apply_dict
from bgsub.errors import BgsubError
from bgsub.methods.base import available, create

METHODS = ["rpca-ialm", "rpca-apg", "rpca-pfb"]


def moving_square_clip(T=30, H=24, W=32, channels=1, seed=0):
    """A static textured background with a bright 5x5 square moving one pixel per frame; (clip, masks)."""
    g = torch.Generator().manual_seed(seed)
    bg = torch.rand(channels, H, W, generator=g) * 0.5
    clip = bg.expand(T, channels, H, W).clone()
    masks = torch.zeros(T, 1, H, W, dtype=torch.bool)
    for t in range(T):
        y, x = 4 + (t % 15), 2 + t
        clip[t, :, y:y + 5, x:x + 5] = 1.0
        masks[t, :, y:y + 5, x:x + 5] = True
    return clip, masks


def test_rpca_methods_are_registered():
    assert set(METHODS) <= set(available())


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("channels", [1, 3])
def test_method_contract(name, channels):
    clip, masks = moving_square_clip(channels=channels)
    cfg = apply_dict(Config(), {"rpca": {"tol": 1e-6, "max_iter": 500, "device": "cpu"}})
    m = create(name, cfg)
    dec = m.decompose(clip)
    assert dec.background.shape == clip.shape and dec.foreground.shape == clip.shape
    assert dec.background.dtype == torch.float32 and dec.masks is None
    assert torch.allclose(dec.background + dec.foreground, clip, atol=1e-6)  # L + S = clip
    # the moving square is in S, the background in L
    mag = dec.foreground.abs().amax(1, keepdim=True)
    assert float(mag[masks].mean()) > 0.3
    assert float(mag[~masks].mean()) < 0.05
    assert len(m.infos) == 1 and m.infos[0]["converged"]
    assert torch.equal(create(name, cfg).decompose(clip).background, dec.background)  # deterministic
    m.reset()
    assert m.infos == []


def test_bad_rpca_config_is_an_error():
    with pytest.raises(BgsubError, match="svd"):
        create("rpca-ialm", apply_dict(Config(), {"rpca": {"svd": "magic"}}))
    with pytest.raises(BgsubError, match="dtype"):
        create("rpca-ialm", apply_dict(Config(), {"rpca": {"dtype": "float16"}}))


def test_cli_rpca_masks_score_well(cli, medium_clip, tmp_path):
    out = tmp_path / "out"
    r = cli("rpca", medium_clip, "-o", out, "--json", "--device", "cpu", "--threads", "1")
    assert r.code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["frames"] == 80 and summary["windows"] == 2 and summary["solver"] == "ialm"
    assert summary["unconverged_windows"] == 0 and summary["threads"] == 1
    assert len(list(out.glob("bin*.png"))) == 80
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["rpca"]["solver"] == "ialm" and saved["rpca"]["threads"] == 1
    report = json.loads((out / "rpca.json").read_text())
    assert len(report["per_window"]) == 2 and all(w["residual"] < 1e-7 for w in report["per_window"])
    ev = cli("evaluate", out, "--gt", medium_clip, "--json")
    assert ev.code == 0, ev.stderr
    f = json.loads(ev.stdout)["scores"]["f_measure"]
    assert f > 0.75, f  # 0.80 at the time of writing (a stopping object and low-contrast ones are missed)


def test_cli_rpca_options_and_outputs(cli, small_clip, tmp_path):
    out = tmp_path / "o"
    r = cli("rpca", small_clip / "input", "-o", out, "--solver", "apg", "--window", "10", "--start", "5",
            "--end", "24", "--tol", "1e-5", "--max-iter", "300", "--lam", "0.05", "--save-foreground",
            "--save-background", "--device", "cpu")
    assert r.code == 0, r.stderr
    assert r.stdout.strip() == str(out)
    assert sorted(p.name for p in out.glob("bin*.png"))[0] == "bin000005.png"
    assert len(list(out.glob("bin*.png"))) == 20
    assert len(list(out.glob("fg*.png"))) == 20 and len(list(out.glob("bg*.png"))) == 20
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["rpca"]["solver"] == "apg"
    assert saved["rpca"]["lam"] == 0.05 and saved["input"]["start"] == 5


def test_cli_rpca_errors_exit_1(cli, small_clip, tmp_path):
    r = cli("rpca", small_clip, "-o", tmp_path / "x", "--solver", "svd")
    assert r.code == 1 and "unknown RPCA solver 'svd'" in r.stderr and "ialm" in r.stderr
    r = cli("rpca", tmp_path / "missing", "-o", tmp_path / "y")
    assert r.code == 1 and "missing" in r.stderr


def test_cli_rpca_warns_when_max_iter_is_hit(cli, small_clip, tmp_path):
    r = cli("rpca", small_clip, "-o", tmp_path / "w", "--max-iter", "2", "--window", "20", "--end", "20")
    assert r.code == 0
    assert "max_iter=2" in r.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_method_on_cuda_matches_cpu():
    clip, _ = moving_square_clip()
    results = {}
    for device in ("cpu", "cuda"):
        cfg = apply_dict(Config(), {"rpca": {"device": device}})
        results[device] = create("rpca-ialm", cfg).decompose(clip)
    assert results["cuda"].background.device.type == "cpu"  # results come back to the CPU
    diff = (results["cuda"].background - results["cpu"].background).norm() / results["cpu"].background.norm()
    assert float(diff) < 1e-4
