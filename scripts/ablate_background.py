"""The background models on their own: each thresholded at z > k (no network), on the real sequences.

    python scripts/ablate_background.py --data ../shared/data [--variants default,no-heal,...] [--jobs 2]

A research probe for choosing the default U-Net's background model (issue 18), one lever at a time. Each variant
is a background model run over the whole sequence, front to back, initialised on the first ``background.init``
frames; its mask is z > k at the model's working size, upsampled to the native size (bilinear on z). CDnet
scoring. Prints a markdown table (F per sequence and the mean); skips cleanly when the data folder is absent.

Besides the named variants below (the history of the search, as keyword arguments of ``SampleModel.initialise``),
a variant may be given as configuration: ``final`` is the background model exactly as ``bgsub segment`` builds it
from the defaults (``bgsub.background.state.start`` with ``Config().background``), and ``final:KEY=VALUE`` (several
joined with ``+``) the same with ``background.KEY=VALUE`` overridden, as ``--set`` would: the defaults with one
lever switched off. ``--levers`` runs ``final`` and every lever of :data:`LEVERS` off, one at a time::

    python scripts/ablate_background.py --data ../shared/data --levers --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SEQUENCES = ("cdnet-highway", "cdnet-office", "ucsd-birds", "ucsd-boats", "ucsd-peds", "ucsd-surf", "sbi-board",
             "sbi-foliage")

# name -> keyword arguments of SampleModel.initialise ("reference" = the static reference of bgsub.background)
DFLT7 = {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn", "open_horizon": 3000,
         "shadow": True, "shadow_min": 0.8, "short": 0.5}

VARIANTS = {
    "reference": None,  # the static reference (the previous default's input)
    "default": {},  # SampleModel.initialise's own defaults (not the config's: those are "dflt")
    "start-first": {"init": "first"},  # samples from the first frame (ViBe), not the frames of least motion
    "start-window": {"init": "window"},  # samples spread over the window
    "start-dense": {"init": "dense"},  # the window's densest values per pixel
    "no-clean": {"clean": False},  # samples more than k off their median kept (no conservative pass)
    "no-heal": {"heal": False},  # a wrong start never heals (ghosts stay)
    "no-update": {"update": False, "heal": False},  # the model never changes after the window
    "sigma-spread": {"dynamics": "both", "clean": False, "sigma_update": True},  # sigma from the samples'
    #                                     nearest-neighbour spread and frame differences, not their MAD
    "no-floor": {"dynamics": "diff"},  # sigma from frame differences, no frame-median floor
    "native": {"pixels": 0},  # the model at the frames' own size, not the network's
    "gain": {"gain": True},
    "smooth": {"smooth": True},
    "phi32": {"phi": 32},
    "phi64": {"phi": 64},
    "heal": {"heal": True, "still": 8},
    "k4": {"k": 4.0},
    "k8": {"k": 8.0},
    "matches1": {"matches": 1},
    "n30": {"n": 30},
    "reach8": {"reach": 8},
    "shift1": {"shift": 1},
    "texture": {"texture": True},
    "horizon300": {"horizon": 300},  # the stable start goes on, online, up to frame 300
    "h300-gain": {"horizon": 300, "gain": True},
    "h300-gain-shift1": {"horizon": 300, "gain": True, "shift": 1},
    "h300-gain-texture": {"horizon": 300, "gain": True, "texture": True},
    "h300-texture": {"horizon": 300, "texture": True},  # a texture channel (mean |neighbour difference| inside each working pixel)
    "h300-texture-nocensor": {"horizon": 300, "texture": True, "censor": False},  # saturated pixels compared
    #                                            two-sidedly, as any other (before this session)
    "h300-gain-texture-nocensor": {"horizon": 300, "gain": True, "texture": True, "censor": False},
    "h300-gain-texture-noabsorb": {"horizon": 300, "gain": True, "texture": True, "absorb": False},
    "h300-gain-texture-shadow": {"horizon": 300, "gain": True, "texture": True, "shadow": True},
    "h300-gain-texture-flow": {"horizon": 300, "gain": True, "texture": True, "motion": "flow"},
    "h300-gain-texture-both": {"horizon": 300, "gain": True, "texture": True, "motion": "both"},
    "dflt": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn"},  # the defaults
    "dflt-shadow": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn", "shadow": True},
    "dflt-nocomp": {"horizon": 300, "texture": True, "motion": "both", "dynamics": "nn", "compensate": False},
    "dflt-shadow08": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn", "shadow": True,
                      "shadow_min": 0.8},
    "dflt-open": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn",
                  "open_horizon": 100000},  # pixels the window never saw settle go on to the end
    "dflt-open600": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn",
                     "open_horizon": 600},
    "dflt-sh05-open": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn",
                       "open_horizon": 3000, "shadow": True, "shadow_min": 0.5},
    "dflt-sh08-open": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn",
                       "open_horizon": 3000, "shadow": True, "shadow_min": 0.8},
    "dflt-sh08-open-notex": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "nn",
                             "open_horizon": 3000, "shadow": True, "shadow_min": 0.8, "shadow_texture": False},
    "dflt7": DFLT7,  # the seventh session's defaults
    "dflt7-heal": {**DFLT7, "heal": True, "still": 8},
    "dflt8": {**DFLT7, "texture_region": 5},  # the eighth session's defaults: a region's texture
    "dflt8-tex3": {**DFLT7, "texture_region": 3},
    "dflt8-tex7": {**DFLT7, "texture_region": 7},
    "dflt8-settled": {**DFLT7, "texture_region": 5, "floor_over": "settled"},  # the floor over the settled pixels
    "dflt-h600": {"horizon": 600, "gain": True, "texture": True, "motion": "both", "dynamics": "nn"},
    "dflt-mad": {"horizon": 300, "gain": True, "texture": True, "motion": "both", "dynamics": "mad"},
    "gain-select": {"gain": True},  # a gain kept only when it brings back more pixels than the offset alone  # a neighbour's background (1 working pixel away) may explain the pixel
}


# The final defaults' levers, each switched off (or to the field's plainer choice) one at a time by --levers
LEVERS = (
    "model=reference",  # samples, not a median: the static median of the window and one noise level a pixel
    "start=first",  # the samples from the first frame and its neighbours (ViBe), not each pixel's stillest frames
    "start=window",  # the samples spread over the window, not each pixel's stillest frames
    "horizon=0+open_horizon=0",  # no online search for stiller frames after the window
    "horizon=300+open_horizon=3000",  # the search stops at frame 300, but where the window never saw a pixel
    #                                   still (the twelfth session's default)
    "motion=diff",  # stillness as frame differences only (LaBGen), not also as displacement
    "spread=nn",  # each pixel's noise level fitted to its samples (their spread: a sway's whole range), not the
    #               camera's for every pixel (the default since the thirtieth session)
    "spread=mad",  # each pixel's noise level the samples' MAD (spanning every mode), not the camera's
    "gain=false",  # the light as a per-channel offset only
    "compensate=none",  # no light compensation at all
    "texture=false",  # no texture channel
    "texture_region=1",  # each working pixel's own texture, not its region's
    "shadow=0",  # no cast-shadow test
    "update=0",  # the samples never change after the start (no ViBe update, so no healing)
    "matches=1",  # one matching sample is enough (ViBe's #min = 2)
)


def _final_config(variant: str):
    """The configuration a ``final`` or ``final:KEY=VALUE[+KEY=VALUE]`` variant names, or None for a named one
    (a bad setting: :class:`bgsub.errors.BgsubError`)."""
    if variant != "final" and not variant.startswith("final:"):
        return None
    from bgsub.config import load_config

    return load_config(None, [f"background.{kv}" for kv in variant[len("final:"):].split("+") if kv])


def _build(x, variant: str, n0: int):
    """The model a variant names, started on the first ``n0`` frames of ``x`` (the static reference of a named
    variant as None), and its k."""
    cfg = _final_config(variant)
    if cfg is not None:
        from bgsub.background.state import start

        return start(x[:n0], cfg.background, pixels=cfg.model.pixels), cfg.background.k
    kw = VARIANTS[variant]
    if kw is None:
        return None, 6.0
    from bgsub.background.samples import SampleModel

    model = SampleModel.initialise(x[:n0], **kw)
    return model, model.k


def run(seq: Path, variant: str, threads: int, init: int) -> tuple[str, str, float, float]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    from bgsub.background import estimate, residual
    from bgsub.io.frames import read_clip
    from bgsub.io.layout import find_ground_truth, read_labels, split_labels
    from bgsub.metrics import Counts, confusion, scores

    t0 = time.time()
    frames = seq / ("input" if (seq / "input").is_dir() else "in")
    clip = read_clip(frames, grayscale=False)
    x = clip.frames
    n0 = max(1, min(init, x.shape[0]))
    gt = find_ground_truth(None, seq)
    scored = set(gt.scored_numbers())
    counts = Counts()
    H, W = x.shape[-2:]
    model, k = _build(x, variant, n0)
    if model is None:
        ref = estimate(x[:n0])
    for i0 in range(0, x.shape[0], 32):
        chunk = x[i0 : i0 + 32]
        z = residual(ref, chunk) if model is None else model.step(chunk)
        r = z.amax(1, keepdim=True)
        if tuple(r.shape[-2:]) != (H, W):
            r = F.interpolate(r, size=(H, W), mode="bilinear", align_corners=False)
        for j in range(chunk.shape[0]):
            num = clip.numbers[i0 + j]
            if num not in scored:
                continue
            pos, valid = split_labels(read_labels(gt.files[num]), gt.policy)
            if gt.roi is not None:
                valid = valid & gt.roi
            counts += confusion(r[j, 0].numpy() > k, pos, valid)
    sc = scores(counts)
    print(f"{seq.name} {variant}: P {sc['precision']:.3f} R {sc['recall']:.3f}", file=sys.stderr, flush=True)
    return seq.name, variant, sc["f_measure"], time.time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sequences", default=",".join(SEQUENCES))
    ap.add_argument("--variants", default="reference,default")
    ap.add_argument("--init", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--levers", action="store_true", help="the final defaults and each lever of LEVERS off "
                    "(replaces --variants)")
    a = ap.parse_args(argv)
    if not a.data.is_dir():
        print(f"{a.data}: no data folder, nothing to run")
        return 0
    seqs = [a.data / s for s in a.sequences.split(",") if (a.data / s).is_dir()]
    variants = ["final"] + [f"final:{lv}" for lv in LEVERS] if a.levers else a.variants.split(",")
    from bgsub.errors import BgsubError

    for v in variants:
        try:  # a bad setting is a usage error here, not a traceback from a worker process
            final = _final_config(v) is not None
        except BgsubError as exc:
            ap.error(f"variant {v!r}: {exc}")
        if not final and v not in VARIANTS:
            ap.error(f"unknown variant {v!r} (valid: final, final:KEY=VALUE, {', '.join(VARIANTS)})")
    from concurrent.futures import ProcessPoolExecutor

    res: dict[tuple[str, str], float] = {}
    with ProcessPoolExecutor(a.jobs) as ex:
        futs = [ex.submit(run, s, v, a.threads, a.init) for v in variants for s in seqs]
        for f in futs:
            name, v, fm, sec = f.result()
            res[(name, v)] = fm
            print(f"{name} {v}: F {fm:.3f} ({sec:.0f} s)", file=sys.stderr, flush=True)
    names = [s.name for s in seqs]
    print("| variant | " + " | ".join(names) + " | mean |")
    print("| --- |" + " ---: |" * (len(names) + 1))
    for v in variants:
        fs = [res[(n, v)] for n in names]
        print(f"| {v} | " + " | ".join(f"{f:.3f}" for f in fs) + f" | {sum(fs) / len(fs):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
