"""Shared fixtures: small synthetic clips made by the tests themselves, and an in-process CLI runner."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

# Oversubscribed BLAS/torch threads are slow on small CI machines; tests are sized for one thread each.
torch.set_num_threads(max(1, int(os.environ.get("BGSUB_TEST_THREADS", "1"))))

# Property tests draw the same examples on every run (a red CI run must mean a change broke something, not that
# a random draw found an old corner: the SVT test once failed that way); BGSUB_HYPOTHESIS=explore draws anew.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("fixed", derandomize=True)
    _hypothesis_settings.register_profile("explore", derandomize=False)
    _hypothesis_settings.load_profile(os.environ.get("BGSUB_HYPOTHESIS", "fixed"))
except ImportError:  # the property tests skip without hypothesis
    pass

from bgsub.synth import synth  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str):
    """``scripts/NAME.py`` imported as a module (the scripts are not a package), for tests of their functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run ``bgsub ARGS`` in-process; returns exit code, stdout and stderr."""
    from bgsub.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            from bgsub.progress import set_quiet

            set_quiet(False)  # --quiet is process-wide: one in-process call must not silence the next test
    return CliResult(code, out.getvalue(), err.getvalue())


def read_masks(folder: Path) -> dict:
    """The ``bin*.png`` masks of ``folder`` by file name, each asserted to be a complete, readable PNG."""
    import cv2

    out = {}
    for f in sorted(folder.glob("bin*.png")):
        a = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        assert a is not None, f"{f} is not a complete PNG"
        out[f.name] = a
    return out


def segment_json(source, out, sets=(), summary=None):
    """``bgsub --quiet segment SOURCE -o OUT --json --set S ...`` (each of ``sets``), asserted to succeed; its JSON
    summary merged into ``summary`` when given. Returns ``out``."""
    import json

    args = ["--quiet", "segment", str(source), "-o", str(out), "--json"]
    for e in sets:
        args += ["--set", e]
    r = run_cli(*args)
    assert r.code == 0, r.stderr
    if summary is not None:
        summary.update(json.loads(r.stdout))
    return out


def f_between(out, gt, first, last):
    """The F-measure of the masks OUT/bin%06d.png against GT/groundtruth/gt%06d.png over frames ``first`` to
    ``last`` (CDnet's convention, summed over the frames; 255 foreground)."""
    import cv2

    tp = fp = fn = 0
    for k in range(first, last + 1):
        g = cv2.imread(str(gt / "groundtruth" / f"gt{k:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        p = cv2.imread(str(out / f"bin{k:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        tp += int((g & p).sum())
        fp += int((~g & p).sum())
        fn += int((g & ~p).sum())
    return 2 * tp / max(2 * tp + fp + fn, 1)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def small_clip(tmp_path_factory) -> Path:
    """A 64x48, 40-frame synthetic clip in the CDnet layout (read-only: copy before modifying)."""
    out = tmp_path_factory.mktemp("clip") / "seq"
    synth(out, height=48, width=64, frames=40, seed=1)
    return out


@pytest.fixture(scope="session")
def medium_clip(tmp_path_factory) -> Path:
    """A 96x128, 80-frame synthetic clip for end-to-end method tests (read-only)."""
    out = tmp_path_factory.mktemp("clip") / "seq"
    synth(out, height=96, width=128, frames=80, seed=2)
    return out


@pytest.fixture(scope="session")
def ray_engine():
    """One embedded local Ray instance (2 CPUs, 2 workers of 1 CPU) for the whole session, started through the
    Ray engine; tests that make their own ``make_engine("ray")`` join it. Shut down (and checked) at the end.
    Skipped when Ray is not installed."""
    ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'bgsub[ray]')")
    from bgsub.engines import make_engine

    assert not ray.is_initialized()
    eng = make_engine("ray", workers=2, cpus_per_job=1)
    yield eng
    eng.close()
    assert not ray.is_initialized()  # the engine that started it stopped it
