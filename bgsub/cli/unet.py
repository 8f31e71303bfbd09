"""``bgsub train``, ``bgsub polish``, ``bgsub segment``: the low-rank + sparse U-Net."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from bgsub.cli.common import (ConfigOpt, JsonOpt, SetOpt, ThreadsOpt, app, emit, out_console, resolve_config,
                              set_threads)

Out = Annotated[Path, typer.Option("--output", "-o", help="Output path.")]
Device = Annotated[Optional[str], typer.Option("--device", help="auto (CUDA when available), cpu or cuda.")]


def _paths(keys: tuple[str, ...]):
    def render(r: dict[str, Any]) -> None:
        for k in keys:
            v = r.get(k)
            if isinstance(v, list):
                for x in v:
                    out_console.print(x)
            elif v is not None:
                out_console.print(v)

    return render


@app.command(help="Train the U-Net on frames of INPUT without labels: by default the shipped network adapted in "
             "50 steps to this video's own background model (sample consensus, started on its first 100 frames and "
             "updated over time) and the low-rank + sparse support energy; with --config paper on Eq. 6, as the "
             "paper.\n\nWrites the checkpoint (-o), OUT.history.csv/.png (loss terms per epoch) and OUT.config.yaml. "
             "--resume continues the run saved in -o.")
def train(
    input: Annotated[Path, typer.Argument(help="Video file or folder of frames (a CDnet sequence folder works).")],
    output: Out,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training steps (train.epochs; from the shipped network: train.tune_epochs).")] = None,
    frames: Annotated[Optional[int], typer.Option(help="N frames per stack (train.frames).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (train.lr).")] = None,
    crop: Annotated[Optional[int], typer.Option(help="Random crop side, 0 = whole frames (train.crop).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (train.seed).")] = None,
    device: Device = None,
    labels: Annotated[Optional[Path], typer.Option(
        "--labels", help="Ground truth for --label-frames: a CDnet-style sequence folder, its groundtruth/ or a "
        "mask folder (default: INPUT, when it is a sequence folder) (train.labels).")] = None,
    label_frames: Annotated[Optional[int], typer.Option(
        "--label-frames", help="Add a supervised term on K ground-truth masks spread over the video (seeded; "
        "Eq. 14 of Koch & Corso); 0 = unsupervised, the default (train.label_frames).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run saved in --output.")] = False,
    init: Annotated[Optional[str], typer.Option("--init", help="The weights the training starts from (train.init): "
                                                "auto (default): the shipped network (bgsub/weights/unet.pt) when "
                                                "the config builds its architecture, adapted in train.tune_epochs "
                                                "= 50 steps, else fresh weights; pretrained: the shipped network "
                                                "or an error; scratch: fresh weights (train.epochs = 400 steps). "
                                                "--epochs sets the steps either way.")] = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.pipelines.unet import train as run

    set_threads(threads)
    cfg = resolve_config(config, sets, train__frames=frames, train__lr=lr, train__crop=crop, train__seed=seed,
                         train__device=device, train__labels=str(labels) if labels is not None else None,
                         train__label_frames=label_frames)
    result = run(input, output, cfg=cfg, resume=resume, epochs=epochs, init=init)
    emit(result, as_json, _paths(("model", "history", "config")))


@app.command(help="Polish a trained U-Net by proximal steps (Eq. 7) on N frames of INPUT and write a new checkpoint.")
def polish(
    model: Annotated[Path, typer.Argument(help="Checkpoint from bgsub train.")],
    input: Annotated[Path, typer.Argument(help="Video file or folder of frames.")],
    output: Out,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    steps: Annotated[Optional[int], typer.Option(help="Proximal steps (polish.steps).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (polish.lr).")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="Step alpha of Eq. 7 (polish.alpha).")] = None,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.pipelines.unet import polish as run

    cfg = resolve_config(config, sets, polish__steps=steps, polish__lr=lr, polish__alpha=alpha)
    result = run(model, input, output, cfg=cfg)
    emit(result, as_json, _paths(("model", "history")))


@app.command(help="Run a U-Net over every frame of INPUT and write masks OUT/bin%06d.png (the default network's "
             "foreground logits > 0; Otsu on |S| for the paper's network). Without --model, the network shipped "
             "in the package (pretrained once over many videos, no training wait); with --model, a network from "
             "bgsub train.\n\n"
             "INPUT is read once, front to back, and masks are written as the frames arrive (but see segment.prescan "
             "below): a video file, a folder "
             "of frames, a camera index (0) or a stream URL (rtsp://..., anything with ://). Frames are numbered "
             "as today (a folder by its file names, a video from 1); a camera or a stream 1, 2, 3, ... as they "
             "arrive.\n\n"
             "The model file is the network: the default network's background is estimated from the first "
             "background.init (100) frames of INPUT, not taken from the training video, unless --reuse-background. "
             "Where that window did not show the scene still (leaves across the lens, someone standing in view), "
             "a model trained on the same video starts it from the stillest frames its training pass found later "
             "in the video "
             "(segment.lookahead, on; the window's fingerprint must match). Without that (the shipped network, or "
             "a model trained on another video) a file or a folder whose window never saw more than a tenth of "
             "its pixels still is read twice, a first pass of the background model alone finding them still "
             "further on (segment.prescan=auto: the log says so; the first mask then waits for that pass; a "
             "camera, a stream or a pipe is read once all the same; false: always once; true: always twice). "
             "Reading once, someone who "
             "stood in view from the first frame and walks away leaves no ghost: the scene they hid is taken into "
             "the background model within 16 frames of showing, where its outline is the model's edge and not the "
             "frame's (background.ghost, on; an object that stops keeps its edge and stays foreground). When they "
             "leave within the window, or walk in and stop there, they are foreground from the first frame: of the "
             "two still scenes the window showed, the background is the one whose outline is no edge "
             "(background.scenes, on)."
             "\n\n"
             "Frames from a shaking or panning camera are registered as they are read and their masks moved back "
             "(input.stabilize, on; whole-pixel shifts, a still camera's frames untouched). A shake is registered "
             "to the first frame; a pan or a tracking shot is followed: the background model moves with the view "
             "in whole working pixels once the camera points more than 1/16 of the frame's smaller side from it, "
             "the pixels that come into view compared from the frame after they enter and taking the stillest 20 "
             "of their first 40 frames as samples (input.follow, on; "
             "false: every frame "
             "registered to the first, a pan up to three quarters of the view, the frames past it written empty; "
             "--set input.stabilize=false skips both, about 0.3 ms a frame). A camera moved in one jump and left "
             "there (a "
             "PTZ preset, a cut): once more than half of the frame has changed and stood still for twice background."
             "samples (40) frames in a row, the background model starts again from those frames (background."
             "restart, on; the summary says so, --json lists the frames as restarts).\n\n"
             "The default network (the shipped one, or one from bgsub train on the sample model) runs through "
             "OpenCV's DNN module on the CPU (segment.engine=auto: checked against a literal NumPy forward pass as "
             "it loads; the process then never imports torch, about a second less start-up); where a GPU may be "
             "there, or with --set segment.engine=torch, through torch.\n\n"
             "--max-frames N stops after N frames (exit 0). Ctrl-C stops reading: the frames already read are "
             "segmented and written, the summary printed, and the exit code is 130 (interrupted; a second Ctrl-C "
             "aborts at once).")
def segment(
    input: Annotated[str, typer.Argument(help="Video file, folder of frames (a CDnet sequence folder works), camera "
                                              "index (0, 1, ...), stream URL (rtsp://, http://, ...) or - (a video "
                                              "piped to the standard input, in a container that streams: avi, mkv "
                                              "or mpegts; read once, as a stream).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder for the masks.")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Checkpoint from bgsub train or polish "
                                                  "(default: the shipped pretrained network).")] = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    batch: Annotated[Optional[int], typer.Option(help="Frames per forward pass (segment.batch).")] = None,
    scope: Annotated[Optional[str], typer.Option(help="Otsu threshold per 'frame' (default), 'clip' (batch), "
                                                      "'video' (one global threshold, two passes; not for a camera "
                                                      "or a stream) or 'fit' (one threshold saved at training "
                                                      "time, one pass).")] = None,
    median: Annotated[Optional[int], typer.Option(help="Odd median filter size on the masks (pixels; default "
                                                       "threshold.median, 5), 0 = off.")] = None,
    save_foreground: Annotated[bool, typer.Option("--save-foreground", help="Also write |S| as fg%06d.png.")] = False,
    save_background: Annotated[bool, typer.Option("--save-background", help="Also write L = D - S as bg%06d.png.")]
    = False,
    overlay: Annotated[Optional[Path], typer.Option(help="Also write an overlay video (.avi or .mp4); reads the "
                                                         "input a second time, after the masks (not for a camera or "
                                                         "a stream).")] = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", help="Stop after N frames.")] = None,
    reuse_background: Annotated[Optional[bool], typer.Option(
        "--reuse-background", help="Use the background saved with the model at training time instead of "
        "estimating it from INPUT's first frames (same camera and view; the frame size must match) "
        "(segment.reuse_background).")] = None,
    device: Device = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from bgsub.pipelines.segment import segment as run

    set_threads(threads)
    fit = "fit" if scope == "fit" else ("otsu" if scope is not None else None)
    cfg = resolve_config(config, sets, segment__batch=batch, segment__device=device, segment__threshold=fit,
                         threshold__scope=None if scope == "fit" else scope, threshold__median=median,
                         segment__reuse_background=reuse_background)
    result = run(input, output, model=model, cfg=cfg, save_foreground=save_foreground,
                 save_background=save_background, overlay=overlay, max_frames=max_frames)
    emit(result, as_json, lambda r: out_console.print(
        f"{r['out']}  ({r['frames']} frames, {r['fps']:.1f} frames/s{', read twice' if r.get('passes') == 2 else ''}"
        f"{', interrupted' if r['interrupted'] else ''})"))
    if result["interrupted"]:
        raise typer.Exit(130)
