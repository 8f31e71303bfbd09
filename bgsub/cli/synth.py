"""``bgsub synth``: a deterministic synthetic clip with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from typing_extensions import Annotated

from bgsub.cli.common import JsonOpt, app, emit


@app.command(
    help="Write a deterministic synthetic clip in the CDnet layout (input/, groundtruth/, ROI.bmp, "
    "temporalROI.txt): a textured background with slow illumination drift and sensor noise, moving objects of "
    "different sizes, speeds and contrasts, one that stops for a while, and exact masks."
)
def synth(
    out: Annotated[Path, typer.Argument(help="Output folder (created).")],
    frames: Annotated[int, typer.Option("--frames", "-n", min=2, help="Number of frames.")] = 100,
    height: Annotated[int, typer.Option("--height", min=16, help="Frame height in pixels.")] = 120,
    width: Annotated[int, typer.Option("--width", min=16, help="Frame width in pixels.")] = 160,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same clip).")] = 0,
    ext: Annotated[str, typer.Option("--ext", help="Image format of input frames: png, jpg or bmp.")] = "png",
    video: Annotated[bool, typer.Option("--video", help="Also write OUT/input.avi (MJPG).")] = False,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.api import synth as run

    result = run(out, frames=frames, height=height, width=width, seed=seed, ext=ext, video=video)
    emit(result, as_json, lambda r: typer.echo(r["path"]))
