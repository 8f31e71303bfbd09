"""Make the shipped network (``bgsub/weights/unet.pt``) and measure it honestly: zero-shot, leave-out folds.

    python scripts/pretrain.py --data ../shared/data --out bgsub/weights/unet.pt [--folds 4] [--steps 1500]
                               [--frames 100] [--synth 150] [--cuts 0] [--seed 0] [--norm-batches 0]
                               [--threads 2]
                               [--work DIR]
                               [--set model.skip=add ...]

No labels anywhere: every video's network inputs (log(1 + z) from its own background model, the default config)
and the support energy. Training videos: the sequences under ``--data`` (skipped cleanly when absent) and the
synthetic scenarios of ``bgsub synth`` (every scenario marked ``pretrain``: all but the moving cameras', ``jitter``,
``pan`` and ``track``; ``--synth`` frames at 120 x 160, made here), and with ``--cuts N``, N short cuts of each
real sequence (a seeded start, a seeded length from 14 frames to just under twice ``background.samples``: the
short-clip start of :mod:`bgsub.background.samples`, a regime whose inputs the whole videos never show). Seeded:
the same command gives the same weights on the same machine and torch version.

``--folds K`` (> 1): the real sequences are split into K folds (in a fixed order); for each fold a network is
pretrained without that fold's sequences (the synthetic clips always in) and scored zero-shot
(``unet-pretrained`` with ``model.weights``) on them with CDnet scoring: each sequence scored by weights that
never saw its frames. Then the shipped network is pretrained on everything and scored on every sequence too
(not zero-shot: it saw them). Prints markdown tables; writes ``WORK/pretrain.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

SEQUENCES = ("cdnet-highway", "cdnet-office", "ucsd-birds", "ucsd-boats", "ucsd-peds", "ucsd-surf", "sbi-board",
             "sbi-foliage")


def short_cuts(seqs: list[Path], n: int, *, longest: int, seed: int, shortest: int = 14):
    """``n`` cuts of each sequence, as (sequence, (first, last)) frame numbers (inclusive): a length drawn
    uniformly from [shortest, longest], a start uniformly among those that fit (seeded; a sequence shorter than
    the cut gives fewer frames)."""
    import random

    from bgsub.io.frames import list_frames

    rng = random.Random(seed + 104729)
    out = []
    for v in seqs:
        numbers = list_frames(v)
        for _ in range(n):
            length = min(rng.randint(shortest, longest), len(numbers))
            i = rng.randint(0, len(numbers) - length)
            out.append((v, (numbers[i], numbers[i + length - 1])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bgsub/weights/unet.pt"))
    ap.add_argument("--folds", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--frames", type=int, default=100, help="frames drawn per video beside its window")
    ap.add_argument("--synth", type=int, default=150, help="frames of each synthetic scenario (0 = none)")
    ap.add_argument("--synth-seeds", type=int, default=1, help="clips of each synthetic scenario (seeds seed..)")
    ap.add_argument("--cuts", type=int, default=0,
                    help="short cuts of each real sequence pretrained on beside it (a short clip's own inputs)")
    ap.add_argument("--proxies", type=Path, default=None,
                    help="the folder of scripts/make_proxies.py: each fold also scores the proxies made from its "
                         "held-out sequences (birds-14 from ucsd-birds), the shipped network all of them")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--norm-batches", type=int, default=0,
                    help="batch norm's statistics estimated again over this many batches after the steps (PreciseBN; "
                         "0, the default: the training's running average of its last steps; 300 cost the folds "
                         "0.006 and the shipped weights foliage 0.80 -> 0.69 in the twenty-fifth session)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="folder for clips, fold weights and masks")
    ap.add_argument("--no-ship", action="store_true", help="only the folds; do not write --out")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="a config override for the pretrained network (repeatable), e.g. model.skip=add")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    from bgsub.config import load_config
    from bgsub.pretraining import pretrain, video_inputs
    from bgsub.scenarios import SCENARIOS
    from bgsub.synth import synth
    from bgsub.training import TrainState, save_checkpoint

    work = a.work or Path(tempfile.mkdtemp(prefix="bgsub-pretrain."))
    work.mkdir(parents=True, exist_ok=True)
    from bgsub.methods.unet import UNetMethod

    # the defaults (with --set's overrides), with the input the network takes resolved (colour)
    cfg = UNetMethod(load_config(None, a.overrides)).cfg
    t0 = time.time()
    real = [a.data / s for s in SEQUENCES if (a.data / s).is_dir()]
    proxies = sorted(p for p in a.proxies.iterdir() if p.is_dir()) if a.proxies and a.proxies.is_dir() else []
    if not real:
        print(f"{a.data}: no sequences; pretraining on synthetic clips only", file=sys.stderr)
    clips = []
    if a.synth > 0:
        for name in sorted(n for n, sc in SCENARIOS.items() if sc.pretrain):
            for j in range(a.synth_seeds):
                d = work / "synth" / (name if j == 0 else f"{name}-{j}")
                if not (d / "synth.yaml").is_file():
                    synth(d, frames=a.synth, height=120, width=160, seed=a.seed + j, scenario=name)
                clips.append(d)
    pools: dict[str, torch.Tensor] = {}
    for v in real + clips:
        t1 = time.time()
        pools[str(v)] = video_inputs(v, cfg, frames=a.frames, seed=a.seed)
        print(f"inputs {v.name}: {tuple(pools[str(v)].shape)} in {time.time() - t1:.1f} s", file=sys.stderr,
              flush=True)
    cuts: dict[str, list[str]] = {str(v): [] for v in real}  # a sequence's cuts: held out with it
    for v, (start, end) in short_cuts(real, a.cuts, longest=2 * cfg.background.samples - 1, seed=a.seed):
        key = f"{v}@{start}-{end}"
        c = dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, start=start, end=end))
        pools[key] = video_inputs(v, c, frames=a.frames, seed=a.seed)
        cuts[str(v)].append(key)
        print(f"inputs {v.name} frames {start}-{end}: {tuple(pools[key].shape)}", file=sys.stderr, flush=True)
    record: dict = {"overrides": a.overrides, "steps": a.steps, "frames": a.frames, "synth": a.synth,
                    "synth_seeds": a.synth_seeds, "seed": a.seed, "threads": a.threads,
                    "videos": [str(v) for v in real + clips], "cuts": cuts, "folds": {}, "shipped": {}}

    def score(weights: Path, seqs: list[Path], tag: str) -> dict[str, float]:
        from bgsub.pipelines.benchmark import run_one

        out = {}
        for s in seqs:
            c = load_config(None, [f"model.weights={weights}"])
            r = run_one("unet-pretrained", s, work / "masks" / tag / s.name, cfg=c, seed=a.seed)
            out[s.name] = r["scores"]["f_measure"]
            print(f"{tag} {s.name}: F {out[s.name]:.3f} ({r['fps']:.0f} frames/s)", file=sys.stderr, flush=True)
        return out

    def make(train_on: list[Path], path: Path, tag: str) -> Path:
        t1 = time.time()
        keys = [str(v) for v in train_on] + [c for v in train_on for c in cuts.get(str(v), [])]
        model, hist = pretrain([pools[k] for k in keys], cfg, steps=a.steps, seed=a.seed,
                               progress=False, norm_batches=a.norm_batches)
        state = TrainState(epoch=a.steps, history=hist)
        save_checkpoint(path, model, cfg, state)
        record.setdefault("seconds", {})[tag] = time.time() - t1
        print(f"{tag}: pretrained on {len(keys)} videos and cuts, {a.steps} steps, {time.time() - t1:.0f} s -> "
              f"{path}", file=sys.stderr, flush=True)
        return path

    if a.folds > 1 and real:
        folds = [real[i :: a.folds] for i in range(a.folds)]
        for i, held in enumerate(folds):
            w = make([v for v in real if v not in held] + clips, work / f"fold{i + 1}.pt", f"fold{i + 1}")
            record["folds"][f"fold{i + 1}"] = {"held_out": [s.name for s in held], "f": score(w, held, f"fold{i + 1}")}
            if proxies:
                mine = [p for p in proxies if any(p.name.split("-")[0] == s.name.split("-", 1)[-1] for s in held)]
                record["folds"][f"fold{i + 1}"]["proxies"] = score(w, mine, f"fold{i + 1}")
    if not a.no_ship:
        w = make(real + clips, a.out, "shipped")
        if real:
            record["shipped"] = score(w, real, "shipped")
        if proxies:
            record["shipped_proxies"] = score(w, proxies, "shipped")
    record["total_seconds"] = time.time() - t0
    (work / "pretrain.json").write_text(json.dumps(record, indent=1))
    def proxy_row(label: str, f: dict[str, float]) -> None:
        ucsd = [x for n, x in f.items() if n.split("-")[0] in ("birds", "boats", "peds", "surf")]
        print(f"| {label} | {len(f)} | {sum(f.values()) / max(1, len(f)):.4f} | "
              f"{sum(ucsd) / max(1, len(ucsd)):.4f} |")

    if proxies:
        print("| proxies, weights | proxies | mean F | the UCSD cuts' mean F |")
        print("| --- | ---: | ---: | ---: |")
        zp = {n: x for fold in record["folds"].values() for n, x in fold.get("proxies", {}).items()}
        if zp:
            proxy_row("zero-shot (leave-out folds)", zp)
        if record.get("shipped_proxies"):
            proxy_row("shipped (saw every sequence)", record["shipped_proxies"])
    if record["folds"]:
        zs = {n: f for fold in record["folds"].values() for n, f in fold["f"].items()}
        names = [s.name for s in real]
        print("| weights | " + " | ".join(names) + " | mean |")
        print("| --- |" + " ---: |" * (len(names) + 1))
        print("| zero-shot (leave-out folds) | " + " | ".join(f"{zs[n]:.3f}" for n in names)
              + f" | {sum(zs.values()) / len(zs):.3f} |")
        if record["shipped"]:
            sh = record["shipped"]
            print("| shipped (saw every sequence) | " + " | ".join(f"{sh[n]:.3f}" for n in names)
                  + f" | {sum(sh.values()) / len(sh):.3f} |")
    print(f"work folder: {work}; {record['total_seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
