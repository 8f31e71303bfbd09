"""The engine interface: submit independent jobs, iterate their outcomes as they finish.

An engine knows nothing of background subtraction. A *job* is a plain function and its arguments (picklable,
module-level, so that another process can import it); the engine runs it and hands back an :class:`Outcome`:
the function's return value, or the one-line error of the exception it raised. A job that raises does not stop
the others. Example::

    from bgsub.engines import make_engine

    with make_engine("local") as eng:
        for x in (1, 2, 3):
            eng.submit(x, pow, x, 2)
        for o in eng.results():
            print(o.key, o.ok, o.value or o.error)
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterator, Optional

from bgsub.errors import BgsubError


@dataclass
class Outcome:
    """What became of one job. ``value``: the function's return value when ``ok``; ``error``: one line otherwise.
    ``seconds``: the wall time of the job (of its last attempt), as measured where it ran."""

    key: Hashable
    ok: bool
    value: Any = None
    error: Optional[str] = None
    seconds: float = 0.0


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; prefixed with the exception's class unless it is a BgsubError."""
    msg = " ".join(str(exc).split()) or exc.__class__.__name__
    return msg if isinstance(exc, BgsubError) else f"{exc.__class__.__name__}: {msg}"


def call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[bool, Any, Optional[str], float]:
    """Run ``fn(*args, **kwargs)``: ``(True, value, None, seconds)`` or ``(False, None, error, seconds)``.
    Exceptions other than KeyboardInterrupt/SystemExit become the error line."""
    t0 = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # one failing job must not stop the others
        import logging
        import traceback

        logging.getLogger("bgsub").debug("%s", traceback.format_exc())
        return False, None, one_line(exc), time.perf_counter() - t0
    return True, value, None, time.perf_counter() - t0


class Engine(ABC):
    """Runs submitted jobs; :meth:`results` yields one :class:`Outcome` per job, in the order they finish.

    ``workers``: how many jobs run at once (for progress estimates). Use as a context manager, or call
    :meth:`close`: it cancels jobs not yet finished and releases what the engine started."""

    name: str = ""
    workers: int = 1

    @abstractmethod
    def submit(self, key: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Queue ``fn(*args, **kwargs)``; its outcome will carry ``key`` (unique among pending jobs)."""

    @abstractmethod
    def results(self, on_start: Optional[Callable[[Hashable], None]] = None) -> Iterator[Outcome]:
        """Yield the outcome of every submitted job as it finishes, until none is pending. ``on_start(key)`` is
        called when a job starts, where the engine knows it (the local engine); others may never call it."""

    def close(self) -> None:
        """Cancel pending jobs and release resources (idempotent)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
