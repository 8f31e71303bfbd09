"""``bgsub synth``: a deterministic synthetic clip with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from typing_extensions import Annotated

from bgsub.cli.common import JsonOpt, app, emit
from bgsub.scenarios import SCENARIOS

_SCENARIO_LINES = "\n".join(f"  {name}: {sc.summary}" for name, sc in SCENARIOS.items())


@app.command(
    help="Write a deterministic synthetic clip in the CDnet layout (input/, groundtruth/, ROI.bmp, "
    "temporalROI.txt, synth.yaml) with exact masks. The default: a textured background with slow illumination "
    "drift and sensor noise, moving objects of different sizes, speeds and contrasts, one that stops for a while."
    "\n\nScenarios (--scenario; exact frames in OUT/synth.yaml and in the bgsub.scenarios docstring):\n\n"
    + _SCENARIO_LINES
)
def synth(
    out: Annotated[Path, typer.Argument(help="Output folder (created).")],
    frames: Annotated[int, typer.Option("--frames", "-n", min=2, help="Number of frames.")] = 100,
    height: Annotated[int, typer.Option("--height", min=16, help="Frame height in pixels.")] = 120,
    width: Annotated[int, typer.Option("--width", min=16, help="Frame width in pixels.")] = 160,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same clip).")] = 0,
    ext: Annotated[str, typer.Option("--ext", help="Image format of input frames: png, jpg or bmp.")] = "png",
    video: Annotated[bool, typer.Option("--video", help="Also write OUT/input.avi (MJPG).")] = False,
    scenario: Annotated[str, typer.Option(
        "--scenario", help=f"Which clip: {', '.join(SCENARIOS)} (listed above).")] = "default",
    as_json: JsonOpt = False,
) -> None:
    from bgsub.api import synth as run

    result = run(out, frames=frames, height=height, width=width, seed=seed, ext=ext, video=video,
              scenario=scenario)
    emit(result, as_json, lambda r: typer.echo(r["path"]))
