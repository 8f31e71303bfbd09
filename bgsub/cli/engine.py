"""Engine options shared by ``bgsub batch`` and ``bgsub benchmark``."""

from __future__ import annotations

import os
from typing import Any, Optional

import typer
from typing_extensions import Annotated


EngineOpt = Annotated[Optional[str], typer.Option(
    "--engine", help="local: in this process, one job at a time (default). ray: Ray tasks on an embedded local "
    "instance, or on the cluster given by --address/RAY_ADDRESS (which imply ray). Needs pip install 'bgsub\\[ray]'.",
    show_default=False)]
WorkersOpt = Annotated[Optional[int], typer.Option(
    "--workers", "-j", min=1, help="Ray without an address: jobs at once on the embedded instance (default: one "
    "per 2 cores).", show_default=False)]
AddressOpt = Annotated[Optional[str], typer.Option(
    "--address", help="Join this Ray cluster (host:port, ray://host:10001, or 'auto'); also RAY_ADDRESS.",
    show_default=False)]
CpusOpt = Annotated[Optional[float], typer.Option(
    "--cpus-per-video", help="Ray: CPUs each job asks for (also its torch threads) (default: the embedded "
    "instance's cores / workers; 1 on a cluster).", show_default=False)]
GpusOpt = Annotated[float, typer.Option(
    "--gpus-per-video", help="Ray: GPUs each job asks for; fractions share a GPU (0.25: four jobs per GPU).")]
RetriesOpt = Annotated[int, typer.Option(
    "--retries", min=0, help="Ray: runs again a job whose worker process died (killed, out of memory, node lost).")]


def engine_choice(engine: Optional[str], address: Optional[str], workers: Optional[int], cpus: Optional[float],
                  gpus: float, retries: int) -> tuple[str, dict[str, Any]]:
    """(engine name, make_engine options) from the command line: --address or RAY_ADDRESS imply ray."""
    if engine is None:
        engine = "ray" if (address or os.environ.get("RAY_ADDRESS")) else "local"
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r} is not one of 'local', 'ray'", param_hint="--engine")
    opts: dict[str, Any] = {"workers": workers, "address": address, "cpus_per_job": cpus, "gpus_per_job": gpus}
    if engine == "ray":
        opts["retries"] = retries
    if engine == "local" and (address or cpus is not None or gpus or (workers or 1) != 1):
        what = "--address" if address else "--workers" if (workers or 1) != 1 else (
            "--cpus-per-video" if cpus is not None else "--gpus-per-video")
        raise typer.BadParameter(f"{what} needs --engine ray (the local engine runs one job at a time in this "
                                 "process; use --shard I/N to split the work over processes)", param_hint=what)
    return engine, opts


__all__ = ["AddressOpt", "CpusOpt", "EngineOpt", "GpusOpt", "RetriesOpt", "WorkersOpt", "engine_choice"]
