"""The in-process engine: jobs run one at a time, in submission order, when :meth:`results` is iterated."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable, Iterator, Optional

from bgsub.engines.base import Engine, Outcome, call


class LocalEngine(Engine):
    """Runs each job in this process, one at a time (no extra dependency). Parallelism on one machine or many
    comes from running several processes over shards of the work (``bgsub batch --shard I/N``) or from
    :class:`~bgsub.engines.ray.RayEngine`."""

    name = "local"

    def __init__(self) -> None:
        self.workers = 1
        self._queue: deque[tuple[Hashable, Callable[..., Any], tuple, dict]] = deque()

    def submit(self, key: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self._queue.append((key, fn, args, kwargs))

    def results(self, on_start: Optional[Callable[[Hashable], None]] = None) -> Iterator[Outcome]:
        while self._queue:
            key, fn, args, kwargs = self._queue.popleft()
            if on_start is not None:
                on_start(key)
            ok, value, error, seconds = call(fn, args, kwargs)
            yield Outcome(key, ok, value, error, seconds)

    def close(self) -> None:
        self._queue.clear()
