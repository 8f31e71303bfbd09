#!/usr/bin/env python
"""Benchmark of the U-Net against robust PCA and OpenCV's MOG2 on CDnet sequences, in one run.

For each sequence (default: cdnet-highway and cdnet-office under --data): training wall time of the U-Net with the
chosen preset, F-measure of the masks on the scored frames (CDnet scoring, ``bgsub evaluate``), and segment
frames per second over the whole video at native resolution (reading frames, the network, Otsu, writing masks:
end to end; the network alone is reported too); side by side with ``rpca-ialm`` (windows of 50 frames, Otsu per
frame) and ``mog2`` (OpenCV defaults, frames in order from the first). Then, unless --no-tricks: seconds per
training epoch with each CPU speed trick switched off and on, and the paper preset's time per epoch.

    python scripts/bench_unet.py --data ../shared/data --threads 2 --out /tmp/bench_unet

Writes OUT/results.json and OUT/results.md and prints the Markdown table. Sequences that are absent are skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch


def _method_or_none(name, cfg):
    from bgsub.errors import BgsubError
    from bgsub.methods import create

    try:
        return create(name, cfg)
    except BgsubError:
        return None


class _MOG2Direct:
    """Fallback when the ``mog2`` method is not registered: OpenCV's MOG2 with default parameters."""

    name = "mog2(cv2)"
    decides_masks = True

    def __init__(self):
        import cv2

        self.cv2 = cv2
        self.reset()

    def reset(self):
        self.sub = self.cv2.createBackgroundSubtractorMOG2()

    def fit_frames(self):
        return 0

    def decompose(self, clip):
        import numpy as np

        from bgsub.methods.base import Decomposition

        masks = []
        for f in clip:
            img = (f.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            masks.append(torch.from_numpy(self.sub.apply(img) == 255))
        m = torch.stack(masks)[:, None]
        return Decomposition(background=clip, foreground=torch.zeros_like(clip), masks=m)


def run_method(name, method, seq, out, cfg, *, window, fit=True):
    from bgsub.pipelines.evaluate import evaluate
    from bgsub.pipelines.fit import fit_on_video
    from bgsub.pipelines.run import decompose_video

    if hasattr(method, "progress"):
        method.progress = False
    fit_info = fit_on_video(method, seq, cfg=cfg, seed=cfg.train.seed) if fit else {"fit_seconds": 0.0}
    if out.exists():
        shutil.rmtree(out)
    run = decompose_video(method, seq, out, cfg=cfg, window=window, progress=False)
    ev = evaluate(out, seq)
    s = ev["scores"]
    row = {
        "method": name,
        "train_s": fit_info["fit_seconds"],
        "f": s["f_measure"], "precision": s["precision"], "recall": s["recall"],
        "frames": run["frames"], "fps": run["fps"],
        "method_fps": run["frames"] / run["method_seconds"] if run["method_seconds"] > 0 else float("inf"),
        "scored_frames": ev["frames"],
    }
    print(f"  {name:10s} train {row['train_s']:7.1f} s  F {row['f']:.3f} (P {row['precision']:.3f} "
          f"R {row['recall']:.3f})  segment {row['fps']:6.1f} fps end to end, {row['method_fps']:6.1f} fps method",
          flush=True)
    return row


def epoch_seconds(cfg, frames, epochs=4):
    """Median seconds per training epoch (the first one, warm-up, dropped)."""
    from bgsub.training import build_model, train_model

    from bgsub.training import build_model, train_model

    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs, save_every=0))
    state = train_model(build_model(cfg), frames, cfg, progress=False)
    sec = sorted(r["seconds"] for r in state.history[1:])
    return sec[len(sec) // 2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data", help="folder holding the CDnet sequences")
    ap.add_argument("--sequences", nargs="*", default=["cdnet-highway", "cdnet-office"])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (stated in the results)")
    ap.add_argument("--config", default="cpu-fast", help="U-Net preset (default: configs/cpu-fast.yaml)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="section.key=value override")
    ap.add_argument("--out", default="/tmp/bench_unet")
    ap.add_argument("--methods", nargs="*", default=["unet", "rpca-ialm", "mog2"])
    ap.add_argument("--no-tricks", action="store_true", help="skip the speed-trick and paper-preset timings")
    ap.add_argument("--repeat", type=int, default=1, help="timing repeats for the trick table (best is kept)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import cv2

    cv2.setNumThreads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="bgsub: %(message)s", stream=sys.stderr)
    from bgsub.config import load_config

    cfg = load_config(args.config, args.sets)
    base_cfg = load_config(None, [])  # rpca and mog2 run with the defaults (Otsu per frame, no median)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "threads": args.threads, "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
        "config": args.config, "sets": args.sets, "unet_config": cfg.to_dict(), "sequences": {},
    }
    for seq_name in args.sequences:
        seq = data / seq_name
        if not (seq / "input").is_dir():
            print(f"{seq}: absent, skipped", flush=True)
            continue
        print(f"{seq_name}:", flush=True)
        rows = []
        for name in args.methods:
            if name == "unet":
                m = _method_or_none("unet", cfg)
                rows.append(run_method("unet", m, seq, out / seq_name / "unet", cfg, window=cfg.segment.batch))
            elif name.startswith("rpca"):
                m = _method_or_none(name, base_cfg)
                if m is None:
                    print(f"  {name}: not registered, skipped", flush=True)
                    continue
                rows.append(run_method(name, m, seq, out / seq_name / name, base_cfg, window=base_cfg.rpca.window))
            elif name == "mog2":
                m = _method_or_none("mog2", base_cfg) or _MOG2Direct()
                rows.append(run_method(m.name, m, seq, out / seq_name / "mog2", base_cfg, window=64, fit=False))
        results["sequences"][seq_name] = rows

    if not args.no_tricks and (data / args.sequences[0] / "input").is_dir():
        from bgsub.io.frames import read_clip
        from bgsub.pipelines.fit import sample_numbers

        seq = data / args.sequences[0]
        nums = sample_numbers(seq, 50, cfg=base_cfg, seed=0)
        frames = read_clip(seq, numbers=nums, grayscale=True, scale=cfg.input.scale).frames
        full = read_clip(seq, numbers=nums, grayscale=True, scale=1.0).frames
        tricks = []
        print(f"seconds per epoch, N = 50 frames of {args.sequences[0]} at scale {cfg.input.scale}, "
              f"{args.threads} threads (best of {args.repeat}):", flush=True)
        for bf16, cl, crop in [(False, False, 0), (True, False, 0), (False, True, 0), (True, True, 0),
                               (True, True, 128), (False, False, 128)]:
            c = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, bf16=bf16, channels_last=cl, crop=crop,
                                                                   device="cpu"))
            sec = min(epoch_seconds(c, frames) for _ in range(args.repeat))
            tricks.append({"bf16": bf16, "channels_last": cl, "crop": crop, "seconds_per_epoch": sec})
            print(f"  bf16={bf16!s:5} channels_last={cl!s:5} crop={crop:<4d} {sec:.3f} s/epoch", flush=True)
        results["tricks"] = tricks
        paper = load_config("paper", ["train.device=cpu"])
        rows = []
        for bf16 in (False, True):
            c = dataclasses.replace(paper, train=dataclasses.replace(paper.train, bf16=bf16, channels_last=bf16))
            sec = min(epoch_seconds(c, full, epochs=2) for _ in range(args.repeat))
            rows.append({"bf16_channels_last": bf16, "seconds_per_epoch": sec,
                         "hours_for_2000_epochs": sec * 2000 / 3600})
            print(f"paper preset (518,433 params, N = 50 full {full.shape[-1]}x{full.shape[-2]} frames), "
                  f"bf16+channels_last={bf16}: {sec:.2f} s/epoch ({sec * 2000 / 3600:.2f} h for 2000 epochs)",
                  flush=True)
        results["paper_epoch"] = rows

    md = [f"Threads: {args.threads}; U-Net preset: {args.config or 'defaults'} {' '.join(args.sets)}", "",
          "| sequence | method | train s | F | precision | recall | segment fps (end to end) | method fps |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for seq_name, rows in results["sequences"].items():
        for r in rows:
            md.append(f"| {seq_name} | {r['method']} | {r['train_s']:.1f} | {r['f']:.3f} | {r['precision']:.3f} | "
                      f"{r['recall']:.3f} | {r['fps']:.1f} | {r['method_fps']:.1f} |")
    text = "\n".join(md) + "\n"
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(text)


if __name__ == "__main__":
    main()
