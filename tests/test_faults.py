"""kill -9 in the middle of a run, then the same command again (issue 11). Real subprocesses, real signals,
small synthetic clips, short runs."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bgsub.synth import synth
from conftest import read_masks  # tests/ is on sys.path (rootdir conftest, no __init__.py)

pytestmark = pytest.mark.slow

TINY = ["--set", "model.depth=1", "--set", "model.base_channels=4", "--device", "cpu"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "BGSUB_TEST_THREADS": "1"}


def _run(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "bgsub", "--quiet", *map(str, args)], capture_output=True, text=True,
                       env=_env(), timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p


def _kill_when(args: list, ready, timeout: float = 120.0) -> None:
    """Start ``bgsub ARGS``, wait until ``ready()`` holds, then SIGKILL it (it must still be running)."""
    p = subprocess.Popen([sys.executable, "-m", "bgsub", "--quiet", *map(str, args)], env=_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    try:
        while not ready():
            if p.poll() is not None:
                pytest.fail(f"finished before it could be killed (rc {p.returncode}): {p.stderr.read()[-500:]!r}")
            if time.monotonic() - t0 > timeout:
                pytest.fail("never reached the point to kill it at")
            time.sleep(0.005)
        os.kill(p.pid, signal.SIGKILL)
        assert p.wait(30) == -signal.SIGKILL
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()




def _hidden(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def _history(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "seq"
    synth(out, height=32, width=48, frames=120, seed=3)
    return out


def _epoch_of(ck: Path) -> int:
    from bgsub.training import load_checkpoint

    return load_checkpoint(ck)[2].epoch


def _segment_in_process(clip: Path, model: Path, out: Path) -> dict[str, np.ndarray]:
    from bgsub.config import load_config
    from bgsub.pipelines.unet import segment

    segment(clip, out, model=model, cfg=load_config(None, ["segment.device=cpu"]), progress=False)
    return read_masks(out)


TRAIN = ["--frames", "6", "--seed", "4", *TINY, "--set", "train.save_every=5", "--set", "train.bf16=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, clip) -> Path:
    """The uninterrupted run (in-process: the same code path as the command)."""
    from bgsub.cli.common import resolve_config
    from bgsub.pipelines.unet import train

    out = tmp_path_factory.mktemp("full") / "full.pt"
    cfg = resolve_config(None, ["model.depth=1", "model.base_channels=4", "train.save_every=5", "train.bf16=false"],
                         train__frames=6, train__seed=4, train__device="cpu")
    train(clip, out, cfg=cfg, epochs=EPOCHS, progress=False)
    return out


EPOCHS = 120


def test_train_killed_then_resumed_equals_an_uninterrupted_run(tmp_path, clip, trained):
    ck = tmp_path / "part.pt"
    _kill_when(["train", clip, "-o", ck, "--epochs", EPOCHS, *TRAIN], lambda: ck.exists())
    done = _epoch_of(ck)
    assert 0 < done < EPOCHS  # killed mid-run, after its first checkpoint
    _run("train", clip, "-o", ck, "--resume")

    full_history = _history(trained.with_name("full.history.csv"))
    assert len(full_history) == EPOCHS
    assert _history(tmp_path / "part.history.csv") == full_history
    a = _segment_in_process(clip, trained, tmp_path / "full-masks")
    b = _segment_in_process(clip, ck, tmp_path / "part-masks")
    assert a.keys() == b.keys() and len(a) == 120
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert _hidden(tmp_path) == []


def test_resume_before_the_first_checkpoint_says_how_to_start(tmp_path, clip):
    ck = tmp_path / "m.pt"
    side = tmp_path / "m.config.yaml"
    _kill_when(["train", clip, "-o", ck, "--epochs", "100000", *TRAIN,
                "--set", "train.save_every=0", "--set", "train.save_seconds=0"], lambda: side.exists())
    assert not ck.exists()
    p = subprocess.run([sys.executable, "-m", "bgsub", "train", str(clip), "-o", str(ck), "--resume"],
                       capture_output=True, text=True, env=_env(), timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1
    assert "stopped before it saved its first checkpoint" in p.stderr
    assert "start it again without --resume" in p.stderr


@pytest.mark.parametrize("command", ["rpca", "segment"])
def test_killed_mask_writers_leave_no_partial_file_and_the_rerun_completes(tmp_path, clip, trained, command):
    if command == "segment":
        args = ["segment", clip, "-m", trained, "--device", "cpu", "--batch", "2"]
        full = _segment_in_process(clip, trained, tmp_path / "full")
    else:
        from bgsub.api import rpca
        from bgsub.config import load_config

        args = ["rpca", clip, "--window", "10", "--max-iter", "30", "--device", "cpu"]
        rpca(clip, tmp_path / "full", load_config(None, ["rpca.window=10", "rpca.max_iter=30", "rpca.device=cpu"]),
             progress=False)
        full = read_masks(tmp_path / "full")
    out = tmp_path / "out"
    _kill_when([*args, "-o", out], lambda: out.is_dir() and len(list(out.glob("bin*.png"))) >= 20)
    partial = read_masks(out)  # every visible mask is a complete PNG
    assert 20 <= len(partial) < 120
    assert all(np.array_equal(partial[k], full[k]) for k in partial)
    _run(*args, "-o", out)
    again = read_masks(out)
    assert again.keys() == full.keys() and all(np.array_equal(again[k], full[k]) for k in full)
    assert _hidden(out) == []  # temporary files of the killed process are gone


def test_killed_benchmark_keeps_finished_pairs_and_the_rerun_completes(tmp_path, clip):
    out = tmp_path / "bench"
    args = ["benchmark", clip, "-m", "mog2,rpca-ialm,knn", "-o", out, "--contact", "0",
            "--set", "rpca.max_iter=30", "--set", "rpca.window=20", "--set", "rpca.device=cpu"]
    results = out / "results.json"
    _kill_when(args, lambda: results.exists() and len(json.loads(results.read_text() or "{}").get("records", [])) >= 1)
    first = json.loads(results.read_text())  # a complete JSON file, never half of one
    assert 1 <= len(first["records"]) < 3 and all(r["status"] == "ok" for r in first["records"])
    p = subprocess.run([sys.executable, "-m", "bgsub", "benchmark", *map(str, args[1:]), "--json"],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["skipped"] >= len(first["records"]) and res["ran"] + res["skipped"] == 3
    assert sorted(r["method"] for r in res["records"] if r["status"] == "ok") == ["knn", "mog2", "rpca-ialm"]
    assert _hidden(out) == []


def test_checkpoints_are_also_saved_on_a_time_interval(tmp_path, monkeypatch):
    import torch

    import bgsub.training as T
    from bgsub.config import load_config

    cfg = load_config(None, ["model.reference=false", "input.grayscale=true", "train.device=cpu", "model.depth=1", "model.base_channels=4", "train.epochs=6",
                             "train.frames=3", "train.save_every=0", "train.save_seconds=1e-9"])
    saved = []
    monkeypatch.setattr(T, "save_checkpoint", lambda path, model, cfg, state: saved.append(state.epoch))
    T.train_model(T.build_model(cfg), torch.rand(3, 1, 16, 16), cfg, checkpoint=tmp_path / "m.pt", progress=False)
    assert saved == [1, 2, 3, 4, 5, 6]
    saved.clear()
    cfg = load_config(None, ["train.save_seconds=0"], base=cfg)
    T.train_model(T.build_model(cfg), torch.rand(3, 1, 16, 16), cfg, checkpoint=tmp_path / "m.pt", progress=False)
    assert saved == [6]  # only the last epoch
