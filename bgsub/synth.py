"""A deterministic synthetic surveillance clip with exact ground truth (``bgsub synth``).

The scene is the default clip of :mod:`bgsub.scenarios.default` (a textured static background under a slow
illumination drift, sensor noise, moving objects of several sizes, speeds and contrasts, one of which stops for a
while); this module writes it, or a named scenario, to disk.

Layout written (CDnet style, so ``bgsub evaluate --gt OUT`` scores it the CDnet way)::

    OUT/input/in000001.png ...        (or .jpg with ext="jpg"; OUT/input.avi too with video=True)
    OUT/groundtruth/gt000001.png ...  (0 background, 255 foreground)
    OUT/ROI.bmp                       (all 255)
    OUT/temporalROI.txt               ("first last"; the first tenth of the clip is left out as warm-up,
                                       as in CDnet)
    OUT/synth.yaml                    (the parameters that made it)

Frames are generated one at a time, so memory stays flat for any length.

``synth(OUT, scenario=NAME)`` writes one of the named scenarios of :mod:`bgsub.scenarios` instead (busy-start,
dynamic, trees, lossless, camouflage, stop, light-switch and more: one background-model mechanism each) in the
same layout; ``synth.yaml`` then records the scenario and its event frames.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes, ensure_dir
from bgsub.scenarios.default import check_size, iter_synth  # the clip, re-exported (it lives with the scenarios)

__all__ = ["synth", "iter_synth", "check_size"]


def _png(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(f".{ext}", img, [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ("jpg", "jpeg") else [])
    if not ok:
        raise BgsubError(f"could not encode .{ext}")
    return buf.tobytes()


def synth(
    out: str | Path,
    *,
    height: int = 120,
    width: int = 160,
    frames: int = 100,
    seed: int = 0,
    ext: str = "png",
    video: bool = False,
    folder: bool = True,
    scenario: str = "default",
) -> dict:
    """Write the synthetic clip to ``out`` (layout in the module docstring). Returns a summary dict.

    ``video=True`` also writes ``OUT/input.avi`` (MJPG); ``folder=False`` skips ``input/`` (video only).
    ``scenario``: a name in :data:`bgsub.scenarios.SCENARIOS` (``default``: the clip described above)."""
    from bgsub.scenarios import get_scenario, iter_scenario, scenario_events

    out = Path(out)
    sc = get_scenario(scenario)
    if ext not in ("png", "jpg", "bmp"):
        raise BgsubError(f"synth: image format must be png, jpg or bmp, got {ext!r}")
    if sc.lossless and ext == "jpg":
        raise BgsubError(f"synth: scenario {scenario!r} is exact 8-bit frames; write it as png or bmp, not jpg")
    check_size(height, width, frames)
    if not folder and not video:
        raise BgsubError("synth: nothing to write (no folder and no video)")
    if out.exists() and not out.is_dir():
        raise BgsubError(f"{out}: exists and is not a folder")
    ensure_dir(out / "groundtruth", what=str(out))
    if folder:
        ensure_dir(out / "input", what=str(out))
    writer = None
    tmp_video = None
    fg_pixels = 0
    try:
        if video:
            import tempfile, os

            fd, tmp_video = tempfile.mkstemp(prefix=".input.", suffix=".tmp.avi", dir=out)
            os.close(fd)
            writer = cv2.VideoWriter(tmp_video, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
            if not writer.isOpened():
                raise BgsubError("synth: OpenCV cannot write MJPG video here")
        for n, img, mask in iter_scenario(scenario, height=height, width=width, frames=frames, seed=seed):
            bgr = cv2.cvtColor((img * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
            if folder:
                atomic_write_bytes(out / "input" / f"in{n:06d}.{ext}", _png(bgr, ext))
            if writer is not None:
                writer.write(bgr)
            atomic_write_bytes(out / "groundtruth" / f"gt{n:06d}.png", _png(mask.astype(np.uint8) * 255, "png"))
            fg_pixels += int(mask.sum())
        if writer is not None:
            writer.release()
            writer = None
            import os

            os.replace(tmp_video, out / "input.avi")
            tmp_video = None
    finally:
        if writer is not None:
            writer.release()
        if tmp_video is not None:
            Path(tmp_video).unlink(missing_ok=True)
    atomic_write_bytes(out / "ROI.bmp", _png(np.full((height, width), 255, np.uint8), "bmp"))
    params = {"frames": frames, "height": height, "width": width, "seed": seed, "ext": ext, "video": video,
              "scenario": scenario}
    events = scenario_events(scenario, frames=frames, height=height, width=width)
    if events:
        params["events"] = events
    atomic_write_bytes(out / "synth.yaml", yaml.safe_dump(params, sort_keys=False).encode())
    first = sc.first_scored(frames)
    atomic_write_bytes(out / "temporalROI.txt", f"{first} {frames}\n".encode())
    return {
        "path": str(out),
        "scenario": scenario,
        "frames": frames,
        "height": height,
        "width": width,
        "seed": seed,
        "temporal_roi": [first, frames],
        "foreground_fraction": fg_pixels / (frames * height * width),
        "video": str(out / "input.avi") if video else None,
    }
