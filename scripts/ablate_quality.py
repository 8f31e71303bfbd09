"""Ablation of the detection-quality levers: every configuration on every sequence, one table.

    python scripts/ablate_quality.py --data ../shared/data --out ablation [--jobs 2] [--only unet,unet-tv0] [--in-order]

Each configuration is a registered method plus ``--set``-style overrides of the defaults, changed one lever at a
time from the default recipe (``unet``: the U-Net given the background reference, trained on the support energy).
Each (sequence, configuration) pair is fitted, segmented and scored with the CDnet rules by the same code as
``bgsub benchmark`` (:func:`bgsub.jobs.run_one`); pairs run in parallel worker processes
(``--jobs``, ``--threads`` torch threads each). Writes ``OUT/ablation.json`` and prints a markdown table of F per
sequence, the mean, and the mean train seconds. Skips cleanly (exit 0, a message) when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

CONFIGS: dict[str, tuple[str, list[str]]] = {
    # the inputs alone
    "median": ("median", []),
    "reference": ("reference", []),
    "reference-k5": ("reference", ["background.k=5"]),
    "reference-k4": ("reference", ["background.k=4"]),
    "reference-shift1": ("reference", ["background.shift=1"]),
    "reference-shift2": ("reference", ["background.shift=2"]),
    # the default and one lever at a time
    "unet": ("unet", []),
    "unet-tv0": ("unet", ["train.tv=0"]),
    "unet-tv0.3": ("unet", ["train.tv=0.3"]),
    "unet-tv2": ("unet", ["train.tv=2"]),
    "unet-tv3": ("unet", ["train.tv=3"]),
    "unet-k5": ("unet", ["background.k=5"]),
    "unet-k4": ("unet", ["background.k=4"]),
    "unet-cap4": ("unet", ["train.cap=4"]),
    "unet-1pass": ("unet", ["background.passes=1"]),
    "unet-nocomp": ("unet", ["background.compensate=none"]),
    "unet-shift1": ("unet", ["background.shift=1"]),
    "unet-shift2": ("unet", ["background.shift=2"]),
    "unet-gray": ("unet", ["input.grayscale=true"]),
    "unet-fullres": ("unet", ["model.pixels=0"]),
    "unet-steps800": ("unet", ["train.epochs=800"]),
    # smaller networks (speed)
    "unet-base6": ("unet", ["model.base_channels=6"]),
    "unet-base4": ("unet", ["model.base_channels=4"]),
    "unet-convs1": ("unet", ["model.convs=1"]),
    "unet-px12k": ("unet", ["model.pixels=12288"]),
    "unet-skip-add": ("unet", ["model.skip=add"]),
    "unet-skip-add-seed1": ("unet", ["model.skip=add", "train.seed=1"]),
    "unet-skip-add-seed2": ("unet", ["model.skip=add", "train.seed=2"]),
    # the energy's own per-pixel decision as the logits' starting point, the network learning the correction
    "unet-unary": ("unet", ["model.unary=true"]),
    "unet-unary-seed1": ("unet", ["model.unary=true", "train.seed=1"]),
    "unet-unary-seed2": ("unet", ["model.unary=true", "train.seed=2"]),
    # the recipe before the unary term, and other training seeds (initial weights, crops; the frames drawn stay):
    # how much of a difference is chance
    "unet-nounary": ("unet", ["model.unary=false"]),
    "unet-nounary-seed1": ("unet", ["model.unary=false", "train.seed=1"]),
    "unet-nounary-seed2": ("unet", ["model.unary=false", "train.seed=2"]),
    # a smooth (quadratic) illumination field per frame instead of one offset per channel
    "reference-smooth": ("reference", ["background.compensate=smooth"]),
    "unet-smooth": ("unet", ["background.compensate=smooth"]),
    "unet-smooth-seed1": ("unet", ["background.compensate=smooth", "train.seed=1"]),
    "unet-smooth-seed2": ("unet", ["background.compensate=smooth", "train.seed=2"]),
    # a few labelled frames (issue 10): K ground-truth masks, Eq. 14, labelled frames not scored
    "unet-1label": ("unet", ["train.label_frames=1"]),
    "unet-5labels": ("unet", ["train.label_frames=5"]),
    "unet-20labels": ("unet", ["train.label_frames=20"]),
    # a sparse-factorization first layer (Koch & Corso's CSF) in the U-Net, with and without labels
    "unet-csf": ("unet", ["model.stem=csf"]),
    "unet-csf-1label": ("unet", ["model.stem=csf", "train.label_frames=1"]),
    "unet-csf-5labels": ("unet", ["model.stem=csf", "train.label_frames=5"]),
    "unet-csf-20labels": ("unet", ["model.stem=csf", "train.label_frames=20"]),
    # the previous round's recipe of the paper's network
    "unet-cpu-fast": ("unet", ["@cpu-fast"]),
}


def _job(args: tuple) -> dict:
    name, method, overrides, seq_name, seq, out, threads = args
    import torch

    torch.set_num_threads(threads)
    from bgsub.config import load_config
    from bgsub.jobs import run_one

    preset = next((o[1:] for o in overrides if o.startswith("@")), None)
    cfg = load_config(preset, [o for o in overrides if not o.startswith("@")])
    t0 = time.perf_counter()
    try:
        rec = run_one(method, Path(seq), Path(out) / name / seq_name, cfg=cfg, seed=0)
        return {"config": name, "sequence": seq_name, "status": "ok", "f": rec["scores"]["f_measure"],
                "precision": rec["scores"]["precision"], "recall": rec["scores"]["recall"],
                "train_seconds": rec["train_seconds"], "fps": rec["fps"], "seconds": time.perf_counter() - t0}
    except Exception as exc:  # one failed pair does not stop the table
        return {"config": name, "sequence": seq_name, "status": f"failed: {exc}", "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="ablation")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated configuration names (default: all)")
    ap.add_argument("--sequences", default="", help="comma-separated sequence names (default: all)")
    ap.add_argument("--in-order", action="store_true",
                    help="run the configurations in the order of --only (default: the slow pairs first)")
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not data.is_dir():
        print(f"ablate_quality: {data}: no data folder, nothing to do", file=sys.stderr)
        return 0
    from bgsub.pipelines.benchmark import find_sequences

    seqs = find_sequences(data)
    if a.sequences:
        keep = set(a.sequences.split(","))
        seqs = [s for s in seqs if s[0] in keep]
    names = a.only.split(",") if a.only else list(CONFIGS)
    jobs = [(n, *CONFIGS[n], s, str(p), a.out, a.threads) for n in names for s, p in seqs]
    # the slow pairs first, so parallel workers finish together (--in-order: only within each configuration)
    rank = {n: i for i, n in enumerate(names)}
    jobs.sort(key=lambda j: (rank[j[0]], j[3].startswith("ucsd")) if a.in_order else (j[3].startswith("ucsd"), j[0]))
    results = []
    Path(a.out).mkdir(parents=True, exist_ok=True)

    def keep(r: dict) -> None:  # written after every pair, so a stopped run keeps what it measured
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
        (Path(a.out) / "ablation.json").write_text(json.dumps(results, indent=1))
    if a.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(a.jobs) as pool:
            for r in pool.imap_unordered(_job, jobs):
                keep(r)
    else:
        for j in jobs:
            keep(_job(j))
    seq_names = [s for s, _ in seqs]
    print("| configuration | " + " | ".join(seq_names) + " | mean F | train s (mean) |")
    print("| --- |" + " ---: |" * (len(seq_names) + 2))
    for n in names:
        row = {r["sequence"]: r for r in results if r["config"] == n}
        fs = [row[s]["f"] for s in seq_names if s in row and "f" in row[s]]
        cells = [f"{row[s]['f']:.3f}" if s in row and "f" in row[s] else "fail" for s in seq_names]
        ts = [row[s]["train_seconds"] for s in seq_names if s in row and "f" in row[s]]
        mean = f"{sum(fs) / len(fs):.3f}" if len(fs) == len(seq_names) else "-"
        print(f"| {n} | " + " | ".join(cells) + f" | {mean} | {sum(ts) / max(1, len(ts)):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
