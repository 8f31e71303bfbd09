"""What thresholding a background reference can reach on each sequence, and what a recent background would change.

    python scripts/probe_reference.py --data ../shared/data [--window 20] [--step 1] [--sequences ucsd-surf,...]

A research probe behind the README's note on ``ucsd-surf`` (issue 9), not a method: no network is trained. For each
sequence, in colour, with the default background settings (:mod:`bgsub.background`):

- ``reference, k = K``: the default reference (conservative median of the first ``background.init`` frames, each
  pixel's noise level, illumination offset), foreground where z > K, for K in ``--ks``. The best K per sequence is
  picked **with the ground truth**: an upper bound on what any single threshold of that input reaches, for the
  argument only. Every column scores the thresholded z itself (no median filter of the masks, no holes filled: the
  ``reference`` method's with ``threshold.median=0`` and ``threshold.fill=false``).
- ``recent``: a centred recent background instead, estimated the same way from the frames within ``--window``
  frames of each frame (frames closer than 3 left out, so the frame's own object is not in it), foreground where
  z > k (the default k).
- ``both``: foreground where the frame is more than k noise levels off both the default reference and the recent
  one: the recent background taken as a second background mode (a pixel that matches either is background, as in
  multi-modal models), BSUV-Net's "recent background" used without labels.
- ``two modes``: a second background mode per pixel from the initialisation window itself (the median and noise
  level of the samples more than k noise levels off the first mode, kept where at least ``--rho`` of the window's
  samples are within k of it: the multi-modal background of MOG and ViBe's sample consensus); background where
  the frame matches either mode.
- ``low rank``: the background of each frame is the reference plus a combination of the ``--rank`` leading
  principal components of the window's residuals (in noise levels, outlier samples zeroed), fitted to the frame
  by least squares over the pixels within k (three reweighting rounds): the low-rank L of robust PCA instead of
  the reference's rank-two (median + offset) background.

CDnet scoring (:mod:`bgsub.metrics`); ``--step N`` scores every Nth scored frame (the recent background costs one
estimate per scored frame). Prints a markdown table; skips cleanly (exit 0, a message) when the data folder is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

SEQUENCES = ("cdnet-highway", "cdnet-office", "ucsd-birds", "ucsd-boats", "ucsd-peds", "ucsd-surf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sequences", default=",".join(SEQUENCES))
    ap.add_argument("--ks", default="4,6,8,12,16", help="thresholds of the default reference (noise levels)")
    ap.add_argument("--window", type=int, default=20, help="half-width of the recent background, frames")
    ap.add_argument("--rho", type=float, default=0.2, help="two modes: the second mode's share of the window")
    ap.add_argument("--rank", type=int, default=4, help="low rank: principal components of the window")
    ap.add_argument("--step", type=int, default=1, help="score every Nth scored frame")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    if not a.data.is_dir():
        print(f"{a.data}: no data folder, nothing to probe")
        return 0
    import numpy as np
    import torch

    from bgsub.background import MAD_TO_SIGMA, background_for, estimate_from, residual
    from bgsub.config import Config
    from bgsub.io.frames import read_clip
    from bgsub.io.layout import find_ground_truth, read_labels, split_labels
    from bgsub.metrics import Counts, confusion, scores

    torch.set_num_threads(a.threads)
    bc = Config().background
    ks = [float(k) for k in a.ks.split(",")]
    print(f"| sequence | {' | '.join(f'k = {k:g}' for k in ks)} | best k | recent (+-{a.window}) | both | two modes "
          f"(rho {a.rho:g}) | low rank ({a.rank}) |")
    print("| --- |" + " ---: |" * (len(ks) + 5))
    K = bc.k

    def second_mode(init, ref):
        """(bg2 (C, H, W), sigma2 (1, H, W), has2 (1, H, W) bool) from the window's samples off the first mode."""
        xi = init - (background_for(ref, init) - ref.background)  # illumination offsets removed
        off = (xi - ref.background).abs().amax(1, keepdim=True) > K * ref.sigma
        bg2 = torch.nanmedian(torch.where(off, xi, torch.full_like(xi, float("nan"))), 0).values
        d2 = torch.where(off, (xi - bg2).abs().amax(1, keepdim=True), torch.full_like(off, float("nan"), dtype=xi.dtype))
        s2 = torch.nanmedian(d2, 0).values * MAD_TO_SIGMA
        s2 = torch.where(torch.isnan(s2), ref.sigma, s2).clamp(min=ref.sigma_floor)
        has2 = ((d2 <= K * s2) & off).float().mean(0) >= a.rho
        return torch.nan_to_num(bg2), s2, has2

    def basis(init, ref):
        """(rank, C*H*W): leading right singular vectors of the window's residuals in noise levels."""
        r = (init - background_for(ref, init)) / ref.sigma
        r = torch.where(r.abs().amax(1, keepdim=True) > K, torch.zeros_like(r), r).flatten(1)
        return torch.linalg.svd(r, full_matrices=False)[2][: a.rank]

    def low_rank_z(frame, ref, V):
        """max-over-channel residual (H, W) after the frame's robust least-squares fit on the basis V."""
        r = ((frame - background_for(ref, frame)) / ref.sigma).flatten(1)[0]
        e = r
        for _ in range(3):
            w = (e.view(frame.shape[1:]).abs().amax(0) <= K).float().repeat(frame.shape[1], 1, 1).flatten()
            c = torch.linalg.solve((V * w) @ V.T + 1e-6 * torch.eye(V.shape[0]), (V * w) @ r)
            e = r - c @ V
        return e.view(frame.shape[1:]).abs().amax(0)
    for name in a.sequences.split(","):
        seq = a.data / name
        if not seq.is_dir():
            print(f"{seq}: absent, skipped", file=sys.stderr)
            continue
        t0 = time.time()
        frames = seq / ("input" if (seq / "input").is_dir() else "in")
        clip = read_clip(frames, grayscale=False)
        x, T = clip.frames, clip.frames.shape[0]
        gt = find_ground_truth(None, seq)
        scored = set(gt.scored_numbers())
        idx = [i for i, n in enumerate(clip.numbers) if n in scored][:: a.step]
        ref = estimate_from(x, bc)
        init = x[: max(1, min(bc.init, T))]
        bg2, s2, has2 = second_mode(init, ref)
        V = basis(init, ref)
        counts = {key: Counts() for key in [*ks, "recent", "both", "two", "lowrank"]}
        for i in idx:
            pos, valid = split_labels(read_labels(gt.files[clip.numbers[i]]), gt.policy)
            if gt.roi is not None:
                valid = valid & gt.roi
            z = residual(ref, x[i : i + 1]).amax(1)[0].numpy()
            for k in ks:
                counts[k] += confusion(z > k, pos, valid)
            near = [j for j in range(max(0, i - a.window), min(T, i + a.window + 1)) if abs(j - i) > 2]
            recent = estimate_from(x[near], replace(bc, init=len(near)))
            zr = residual(recent, x[i : i + 1]).amax(1)[0].numpy()
            counts["recent"] += confusion(zr > bc.k, pos, valid)
            counts["both"] += confusion((zr > bc.k) & (z > bc.k), pos, valid)
            frame = x[i : i + 1]
            z2 = ((frame - (background_for(ref, frame) - ref.background) - bg2).abs() / s2).amax(1)[0]
            z2 = torch.where(has2[0], z2, torch.full_like(z2, float("inf"))).numpy()
            counts["two"] += confusion((z > K) & (z2 > K), pos, valid)
            counts["lowrank"] += confusion(low_rank_z(frame, ref, V).numpy() > K, pos, valid)
        f = {key: scores(c)["f_measure"] for key, c in counts.items()}
        best = max(ks, key=lambda k: f[k])
        cells = [f"{f[k]:.3f}" for k in ks] + [f"{best:g} ({f[best]:.3f})", f"{f['recent']:.3f}", f"{f['both']:.3f}",
                                                                     f"{f['two']:.3f}", f"{f['lowrank']:.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        print(f"{name}: {len(idx)} frames scored, {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
