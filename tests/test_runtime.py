"""bgsub.runtime: NumPy's huge-page advice switched off exactly where the kernel's THP policy compacts memory in the
page fault (fake sysfs files), and never against a user's own NUMPY_MADVISE_HUGEPAGE; FFmpeg's log kept off bgsub's
stderr."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from bgsub import runtime


def sysfs(tmp_path, enabled: str, defrag: str):
    (tmp_path / "enabled").write_text(enabled + "\n")
    (tmp_path / "defrag").write_text(defrag + "\n")
    return tmp_path


@pytest.mark.parametrize("enabled,defrag,stalls", [
    ("always [madvise] never", "always defer defer+madvise [madvise] never", True),  # the common default
    ("[always] madvise never", "[always] defer defer+madvise madvise never", True),
    ("always [madvise] never", "always defer [defer+madvise] madvise never", True),
    ("always [madvise] never", "always [defer] defer+madvise madvise never", False),  # khugepaged, not the fault
    ("always [madvise] never", "always defer defer+madvise madvise [never]", False),
    ("always madvise [never]", "always defer defer+madvise [madvise] never", False),  # no huge pages at all
])
def test_the_policy_is_read_from_the_bracketed_choice(tmp_path, enabled, defrag, stalls):
    assert runtime.hugepage_advice_stalls(sysfs(tmp_path, enabled, defrag)) is stalls


def test_unreadable_files_mean_no_stall(tmp_path):
    assert runtime.hugepage_advice_stalls(tmp_path / "absent") is False


def current_numpy_advice() -> bool:
    was = runtime._set_numpy_hugepage(True)
    runtime._set_numpy_hugepage(was)
    return was


def test_tune_switches_numpy_advice_off_where_it_stalls(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "unset by the test")  # recorded, so the variable tune sets is undone
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE")
    before = current_numpy_advice()
    try:
        runtime._set_numpy_hugepage(True)
        assert runtime.tune(sysfs(tmp_path, "always [madvise] never", "always defer [madvise] never")) is True
        assert current_numpy_advice() is False
        import os

        assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "0"  # for the processes a run starts
        np.ones(2_000_000, np.float32).sum()  # NumPy still allocates and computes
    finally:
        runtime._set_numpy_hugepage(before)


def test_tune_leaves_numpy_alone_where_nothing_stalls_or_the_user_chose(tmp_path, monkeypatch):
    before = current_numpy_advice()
    try:
        runtime._set_numpy_hugepage(True)
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
        assert runtime.tune(sysfs(tmp_path, "always [madvise] never", "always [defer] madvise never")) is False
        assert current_numpy_advice() is True
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
        assert runtime.tune(sysfs(tmp_path, "always [madvise] never", "always defer [madvise] never")) is False
        assert current_numpy_advice() is True
    finally:
        runtime._set_numpy_hugepage(before)


def test_an_undecodable_video_gives_one_line_and_no_ffmpeg_log(tmp_path):
    """A file with a video's name that FFmpeg cannot parse: bgsub's own one-line error on stderr, without FFmpeg's
    ``[mov,mp4,...] moov atom not found`` above it, exit 1, nothing written."""
    import subprocess

    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all " * 20)
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    r = subprocess.run([sys.executable, "-m", "bgsub", "segment", str(bad), "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [f"bgsub: error: {bad}: not a video OpenCV can decode (nor a folder of images)"], r.stderr
    assert not (tmp_path / "out").exists()
