"""scripts/probe_recurrence.py (issue 18's recurrence probe): its two estimates on a hand-made pixel, and a clean
skip without data."""

from __future__ import annotations

import numpy as np

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)


def _script():
    return load_script("probe_recurrence")


def test_a_resting_leaf_is_the_longest_run_and_the_scene_the_most_recurrent():
    """One pixel (1 x 1, three channels), 40 frames: the scene (value 100) shown three times for 4 frames, each
    time after a different passing leaf (30, 50, 70 for 4 frames each), then a leaf (20) resting for 16 frames.
    Longest still run: the leaf (16 frames); most recurrent: the scene (3 runs within tol of each other)."""
    series = [100] * 4 + [30] * 4 + [100] * 4 + [50] * 4 + [100] * 4 + [70] * 4 + [20] * 16
    x = np.asarray(series, np.float32)[:, None, None, None].repeat(3, axis=1)  # (T, C, 1, 1)
    longest, recurrent = _script().estimates(x, tol=6.0, min_run=3)
    assert longest.shape == (3, 1, 1) and np.allclose(longest[:, 0, 0], 20.0)
    assert np.allclose(recurrent[:, 0, 0], 100.0)


def test_a_pixel_with_no_still_run_has_no_estimate():
    x = (np.arange(10, dtype=np.float32) * 20.0)[:, None, None, None].repeat(3, axis=1)  # changes 20 a frame
    longest, recurrent = _script().estimates(x, tol=6.0, min_run=3)
    assert np.isnan(longest).all() and np.isnan(recurrent).all()


def test_skips_an_absent_sequence(tmp_path, capsys):
    assert _script().main(["--data", str(tmp_path / "absent"), "--sequences", "sbi-foliage"]) == 0
    assert "absent, skipped" in capsys.readouterr().err
