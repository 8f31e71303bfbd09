"""Progress on stderr: a redrawn bar on a terminal, plain lines in a log, nothing with ``--quiet``.

:func:`progress` returns a tqdm bar when stderr is a terminal (interactive use). When stderr is not a terminal
(``2> log``, a Slurm or CI job) a redrawn bar would fill the log with carriage returns, so it returns
:class:`LogProgress` instead: the same interface (``update``, ``set_postfix``, ``close``, a context manager),
writing one plain line with the same figures every 10% of the total or every 30 seconds, whichever comes first,
and one at the end. ``--quiet`` (:func:`set_quiet`) silences both.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress display of this process (the CLI's ``--quiet``)."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    return _quiet


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class LogProgress:
    """A progress display for logs: plain lines ``desc: 40/200 epoch (20%), 12.3 epoch/s, 00:03 elapsed,
    00:13 left, key=value`` every ``every`` of the total or every ``seconds``, and at the end."""

    def __init__(self, total: Optional[int] = None, *, desc: str = "", unit: str = "it", initial: int = 0,
                 every: float = 0.1, seconds: float = 30.0, stream: Any = None, **_: Any):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.every, self.seconds = every, seconds
        self.stream = stream
        self.postfix: dict[str, Any] = {}
        self.t0 = self.last_t = time.monotonic()
        self.start_n = initial
        self.last_frac = (initial / total) if total else 0.0
        self.closed = False
        self.printed_n: Optional[int] = None

    def _line(self) -> str:
        el = time.monotonic() - self.t0
        done = self.n - self.start_n
        rate = done / el if el > 0 else 0.0
        parts = [f"{self.n}/{self.total} {self.unit}" if self.total else f"{self.n} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.n / self.total:.0f}%)"
        parts.append(f"{rate:.3g} {self.unit}/s")
        parts.append(f"{_fmt_time(el)} elapsed")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"{_fmt_time((self.total - self.n) / rate)} left")
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        return f"{self.desc}: " + ", ".join(parts) if self.desc else ", ".join(parts)

    def _emit(self) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(self._line() + "\n")
        stream.flush()
        self.last_t = time.monotonic()
        self.last_frac = (self.n / self.total) if self.total else 0.0
        self.printed_n = self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        frac = (self.n / self.total) if self.total else 0.0
        if (self.total and frac - self.last_frac >= self.every - 1e-12) or now - self.last_t >= self.seconds:
            self._emit()

    def set_postfix(self, refresh: bool = False, **kw: Any) -> None:
        self.postfix = {k: v for k, v in kw.items()}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.printed_n != self.n and self.n > self.start_n:
            self._emit()

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Silent(LogProgress):
    def _emit(self) -> None:
        pass


def progress(total: Optional[int] = None, *, desc: str = "", unit: str = "it", disable: bool = False,
             initial: int = 0, **tqdm_kw: Any):
    """A progress display on stderr for ``total`` steps (see the module docstring); ``disable=True`` or
    ``--quiet``: a silent one with the same interface."""
    if disable or _quiet:
        return _Silent(total, desc=desc, unit=unit, initial=initial)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, **tqdm_kw)
    return LogProgress(total, desc=desc, unit=unit, initial=initial)


def track(iterable, *, total: Optional[int] = None, **kw: Any):
    """Iterate over ``iterable`` with a :func:`progress` display (one step per item)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    bar = progress(total, **kw)
    with bar:
        for item in iterable:
            yield item
            bar.update(1)
