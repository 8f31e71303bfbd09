"""scripts/ablate_background.py's configuration variants: ``final`` is the model ``segment`` builds from the
defaults, ``final:KEY=VALUE`` the same with one setting changed, and every lever of ``--levers`` names a valid
setting that changes the model; the script skips without data."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from bgsub.background.state import SampleState, StaticReference, start
from bgsub.config import Config
from bgsub.errors import BgsubError

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)


def _script():
    return load_script("ablate_background")


def _clip(T=24, h=48, w=64):
    g = torch.Generator().manual_seed(0)
    x = 0.5 + 0.02 * torch.randn(T, 3, h, w, generator=g)
    x[:, :, 10:20, 20:30] += torch.linspace(0, 0.3, T)[:, None, None, None]  # something that changes
    return x.clamp(0, 1)


def test_skips_without_data(tmp_path, capsys):
    assert _script().main(["--data", str(tmp_path / "absent"), "--levers"]) == 0
    assert "no data folder" in capsys.readouterr().out


def test_a_bad_setting_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _script().main(["--data", str(tmp_path), "--variants", "final:no_such_key=1"])
    assert exc.value.code == 2 and "no_such_key" in capsys.readouterr().err


def test_final_is_the_model_segment_builds_from_the_defaults():
    x = _clip()
    model, k = _script()._build(x, "final", 16)
    cfg = Config()
    ref = start(x[:16], cfg.background, pixels=cfg.model.pixels)
    assert isinstance(model, SampleState) and k == cfg.background.k
    np.testing.assert_array_equal(model.step(x[16:]).numpy(), ref.step(x[16:]).numpy())


def test_a_lever_changes_the_setting_it_names():
    mod = _script()
    x = _clip()
    plain, _ = mod._build(x, "final", 16)
    no_tex, _ = mod._build(x, "final:texture=false", 16)
    assert plain.model.tsamples is not None and no_tex.model.tsamples is None
    ref, _ = mod._build(x, "final:model=reference", 16)
    assert isinstance(ref, StaticReference)
    two, _ = mod._build(x, "final:matches=1+samples=6", 16)
    assert two.model.matches == 1 and two.model.samples.shape[0] == 6
    with pytest.raises(BgsubError):
        mod._build(x, "final:no_such_key=1", 16)


@pytest.mark.parametrize("lever", _script().LEVERS)
def test_every_lever_is_a_valid_setting_away_from_the_default(lever):
    from bgsub.config import load_config

    sets = [f"background.{kv}" for kv in lever.split("+")]
    changed = load_config(None, sets).background
    assert changed != Config().background  # each lever moves at least one setting off its default
