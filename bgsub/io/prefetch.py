"""Overlapping file input and output with computation: reading the next frames and encoding the last masks in
background threads while the method runs (OpenCV's decoders and encoders release the GIL).

Both keep memory bounded (at most ``depth`` items ahead or pending) and hand any exception of the background
thread to the caller, at the next item or at the end, unchanged (a :class:`~bgsub.errors.BgsubError` stays one).

    for chunk in prefetch(iter_chunks(path), depth=2):
        ...
    with BackgroundWriter(depth=2) as w:
        w.submit(write_batch, out, masks)      # returns at once unless `depth` writes are pending
    for img in ordered_map(cv2.imread, paths, workers=2):   # decoded side by side, handed out in order
        ...
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while another waits for it (Python's default: 0.005)
_pipelines = 0  # pipeline_threads() entered and not left
_interval = 0.005
_pipelines_lock = threading.Lock()

_END = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate over ``items`` computed in a background thread, at most ``depth`` items ahead of the consumer.
    Exceptions of the producer are raised in the consumer, at the item where they happened. Closing the iterator
    early (break, an exception in the loop) stops the producer."""
    if depth < 1:
        yield from items
        return
    q: "queue.Queue[tuple[Any, Any]]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[Any, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer
            put((_END, exc))

    thread = threading.Thread(target=produce, name="bgsub-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def ordered_map(fn: Callable[[Any], T], items: Iterable[Any], workers: int, ahead: int | None = None) -> Iterator[T]:
    """``fn(item)`` for each of ``items``, computed by ``workers`` threads side by side (for work that releases the
    GIL: decoding images), yielded in the order of ``items``. At most ``ahead`` (default ``2 * workers``) results
    are pending or waiting at any time (memory stays bounded). An exception of ``fn`` is raised at its item.
    Closing the iterator early cancels the jobs not started and waits for the running ones. ``workers`` <= 1:
    a plain ``map`` in the caller's thread."""
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    ahead = max(workers, ahead if ahead is not None else 2 * workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bgsub-map")
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)


class BackgroundWriter:
    """Runs write jobs in one background thread, in submission order, with at most ``depth`` pending: ``submit``
    waits for the oldest job when the queue is full and re-raises its exception; leaving the ``with`` block waits
    for every job (and re-raises the first failure). On an exception inside the block, the pending jobs still
    finish (each write is atomic), then the exception propagates."""

    def __init__(self, depth: int = 2):
        self.depth = max(1, int(depth))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bgsub-writer")
        self._pending: deque[Future] = deque()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args, **kwargs))

    def drain(self) -> None:
        """Wait for every pending job; re-raise the first failure."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pending.clear()

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.drain()
            else:  # let the writes already submitted finish, but report the original error
                for f in self._pending:
                    f.exception()
                self._pending.clear()
        finally:
            self._pool.shutdown(wait=True)


@contextmanager
def pipeline_threads(interval: float = SWITCH_INTERVAL) -> Iterator[None]:
    """Settings for a pipeline of threads that each hand the GIL back and forth many times a frame (the background
    model's stepping thread: hundreds of short NumPy and OpenCV calls a frame, each releasing the GIL), restored
    on leaving:

    - the switch interval: a thread that releases the GIL for a native call must take it back when the call
      returns; with a busy Python thread beside it (the network's windows) it waits up to the interval each time.
      Python's default of 5 ms made the stepping thread, the pipeline's critical path, wait for about a sixth of
      its time (cdnet-highway, 2 threads: 9.5 s of wall time for 8.0 s of its CPU; the whole process 14.4 ->
      13.4 s with this and the open pixels' sparse motion; README, tenth session).
    - the garbage collector's objects so far frozen (:func:`gc.freeze`): the imports' million objects (torch's)
      are no longer traversed by every full collection (1-2% of the run's CPU time); they live as long as the
      process anyway. Objects made later are collected as before.
    """
    global _pipelines, _interval
    with _pipelines_lock:  # pipelines side by side (threads of one process): the first sets, the last restores
        if _pipelines == 0:
            _interval = sys.getswitchinterval()
            sys.setswitchinterval(interval)
            gc.freeze()
        _pipelines += 1
    try:
        yield
    finally:
        with _pipelines_lock:
            _pipelines -= 1
            if _pipelines == 0:
                sys.setswitchinterval(_interval)
                gc.unfreeze()
