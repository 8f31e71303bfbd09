"""Atomic file writes: write to a hidden temporary file in the same folder, then rename over the target.

A crash or Ctrl-C leaves either the old file or the new one, never half of one. The temporary file is named
``.STEM.PID.RANDOM.tmpSUFFIX``; a process killed outright (kill -9, out of memory) cannot delete its own, so the
first write of a later process into the same folder deletes the temporary files of processes that no longer run
(:func:`sweep_stale`).

Every failure of the file system (a file where a folder should be, a read-only or special file system, a full
disk) becomes a one-line :class:`~bgsub.errors.BgsubError` naming the path, and nothing is left behind.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

from bgsub.errors import BgsubError

_TEMP = re.compile(r"^\..*\.(\d+)\.[A-Za-z0-9_]{8}\.tmp(\.[^.]*)?$")
_swept: set[str] = set()


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno in (errno.EROFS,):
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    text = exc.strerror or str(exc) or exc.__class__.__name__
    return text[:1].lower() + text[1:]


def _blocking_file(folder: Path) -> Path | None:
    """The first ancestor of ``folder`` (itself included) that exists and is not a folder, if any."""
    for p in [folder, *folder.parents]:
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def ensure_dir(folder: os.PathLike | str, *, what: str = "") -> Path:
    """Create ``folder`` (and its parents); any failure -> :class:`BgsubError` ``<folder>: <problem>``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        block = _blocking_file(folder)
        target = what or str(folder)
        if block is not None:
            raise BgsubError(f"{target}: {block} is a file, not a folder") from None
        raise BgsubError(f"{target}: cannot create folder {folder} ({_reason(exc)})") from None
    return folder


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is not ours
        return True
    return True


def sweep_stale(folder: os.PathLike | str) -> int:
    """Delete the temporary files that processes no longer running left in ``folder``; returns how many."""
    n = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        m = _TEMP.match(e.name)
        if m and not _alive(int(m.group(1))):
            try:
                os.unlink(e.path)
                n += 1
            except OSError:
                pass
    return n


_MARKER = re.compile(r"^\.bgsub-[a-z]+-(\d+)-[0-9a-f]+$")


def make_marker(folder: os.PathLike | str, kind: str) -> Path:
    """Create the hidden marker file ``folder/.bgsub-KIND-PID-HEX`` that tells workers they see the driver's
    folder, after deleting the markers of runs whose process is gone (a run killed with -9 cannot delete its own).
    Markers of runs still alive on this machine are left alone."""
    import uuid

    folder = Path(folder)
    try:
        for e in os.scandir(folder):
            m = _MARKER.match(e.name)
            if m and not _alive(int(m.group(1))):
                try:
                    os.unlink(e.path)
                except OSError:
                    pass
    except OSError:
        pass
    marker = folder / f".bgsub-{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    marker.touch()
    return marker


def check_writable(path: os.PathLike | str) -> Path:
    """Fail early, before any work, when the file ``path`` could not be written: its folder is created and a
    temporary file is made and removed there. Raises :class:`BgsubError` ``<path>: <problem>``."""
    path = Path(path)
    fd, tmp = _open_temp(path)  # the same temporary file a write would make, in the same place
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError as exc:
        raise BgsubError(f"{path}: cannot write ({_reason(exc)})") from None
    return path


def _open_temp(path: Path) -> tuple[int, str]:
    """Create ``path``'s hidden temporary file ``.STEM.PID.RANDOM.tmpSUFFIX`` beside it (its folder created,
    stale temporaries of dead processes swept on the first write into a folder); returns (descriptor, name).
    Created like ``open(path, "w")`` does (mode 0o666 less the umask), so the file moved into place has the
    permissions a plain write would give it (``tempfile.mkstemp``'s 0o600 would make every output private).
    A folder written into before by this process is not checked again (the per-mask path: one ``open`` here);
    one removed since is created again."""
    key = os.path.abspath(path.parent)
    if key not in _swept:
        folder = ensure_dir(path.parent, what=str(path))
        sweep_stale(folder)
        _swept.add(key)
        if path.is_dir():
            raise BgsubError(f"{path}: is a folder, expected a file name")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    again = True
    while True:
        tmp = os.path.join(key, f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:  # the folder was removed while we wrote into it
            if not again:
                raise BgsubError(f"{path}: cannot write (no such folder)") from None
            again = False
            ensure_dir(path.parent, what=str(path))
        except OSError as exc:
            raise BgsubError(f"{path}: cannot write ({_reason(exc)})") from None


def _finish(path: Path, tmp: str, produce) -> Path:
    """Run ``produce()`` (which fills ``tmp``), then move ``tmp`` over ``path``. Any failure removes ``tmp``; an
    ``OSError`` becomes a one-line :class:`BgsubError` naming ``path``."""
    try:
        produce()
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, IsADirectoryError) or (isinstance(exc, OSError) and os.path.isdir(path)):
            raise BgsubError(f"{path}: is a folder, expected a file name") from None
        if isinstance(exc, OSError):
            raise BgsubError(f"{path}: cannot write ({_reason(exc)})") from None
        raise
    return path


def atomic_save(path: os.PathLike | str, writer) -> Path:
    """Call ``writer(tmp_path)`` to produce the file, then move it into place.

    Used for writers that need a file name (``cv2.VideoWriter``); the temporary name keeps the target's suffix
    so format detection by extension still works. An ``OSError`` (here or in ``writer``) becomes a one-line
    :class:`BgsubError`; the temporary file is removed on any failure.
    """
    path = Path(path)
    fd, tmp = _open_temp(path)
    os.close(fd)
    return _finish(path, tmp, lambda: writer(tmp))


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (one open of the temporary file: this is the per-mask path)."""
    path = Path(path)
    fd, tmp = _open_temp(path)

    def write() -> None:
        with open(fd, "wb") as f:
            f.write(data)

    return _finish(path, tmp, write)  # open() owns fd from there: closed on leaving the with block
