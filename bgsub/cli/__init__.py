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


__all__ = ["app", "main"]
