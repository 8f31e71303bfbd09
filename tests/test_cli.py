"""The command surface: help, version, not-yet-implemented commands, synth, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def _run(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kw)


def test_the_fast_exit_flushes_output_keeps_the_code_and_waits_for_running_threads(tmp_path):
    """bgsub.cli.fast_exit (the console script's exit, skipping the interpreter's teardown): buffered stdout (far
    more than one buffer, no newline at the end) arrives whole, the atexit handlers run, the exit code is kept
    (a string is printed and exits 1), and a thread that is not a daemon still running makes it the normal exit,
    which waits for the thread."""
    r = _run("import sys, atexit\n"
             "from bgsub.cli import fast_exit\n"
             "atexit.register(lambda: sys.stderr.write('atexit ran'))\n"
             "sys.stdout.write('x' * 200000)\n"
             "fast_exit(3)\n")
    assert r.returncode == 3 and r.stdout == "x" * 200000 and r.stderr == "atexit ran"
    r = _run("from bgsub.cli import fast_exit\nfast_exit('bgsub: gave up')\n")
    assert r.returncode == 1 and r.stderr == "bgsub: gave up\n"
    done = tmp_path / "done"
    r = _run("import threading, time\n"
             "from bgsub.cli import fast_exit\n"
             f"t = threading.Thread(target=lambda: (time.sleep(0.5), open({str(done)!r}, 'w').write('1')))\n"
             "t.start()\n"
             "fast_exit(4)\n")
    assert r.returncode == 4 and done.read_text() == "1"


def test_the_console_script_exits_with_the_command_s_code(tmp_path):
    """``python -m bgsub`` (the console entry, :func:`bgsub.cli.console`): 0 with the whole JSON on stdout, 1 with
    one line on stderr for a missing input, 2 for a usage error."""
    ok = subprocess.run([sys.executable, "-m", "bgsub", "synth", str(tmp_path / "clip"), "--frames", "12",
                         "--height", "24", "--width", "32", "--json"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and json.loads(ok.stdout)
    bad = subprocess.run([sys.executable, "-m", "bgsub", "segment", str(tmp_path / "nope"), "-o",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("bgsub: error:")
    usage = subprocess.run([sys.executable, "-m", "bgsub", "segment", "--bogus"], capture_output=True, text=True,
                           timeout=300)
    assert usage.returncode == 2


@pytest.mark.parametrize("value", ["4", "-3"])
def test_an_even_or_negative_median_filter_is_refused_before_anything_is_written(cli, small_clip, tmp_path, value):
    """``threshold.median`` (5 by default): an even or negative size is a one-line error naming the key, before a
    frame is read; nothing is written."""
    out = tmp_path / "masks"
    r = cli("segment", str(small_clip), "-o", str(out), "--set", f"threshold.median={value}")
    assert r.code != 0
    assert "threshold.median must be an odd number of pixels" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()

