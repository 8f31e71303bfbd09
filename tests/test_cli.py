"""The command surface: help, version, not-yet-implemented commands, synth, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from bgsub import __version__


def test_help_lists_commands(cli):
    r = cli("--help")
    assert r.code == 0
    for name in ("train", "polish", "rpca", "segment", "evaluate", "synth"):
        assert name in r.stdout


def test_version(cli):
    r = cli("--version")
    assert r.code == 0 and r.stdout.strip() == f"bgsub {__version__}"


def test_synth_json_and_evaluate_pipe(tmp_path, cli):
    r = cli("synth", tmp_path / "clip", "--frames", "12", "--height", "32", "--width", "40", "--json")
    assert r.code == 0
    info = json.loads(r.stdout)
    assert info["frames"] == 12 and (tmp_path / "clip" / "input" / "in000012.png").is_file()
    r = cli("synth", tmp_path / "clip2", "--frames", "1")
    assert r.code == 2  # usage error: below the minimum


def test_python_m_bgsub_runs():
    out = subprocess.run([sys.executable, "-m", "bgsub", "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and __version__ in out.stdout
