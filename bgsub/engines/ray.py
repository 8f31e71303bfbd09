"""The Ray engine: jobs run as Ray tasks, on an embedded local Ray instance or on an existing cluster.

- No address: a local Ray instance started here (and shut down by :meth:`RayEngine.close`) with
  ``workers * cpus_per_job`` logical CPUs, so ``workers`` jobs run at once.
- ``address`` (or the ``RAY_ADDRESS`` environment variable; ``"auto"`` finds a cluster started on this machine
  with ``ray start``): join that cluster; its resources decide how many jobs run at once.
- If Ray is already initialised in this process (a notebook, a test), that instance is used and left running.

Each job is a task asking for ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (fractions share a GPU); a task
whose worker process dies (killed, out of memory, node lost) is run again up to ``retries`` times. An exception
raised *by the job* is not retried: it is the job's outcome (its one-line error).

The job function and its arguments travel to the workers by pickling (module-level functions by reference, so
bgsub must be installed where the workers run); files named in the arguments must be reachable there.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Hashable, Iterator, Optional

from bgsub.engines.base import Engine, Outcome, call
from bgsub.errors import BgsubError

log = logging.getLogger("bgsub")

INSTALL_HINT = "pip install 'bgsub[ray]'"


def import_ray():
    """The ``ray`` module, or a one-line BgsubError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BgsubError(f"--engine ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def default_workers() -> int:
    """One job per 2 cores of this machine (at least one)."""
    return max(1, (os.cpu_count() or 1) // 2)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A plain ``host:port`` address must accept a TCP connection within ``timeout`` seconds (Ray itself retries
    an unreachable head node for many minutes); ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BgsubError(f"{address}: cannot reach the Ray cluster's head node ({exc.__class__.__name__}: "
                         f"{exc.strerror or exc})") from None


class RayEngine(Engine):
    name = "ray"

    def __init__(
        self,
        *,
        address: Optional[str] = None,
        workers: Optional[int] = None,
        cpus_per_job: Optional[float] = None,
        gpus_per_job: float = 0.0,
        retries: int = 3,
    ) -> None:
        if workers is not None and workers < 1:
            raise BgsubError(f"--workers must be >= 1, got {workers}")
        if cpus_per_job is not None and cpus_per_job <= 0:
            raise BgsubError(f"--cpus-per-video must be > 0, got {cpus_per_job}")
        if gpus_per_job < 0:
            raise BgsubError(f"--gpus-per-video must be >= 0, got {gpus_per_job}")
        if retries < 0:
            raise BgsubError(f"--retries must be >= 0, got {retries}")
        ray = import_ray()
        self._ray = ray
        self.retries = retries
        self._owns = False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if ray.is_initialized():
            self.where = "the Ray instance already running in this process"
            if workers is not None:
                log.warning("Ray is already initialised in this process: --workers %d is ignored", workers)
            cpus = cpus_per_job if cpus_per_job is not None else 1.0
        elif address:
            _check_reachable(address)
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
            except Exception as exc:  # ConnectionError, RuntimeError, ... depending on the failure
                raise BgsubError(f"{address}: cannot join the Ray cluster ({exc.__class__.__name__}: "
                                 f"{' '.join(str(exc).split())[:200]})") from None
            self._owns = True
            self.where = f"the Ray cluster at {address}"
            if workers is not None:
                log.warning("joining a cluster: --workers %d is ignored (the cluster's resources decide)", workers)
            cpus = cpus_per_job if cpus_per_job is not None else 1.0
        else:
            n = workers if workers is not None else default_workers()
            cpus = cpus_per_job if cpus_per_job is not None else max(1, (os.cpu_count() or 1) // n)
            ray.init(num_cpus=max(1, int(round(n * cpus))), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=True)
            self._owns = True
            self.where = f"a local Ray instance ({n} workers)"
        self.cpus_per_job = float(cpus)
        self.gpus_per_job = float(gpus_per_job)
        total = ray.cluster_resources().get("CPU", 1.0)
        self.workers = max(1, int(total // self.cpus_per_job))
        if self.gpus_per_job > 0 and ray.cluster_resources().get("GPU", 0.0) <= 0:
            self.close()
            raise BgsubError(f"--gpus-per-video {gpus_per_job:g}: {self.where} has no GPU")
        self._remote = ray.remote(call).options(num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job,
                                                max_retries=retries, retry_exceptions=False)
        self._pending: dict[Any, tuple[Hashable, float]] = {}
        log.debug("ray engine on %s: %s CPUs per job, %s GPUs per job", self.where, self.cpus_per_job,
                  self.gpus_per_job)

    def submit(self, key: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        ref = self._remote.remote(fn, args, kwargs)
        self._pending[ref] = (key, time.perf_counter())

    def results(self, on_start: Optional[Callable[[Hashable], None]] = None) -> Iterator[Outcome]:
        ray = self._ray
        while self._pending:
            done, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in done:
                key, t0 = self._pending.pop(ref)
                try:
                    ok, value, error, seconds = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died on every attempt, or the task was lost
                    n = self.retries + 1
                    yield Outcome(key, False, None, f"{exc.__class__.__name__}: the worker running this job died "
                                  f"({n} attempt{'s' if n > 1 else ''})", time.perf_counter() - t0)
                    continue
                yield Outcome(key, ok, value, error, seconds)

    def close(self) -> None:
        ray = self._ray
        for ref in list(getattr(self, "_pending", {})):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                pass
        self._pending = {}
        if self._owns and ray.is_initialized():
            ray.shutdown()
        self._owns = False
