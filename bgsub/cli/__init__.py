"""The ``bgsub`` command: a thin Typer layer over :mod:`bgsub.api`.

Each command lives in its own module under ``bgsub/cli/`` and registers itself on :data:`app`. Results go to
stdout (a rich table, or JSON with ``--json``); progress and logs go to stderr. Exit codes: 0 success,
1 expected failure (one-line message, no traceback), 2 usage error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import sys
from typing import Optional

from bgsub.cli.common import app
from bgsub.errors import BgsubError

# Importing a command module registers its commands on `app`.
from bgsub.cli import evaluate as _evaluate  # noqa: F401,E402
from bgsub.cli import synth as _synth  # noqa: F401,E402
from bgsub.cli import rpca as _rpca  # noqa: F401,E402
from bgsub.cli import unet as _unet  # noqa: F401,E402
from bgsub.cli import benchmark as _benchmark  # noqa: F401,E402
from bgsub.cli import batch as _batch  # noqa: F401,E402


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the console script and of ``python -m bgsub``."""
    from bgsub.runtime import quiet_ffmpeg, tune

    tune()  # machine-dependent process settings (NumPy's huge-page advice where it stalls: bgsub.runtime)
    quiet_ffmpeg()  # errors in bgsub's one line, not FFmpeg's log
    try:
        app(args=argv, prog_name="bgsub")
    except BgsubError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"bgsub: error: {exc}\n")
        sys.exit(1)
    except OSError as exc:  # a file-system failure no check caught: still one line, never a traceback
        sys.stdout.flush()
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"bgsub: error: {where}{(exc.strerror or str(exc) or type(exc).__name__).lower()}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("bgsub: interrupted\n")
        sys.exit(130)


def console() -> None:
    """The console script and ``python -m bgsub``: :func:`main`, then a fast exit. The interpreter's teardown
    after torch is imported (every module and object freed one by one) takes about 0.35 s, a seventh of a
    90-frame job's whole time (README, tenth session); the work is all done by then. So: flush Python's and C's
    output buffers, run the atexit handlers (logging's flush, Ray's shutdown), then ``os._exit`` with the exit
    code. When a thread that is not a daemon is still running (Python would wait for it), the exit is the normal
    one. :func:`main` itself (the API the tests call) exits normally."""
    code: object = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    fast_exit(code)


def fast_exit(code: object) -> None:
    """Exit with ``code`` (as :class:`SystemExit` reads it: None is 0, a string is printed to stderr and is 1)
    without the interpreter's teardown (see :func:`console`)."""
    import atexit
    import os
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or a closed stream: nothing more to say
            pass
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)  # C libraries' stdio buffers
    except (OSError, AttributeError):
        pass
    os._exit(code)


__all__ = ["app", "console", "fast_exit", "main"]
