"""The presets ship inside the package (issue 11): a wheel or a non-editable install finds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from bgsub.config import load_config, preset_names
from bgsub.errors import BgsubError

ROOT = Path(__file__).resolve().parent.parent


def test_presets_are_package_resources():
    assert {"paper", "cpu-fast"} <= set(preset_names())
    text = resources.files("bgsub.configs").joinpath("paper.yaml").read_text()
    assert "base_channels: 32" in text
    assert load_config("paper").model.base_channels == 32
    assert load_config("cpu-fast").train.schedule == "cosine"


def test_preset_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing named configs/ here
    assert load_config("paper").train.epochs == 2000
    assert load_config("paper.yaml").train.epochs == 2000


def test_user_file_still_wins_and_unknown_names_list_the_presets(tmp_path, monkeypatch):
    own = tmp_path / "paper.yaml"
    own.write_text("train:\n  epochs: 7\n")
    assert load_config(own).train.epochs == 7
    with pytest.raises(BgsubError, match=r"nope: config file not found \(presets: .*cpu-fast.*paper"):
        load_config("nope")


@pytest.mark.slow
def test_wheel_contains_the_presets(tmp_path):
    """Build a wheel from a copy of the sources (the checkout stays clean) and look inside."""
    import importlib.util

    try:
        import setuptools
    except ImportError:
        pytest.skip("no setuptools in this environment")
    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (70, 1) and not importlib.util.find_spec("wheel"):
        pytest.skip("setuptools < 70.1 needs the wheel package to build wheels")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "bgsub", src / "bgsub", ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "dist").glob("bgsub-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bgsub/configs/paper.yaml", "bgsub/configs/cpu-fast.yaml"} <= names
