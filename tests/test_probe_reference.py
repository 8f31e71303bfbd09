"""scripts/probe_reference.py (the surf note's probe): skips without data, and its k column agrees with the
`reference` method scored by the benchmark's own code on a generated sequence."""

from __future__ import annotations


import pytest

from bgsub.config import Config
from bgsub.synth import synth

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)


def _script():
    return load_script("probe_reference")


def test_skips_without_data(tmp_path, capsys):
    assert _script().main(["--data", str(tmp_path / "absent")]) == 0
    assert "no data folder" in capsys.readouterr().out


def test_k_column_matches_reference_method(tmp_path, capsys):
    from bgsub.pipelines.benchmark import run_one

    data = tmp_path / "data"
    synth(data / "clip", frames=40, height=48, width=64, seed=2)
    cfg = Config()
    cfg.input.grayscale = False
    cfg.threshold.median = 0  # the script scores the thresholded z itself, before any filter of the masks
    cfg.threshold.fill = False
    rec = run_one("reference", data / "clip", tmp_path / "ref", cfg=cfg, seed=0)
    assert _script().main(["--data", str(data), "--sequences", "clip", "--ks", "6", "--window", "5"]) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| clip |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == 1 + 1 + 5  # name, k = 6, best k, recent, both, two modes, low rank
    assert float(cells[1]) == pytest.approx(rec["scores"]["f_measure"], abs=5e-4)
    for c in cells[3:]:
        assert 0.0 <= float(c) <= 1.0
