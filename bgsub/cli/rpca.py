"""``bgsub rpca``: robust PCA (low-rank + sparse) over a video in windows, writing masks."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from bgsub.cli.common import ConfigOpt, JsonOpt, SetOpt, app, emit, resolve_config

Opt = typer.Option


@app.command(
    help="Robust PCA of INPUT (video file or folder of frames) in tiled windows of W frames (each window one "
    "pixels x frames matrix, solved on its own; memory bounded by the window), writing OUT/bin%06d.png from "
    "Otsu's threshold on |S| (per frame by default), OUT/config.yaml and OUT/rpca.json (per-window iterations "
    "and residuals). Solvers: ialm (principal component pursuit, the fast default), apg (Eq. 1 with FISTA "
    "momentum), pfb (the paper's Eqs. 3-5). Progress on stderr; the output folder (or --json summary) on stdout."
)
def rpca(
    input: Annotated[Path, typer.Argument(help="Video file or folder of frames (a CDnet sequence folder works).")],
    output: Annotated[Path, Opt("--output", "-o", help="Output folder for the masks.")],
    config: ConfigOpt = None,
    sets: SetOpt = None,
    solver: Annotated[Optional[str], Opt(help="ialm | apg | pfb (rpca.solver).")] = None,
    window: Annotated[Optional[int], Opt(help="Frames per window, default 50 (rpca.window).")] = None,
    lam: Annotated[Optional[float], Opt(help="lambda_1; default 1/sqrt(max(m, n)) (rpca.lam).")] = None,
    tol: Annotated[Optional[float], Opt(help="Relative residual to stop at (rpca.tol).")] = None,
    max_iter: Annotated[Optional[int], Opt(help="Iteration cap per window (rpca.max_iter).")] = None,
    device: Annotated[Optional[str], Opt(help="auto (CUDA when available), cpu or cuda (rpca.device).")] = None,
    threads: Annotated[Optional[int], Opt(help="Torch CPU threads, 0 = default (rpca.threads).")] = None,
    scale: Annotated[Optional[float], Opt(help="Resize factor of every frame (input.scale).")] = None,
    start: Annotated[Optional[int], Opt(help="First frame number (input.start).")] = None,
    end: Annotated[Optional[int], Opt(help="Last frame number (input.end).")] = None,
    stride: Annotated[Optional[int], Opt(help="Keep every k-th frame (input.stride).")] = None,
    save_foreground: Annotated[bool, Opt("--save-foreground", help="Also write |S| as fg%06d.png.")] = False,
    save_background: Annotated[bool, Opt("--save-background", help="Also write L as bg%06d.png.")] = False,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.api import rpca as run

    cfg = resolve_config(config, sets, rpca__solver=solver, rpca__window=window, rpca__lam=lam, rpca__tol=tol,
                         rpca__max_iter=max_iter, rpca__device=device, rpca__threads=threads, input__scale=scale,
                         input__start=start, input__end=end, input__stride=stride)
    result = run(input, output, cfg, save_foreground=save_foreground, save_background=save_background)
    emit(result, as_json, lambda r: typer.echo(r["out"]))
