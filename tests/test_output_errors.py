"""Output paths that cannot be written (issue 11): every command answers ``bgsub: error: <path>: <problem>``,
exit 1, no traceback, and leaves nothing half-written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bgsub.errors import BgsubError


def _one_line_error(r, *needles: str) -> None:
    assert r.code == 1, (r.code, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("bgsub: error: "), r.stderr
    assert sum(ln.startswith("bgsub: error: ") for ln in lines) == 1
    for n in needles:
        assert n in lines[-1], lines[-1]


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def model(tmp_path_factory, small_clip) -> Path:
    from bgsub.config import load_config
    from bgsub.pipelines.unet import train

    out = tmp_path_factory.mktemp("model") / "m.pt"
    cfg = load_config(None, ["train.frames=4", "train.epochs=1", "train.device=cpu", "model.depth=1",
                             "model.base_channels=4", "segment.device=cpu"])
    train(small_clip, out, cfg=cfg, progress=False)
    return out


def _commands(clip: Path, model: Path, target: Path) -> dict[str, list]:
    return {
        "train": ["train", clip, "-o", target / "m.pt", "--epochs", "1", "--frames", "4", "--device", "cpu"],
        "segment": ["segment", clip, "-m", model, "-o", target / "masks"],
        "overlay": ["segment", clip, "-m", model, "-o", target.parent / "ok-masks", "--overlay", target / "o.avi"],
        "rpca": ["rpca", clip, "-o", target / "masks", "--window", "40", "--max-iter", "5"],
        "synth": ["synth", target / "clip", "-n", "3", "--height", "16", "--width", "16"],
        "benchmark": ["benchmark", clip, "-m", "mog2", "-o", target / "bench"],
        "polish": ["polish", model, clip, "-o", target / "p.pt", "--steps", "1"],
    }


@pytest.mark.parametrize("command", ["train", "segment", "overlay", "rpca", "synth", "benchmark", "polish"])
def test_a_file_where_a_folder_should_be(tmp_path, cli, small_clip, model, command):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    before = _listing(tmp_path)
    r = cli(*_commands(small_clip, model, blocker)[command])
    _one_line_error(r, str(blocker))
    assert blocker.read_text() == "not a folder"
    after = _listing(tmp_path) - before
    assert not [p for p in after if not p.startswith("ok-masks")], after  # nothing but the overlay's masks
    assert not [p for p in _listing(tmp_path) if Path(p).name.startswith(".")]


@pytest.mark.parametrize("command", ["train", "segment", "rpca", "synth", "benchmark"])
def test_a_special_file_system(cli, small_clip, model, command):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    r = cli(*_commands(small_clip, model, Path("/proc"))[command])
    _one_line_error(r, "/proc/")


def test_deeper_under_a_file(tmp_path, cli, small_clip):
    blocker = tmp_path / "somefile"
    blocker.write_text("x")
    r = cli("rpca", small_clip, "-o", blocker / "a" / "b", "--max-iter", "2")
    _one_line_error(r, f"{blocker} is a file, not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(tmp_path, cli, small_clip):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = cli("rpca", small_clip, "-o", ro / "masks", "--max-iter", "2")
        _one_line_error(r, str(ro / "masks"))
    finally:
        ro.chmod(0o755)


class _FullDisk:
    """Stands in for ``open`` in bgsub.io.atomic: every write fails as on a full disk."""

    def __init__(self, *a, **k):
        self.f = open(*a, **k)

    def write(self, data):
        self.f.write(data[: len(data) // 2])  # half of it made it to the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("command", ["train", "rpca", "synth"])
def test_a_full_disk_leaves_nothing_half_written(tmp_path, cli, small_clip, model, monkeypatch, command):
    import bgsub.io.atomic as atomic

    monkeypatch.setattr(atomic, "open", _FullDisk, raising=False)
    out = tmp_path / "out"
    out.mkdir()
    r = cli(*_commands(small_clip, model, out)[command])
    _one_line_error(r, "no space left on the device")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files == [], files  # no partial file, no temporary file


def test_atomic_save_names_the_path_for_any_os_error(tmp_path):
    from bgsub.io.atomic import atomic_write_bytes

    (tmp_path / "f").write_text("x")
    with pytest.raises(BgsubError, match=r"f/m\.pt: .*f is a file, not a folder"):
        atomic_write_bytes(tmp_path / "f" / "m.pt", b"data")
    with pytest.raises(BgsubError, match=r"is a folder, expected a file name"):
        atomic_write_bytes(tmp_path, b"data")


def test_a_folder_written_into_before_is_not_checked_again_but_errors_stay_one_line(tmp_path):
    """After the first write into a folder the per-mask path opens the temporary file only: a target that is a
    folder is still named as such (from the failed move, its temporary file removed), and a folder removed
    meanwhile is created again."""
    import shutil

    from bgsub.io.atomic import atomic_write_bytes

    out = tmp_path / "out"
    atomic_write_bytes(out / "bin000001.png", b"one")
    (out / "bin000002.png").mkdir()
    with pytest.raises(BgsubError, match=r"bin000002\.png: is a folder, expected a file name"):
        atomic_write_bytes(out / "bin000002.png", b"two")
    assert sorted(p.name for p in out.iterdir()) == ["bin000001.png", "bin000002.png"]  # no temporary left
    shutil.rmtree(out)
    atomic_write_bytes(out / "bin000003.png", b"three")
    assert (out / "bin000003.png").read_bytes() == b"three"
