"""Config: defaults, YAML presets, --set overrides, strict keys and types, saving."""

from __future__ import annotations

import pytest
import yaml

from bgsub.config import Config, config_from_dict, load_config, parse_override, save_config
from bgsub.errors import BgsubError


def test_defaults_in_one_place():
    cfg = Config()
    assert cfg.input.grayscale is None and cfg.input.stride == 1  # None: each method's own choice
    assert cfg.rpca.window == 50
    assert cfg.threshold.scope == "frame"


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("train:\n  lr: 0.001\n  epochs: 10\ninput:\n  scale: 0.5\n")
    cfg = load_config(p, ["train.epochs=20", "threshold.scope=clip", "rpca.lam=1e-3"])
    assert cfg.train.lr == 0.001 and cfg.train.epochs == 20
    assert cfg.input.scale == 0.5 and cfg.threshold.scope == "clip"
    assert cfg.rpca.lam == pytest.approx(1e-3)
    assert Config().train.epochs != 20  # defaults untouched


def test_int_accepted_for_float_and_none_for_optional():
    cfg = load_config(None, ["input.scale=1", "rpca.lam=null"])
    assert cfg.input.scale == 1.0 and isinstance(cfg.input.scale, float)
    assert cfg.rpca.lam is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.nope=1", "unknown key train.nope"),
        ("nosection.lr=1", "unknown section 'nosection'"),
        ("train.epochs=1.5", "train.epochs: expected an integer"),
        ("input.grayscale=3", "input.grayscale: expected true or false"),
        ("train.lr=fast", "train.lr: expected a number"),
        ("trainlr", "expected section.key=value"),
    ],
)
def test_bad_overrides_are_errors(override, message):
    with pytest.raises(BgsubError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(None, [override])


def test_unknown_key_in_yaml_names_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("input:\n  colour: true\n")
    with pytest.raises(BgsubError, match="bad.yaml: unknown key input.colour"):
        load_config(p)


def test_missing_config_file(tmp_path):
    with pytest.raises(BgsubError, match="config file not found"):
        load_config(tmp_path / "none.yaml")


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config(None, ["train.lr=0.002", "input.stride=3"])
    path = save_config(cfg, tmp_path / "out" / "config.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["train"]["lr"] == 0.002
    assert config_from_dict(data) == cfg


def test_parse_override_yaml_values():
    assert parse_override("a.b=true") == {"a": {"b": True}}
    assert parse_override("a.b=2e-3") == {"a": {"b": 0.002}}


def test_every_preset_in_configs_loads():
    from pathlib import Path

    presets = sorted((Path(__file__).resolve().parent.parent / "bgsub" / "configs").glob("*.yaml"))
    assert len(presets) >= 2
    for p in presets:
        load_config(p)  # raises on unknown keys or wrong types
