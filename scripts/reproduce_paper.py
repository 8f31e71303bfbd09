#!/usr/bin/env python
"""Reproduce Section IV of Sakai et al. (low-rank + sparse U-Net) on the I2R "airport" (Hall) sequence.

    python scripts/reproduce_paper.py I2R_HALL_DIR [-o OUT] [--quick] [--config FILE] [--set key=value ...]

The protocol (paper, Section IV):

- frames airport1000.bmp .. airport4583.bmp (144 x 176), converted to grayscale in [0, 1];
- the U-Net is trained on 50 frames drawn at random (seed ``train.seed``; the 20 labelled frames are left out of
  the draw, so the test frame 2926 is not in training, as in the paper) with lambda_* = 1, lambda_1 = 5e-3,
  Adam at lr 3e-4 for 2000 epochs, then polished by 3000 proximal steps (Eq. 7, alpha = 0.5) at lr 3e-8;
- RPCA (the paper's proximal forward-backward iteration, ``rpca-pfb``, same lambdas and alpha) on the 50 frames
  around each labelled frame;
- foreground = Otsu's threshold on |S|, per frame;
- precision and recall on frame 2926 (the paper's figure) and over all 20 labelled frames (counts summed), printed
  beside the paper's: U-Net 95.8 / 63.2, RPCA 96.5 / 49.6 (frame 2926).

2000 epochs are meant for a GPU (``train.device: auto`` takes CUDA when there is one). ``--quick`` keeps the
protocol but trains 100 epochs and polishes 30 steps (minutes on a CPU); the numbers are then not the paper's.
The data set is not redistributable: see :mod:`bgsub.io.i2r` for where to get it.

Writes OUT/results.json (everything printed, plus the frames used, timings and the resolved config),
OUT/model.pt (the trained, polished U-Net), OUT/<method>/bin%06d.png and fg%06d.png for the 20 labelled frames,
and OUT/contact_2926.png (input | ground truth | |S| | mask for both methods).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any, Optional

try:  # run from a checkout without installing: the package is one folder up
    import bgsub  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAPER = {"unet": (0.958, 0.632), "rpca": (0.965, 0.496)}  # frame 2926: precision, recall

# The protocol's settings, applied on top of configs/paper.yaml (the paper's architecture) when it exists.
PROTOCOL = [
    "input.grayscale=true", "input.scale=1.0", "model.in_channels=1",
    "train.frames=50", "train.lam_star=1.0", "train.lam_1=5e-3", "train.lr=3e-4", "train.epochs=2000",
    "polish.steps=3000", "polish.lr=3e-8", "polish.alpha=0.5",
    "rpca.window=50", "rpca.lam_star=1.0", "rpca.lam=5e-3", "rpca.alpha=0.5",
    "threshold.scope=frame", "threshold.median=0",
]
QUICK = ["train.epochs=100", "polish.steps=30"]

log = logging.getLogger("bgsub")


def build_config(config: Optional[str], quick: bool, sets: list[str]):
    """paper preset (if any) <- --config <- protocol <- --quick <- --set."""
    from bgsub.config import _preset_dir, load_config

    base = None
    preset = _preset_dir() / "paper.yaml"
    if preset.is_file():
        base = load_config(preset)
    else:
        log.warning("configs/paper.yaml not found: the U-Net uses the default architecture, not the paper's")
    cfg = load_config(config, base=base) if config else base
    overrides = PROTOCOL + (QUICK if quick else []) + list(sets)
    return load_config(None, overrides, base=cfg)


def _masks(foreground) -> "Any":
    from bgsub.threshold import masks_from_foreground

    return masks_from_foreground(foreground, scope="frame")[:, 0].numpy()


def _score(pred, truth) -> dict[str, Any]:
    import numpy as np

    from bgsub.metrics import confusion, scores

    c = confusion(pred, truth, np.ones_like(truth, dtype=bool))
    return {"counts": c.as_dict(), **{k: v for k, v in scores(c).items() if k in ("precision", "recall",
                                                                                    "f_measure")}}


def _sum(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from bgsub.metrics import Counts, scores

    total = Counts()
    for r in rows:
        total = total + Counts(**r["counts"])
    return {"counts": total.as_dict(), **{k: v for k, v in scores(total).items() if k in ("precision", "recall",
                                                                                        "f_measure")}}


def reproduce(data: str | Path, out: str | Path, *, cfg, rpca: str = "rpca-pfb",
              labelled=None, test_frame: Optional[int] = None, progress: bool = True) -> dict[str, Any]:
    """Run the protocol (``cfg.train.frames`` training frames); returns the results dict (also written to
    OUT/results.json)."""
    import cv2
    import torch

    from bgsub import __version__
    from bgsub.io import i2r
    from bgsub.io.atomic import atomic_write_bytes
    from bgsub.io.masks import mask_name, write_image, write_mask
    from bgsub.methods.base import create
    from bgsub.threshold import magnitude
    from bgsub.polishing import polish_model
    from bgsub.io.masks import write_png
    from bgsub.viz import frame_rows, stack

    labelled = list(labelled if labelled is not None else i2r.LABELLED)
    test_frame = i2r.TEST_FRAME if test_frame is None else test_frame
    if test_frame not in labelled:
        raise SystemExit(f"test frame {test_frame} is not among the labelled frames")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seq = i2r.find_i2r(data, labelled=labelled)
    for note in seq.notes:
        log.warning("%s", note)
    results: dict[str, Any] = {"data": str(seq.folder), "labelled": labelled, "test_frame": test_frame}

    # --- U-Net: train on 50 random unlabelled frames, polish, segment the labelled frames
    numbers = i2r.training_numbers(seq, cfg.train.frames, seed=cfg.train.seed, exclude=labelled)
    D = i2r.read_frames(seq, numbers).frames
    method = create("unet", cfg)
    method.progress = progress
    t0 = time.perf_counter()
    method.fit(D)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    polish_model(method.model, D, cfg, progress=progress)
    t_polish = time.perf_counter() - t0
    method.save(out / "model.pt")
    test = i2r.read_frames(seq, labelled)
    t0 = time.perf_counter()
    dec = method.decompose(test.frames)
    t_seg = time.perf_counter() - t0
    S = {"unet": dec.foreground}
    results["unet"] = {"train_frames": numbers, "train_seconds": t_train, "polish_seconds": t_polish,
                       "segment_seconds": t_seg, "frames_per_second": len(labelled) / t_seg if t_seg else None}

    # --- RPCA on the 50 frames around each labelled frame
    rp = create(rpca, cfg)
    rows_s = []
    t0 = time.perf_counter()
    for n in labelled:
        window = i2r.window_around(seq, n, cfg.rpca.window)
        d = rp.decompose(i2r.read_frames(seq, window).frames)
        rows_s.append(d.foreground[window.index(n)])
        rp.reset()
    S["rpca"] = torch.stack(rows_s)
    results["rpca"] = {"method": rpca, "window": cfg.rpca.window, "seconds": time.perf_counter() - t0}

    # --- Otsu on |S| per frame, score against the ground truth
    truth = {n: i2r.read_truth(seq, n) for n in labelled}
    entries: dict[str, tuple[Any, Any]] = {}
    for key, s in S.items():
        masks = _masks(s)
        mag = magnitude(s)[:, 0].numpy()
        folder = out / key
        folder.mkdir(exist_ok=True)
        rows = []
        for i, n in enumerate(labelled):
            if masks[i].shape != truth[n].shape:
                raise SystemExit(f"frame {n}: mask {masks[i].shape} vs ground truth {truth[n].shape}")
            write_mask(folder, n, masks[i])
            write_image(folder / mask_name(n, "fg"), mag[i], normalize=True)
            rows.append({"frame": n, **_score(masks[i], truth[n])})
            if n == test_frame:
                entries[key] = (mag[i], masks[i])
        results[key]["per_frame"] = rows
        results[key]["test"] = next(r for r in rows if r["frame"] == test_frame)
        results[key]["all"] = _sum(rows)
        results[key]["paper"] = {"precision": PAPER[key][0], "recall": PAPER[key][1]}

    gt = truth[test_frame]
    img = test.frames[labelled.index(test_frame)].numpy()
    names = {"unet": "U-Net", "rpca": f"RPCA ({rpca})"}
    sheet = stack(frame_rows(img, gt, gt | ~gt, [(names[k], entries[k][0], entries[k][1]) for k in ("unet", "rpca")],
                             title=f"airport{test_frame}"))
    write_png(out / f"contact_{test_frame}.png", sheet)

    results["environment"] = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        "versions": {"bgsub": __version__, "torch": torch.__version__, "opencv": cv2.__version__,
                     "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": cfg.to_dict(),
    }
    text = json.dumps(results, indent=2, default=str) + "\n"
    atomic_write_bytes(out / "results.json", text.encode())
    return results


def render(results: dict[str, Any]) -> str:
    n = results["test_frame"]
    k = len(results["labelled"])
    lines = [f"{'':14} {'frame ' + str(n):>17} {f'all {k} labelled':>17} {'paper, frame ' + str(n):>19}",
             f"{'method':14} {'P':>8} {'R':>8} {'P':>8} {'R':>8} {'P':>9} {'R':>9}"]
    for key, name in (("unet", "U-Net"), ("rpca", "RPCA")):
        r = results[key]
        t, a, p = r["test"], r["all"], r["paper"]
        lines.append(f"{name:14} {100 * t['precision']:8.1f} {100 * t['recall']:8.1f} {100 * a['precision']:8.1f} "
                     f"{100 * a['recall']:8.1f} {100 * p['precision']:9.1f} {100 * p['recall']:9.1f}")
    lines.append("(percent; 'all' sums the pixel counts of the labelled frames before scoring)")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="the I2R Hall (airport) folder: airportNNNN.bmp, gt_new_airportNNNN.bmp")
    ap.add_argument("-o", "--out", default="reproduce-airport", help="output folder (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="100 epochs and 30 polish steps instead of 2000 and 3000")
    ap.add_argument("--config", help="a YAML preset applied before the protocol's settings")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key after the protocol (repeatable), e.g. train.device=cpu")
    ap.add_argument("--train-frames", type=int, help="frames the U-Net trains on (default: the paper's 50; sets "
                    "train.frames)")
    ap.add_argument("--rpca", default="rpca-pfb", help="RPCA method (default: rpca-pfb, the paper's iteration)")
    ap.add_argument("--threads", type=int, help="torch threads")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="reproduce: %(message)s", stream=sys.stderr)
    from bgsub.errors import BgsubError

    try:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        sets = ([f"train.frames={args.train_frames}"] if args.train_frames else []) + args.sets
        cfg = build_config(args.config, args.quick, sets)
        results = reproduce(args.data, args.out, cfg=cfg, rpca=args.rpca,
                            progress=not args.no_progress)
    except BgsubError as exc:
        sys.stderr.write(f"reproduce: error: {exc}\n")
        return 1
    if args.json:
        print(json.dumps({k: v for k, v in results.items() if k != "environment"}, indent=2, default=str))
    else:
        print(render(results))
        print(f"details: {Path(args.out) / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
