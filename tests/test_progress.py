"""Progress in batch logs (issue 11): plain lines instead of redrawn bars when stderr is not a terminal,
nothing with --quiet, tqdm bars on a terminal."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from bgsub import progress as P


def test_log_progress_prints_a_plain_line_every_tenth(monkeypatch):
    buf = io.StringIO()
    bar = P.LogProgress(200, desc="train", unit="epoch", stream=buf)
    for i in range(200):
        bar.set_postfix(nuc=f"{i}")
        bar.update(1)
    bar.close()
    lines = buf.getvalue().splitlines()
    assert "\r" not in buf.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("train: 20/200 epoch (10%)") and "nuc=19" in lines[0]
    assert lines[-1].startswith("train: 200/200 epoch (100%)")


def test_log_progress_prints_on_a_time_interval_too(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    buf = io.StringIO()
    bar = P.LogProgress(10_000, desc="rpca-ialm", unit="frame", stream=buf)
    for _ in range(30):  # 0.3% of the total, but 31 s apart
        clock[0] += 31.0
        bar.update(1)
    assert len(buf.getvalue().splitlines()) == 30
    assert "elapsed" in buf.getvalue() and "left" in buf.getvalue()


def test_unknown_total_and_close_prints_the_last_figures():
    buf = io.StringIO()
    bar = P.LogProgress(None, desc="x", unit="frame", stream=buf)
    bar.update(3)
    bar.close()
    bar.close()
    assert buf.getvalue().splitlines() == [buf.getvalue().splitlines()[0]]
    assert buf.getvalue().startswith("x: 3 frame,")


def test_terminal_gets_a_tqdm_bar_and_quiet_gets_nothing(monkeypatch):
    from tqdm import tqdm

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    bar = P.progress(5, desc="d")
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(P.progress(5, desc="d"), P.LogProgress)
    P.set_quiet(True)
    try:
        bar = P.progress(5, desc="d")
        for _ in range(5):
            bar.update(1)
        bar.close()
        assert sys.stderr.getvalue() == ""
    finally:
        P.set_quiet(False)


def _train_args(clip, out):
    return ["train", clip, "-o", out, "--epochs", "20", "--frames", "4", "--device", "cpu",
            "--set", "model.depth=1", "--set", "model.base_channels=4"]


def test_train_and_rpca_write_plain_progress_lines_into_a_log(tmp_path, small_clip, cli):
    r = cli(*_train_args(small_clip, tmp_path / "m.pt"))
    assert r.code == 0, r.stderr
    assert "\r" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("train: ")]
    assert len(lines) == 10 and re.match(r"train: 2/20 epoch \(10%\), .* loss=", lines[0]), lines[:2]
    r = cli("rpca", small_clip, "-o", tmp_path / "r", "--window", "20", "--max-iter", "3")
    assert r.code == 0 and "\r" not in r.stderr
    assert re.search(r"^rpca-ialm: 40/40 frame \(100%\)", r.stderr, re.M), r.stderr


def test_quiet_silences_progress(tmp_path, small_clip, cli):
    r = cli("--quiet", *_train_args(small_clip, tmp_path / "m.pt"))
    assert r.code == 0 and r.stderr == ""
    r = cli("--quiet", "rpca", small_clip, "-o", tmp_path / "r", "--window", "20", "--max-iter", "3")
    assert r.code == 0 and r.stderr == ""


def test_a_real_log_file_has_no_carriage_returns(tmp_path, small_clip):
    log = tmp_path / "log"
    with open(log, "w") as f:
        p = subprocess.run([sys.executable, "-m", "bgsub", "rpca", str(small_clip), "-o", str(tmp_path / "r"),
                            "--window", "20", "--max-iter", "3"], stderr=f, stdout=subprocess.PIPE, timeout=120)
    assert p.returncode == 0
    text = log.read_text()
    assert "\r" not in text and "rpca-ialm: 40/40 frame (100%)" in text
