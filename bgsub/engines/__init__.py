"""How independent jobs run: ``local`` (in this process, one at a time) or ``ray`` (tasks on a Ray instance or
cluster). One small interface (:class:`~bgsub.engines.base.Engine`): submit jobs, iterate outcomes as they
finish. An engine knows nothing of background subtraction; ``bgsub batch`` and ``bgsub benchmark`` both use it.
A third engine (Dask, Slurm) is one module implementing :class:`~bgsub.engines.base.Engine`."""

from __future__ import annotations

from typing import Optional

from bgsub.engines.base import Engine, Outcome, call, one_line
from bgsub.engines.local import LocalEngine
from bgsub.errors import BgsubError

ENGINES = ("local", "ray")


def make_engine(
    name: str = "local",
    *,
    workers: Optional[int] = None,
    address: Optional[str] = None,
    cpus_per_job: Optional[float] = None,
    gpus_per_job: float = 0.0,
    retries: int = 3,
) -> Engine:
    """An engine by name. ``local`` takes no options (``workers`` may only be 1); the others go to
    :class:`~bgsub.engines.ray.RayEngine` (importing Ray only then)."""
    if name == "local":
        if workers not in (None, 1):
            raise BgsubError(f"--engine local runs one video at a time (--workers {workers}): use --engine ray, "
                             "or several processes with --shard I/N")
        if address:
            raise BgsubError("--address joins a Ray cluster: it needs --engine ray")
        if cpus_per_job is not None or gpus_per_job:
            raise BgsubError("--cpus-per-video and --gpus-per-video are Ray resources: they need --engine ray")
        return LocalEngine()
    if name == "ray":
        from bgsub.engines.ray import RayEngine

        return RayEngine(address=address, workers=workers, cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job,
                         retries=retries)
    raise BgsubError(f"unknown engine {name!r} (valid: {', '.join(ENGINES)})")


__all__ = ["ENGINES", "Engine", "LocalEngine", "Outcome", "call", "make_engine", "one_line"]
