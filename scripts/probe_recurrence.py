"""Which value of a pixel is the scene: the one it stays at longest, or the one it keeps coming back to?

    python scripts/probe_recurrence.py --data ../shared/data [--sequences sbi-foliage,...] [--runs 3]

A research probe (issue 18, the busy start: leaves sweeping across the lens), not a method: offline, over the
whole video, grey levels at 160 x 120 (at most), one noise level for the frame (:func:`bgsub.background.stats.
noise_level`). Each pixel's time series is cut into *still runs*: maximal runs of ``--runs`` frames or more in which
it changes by less than ``tol`` = max(3 sigma, 6) grey levels from one frame to the next (in every channel); each
run has a value (its median). Two estimates of the pixel's scene:

- ``longest still``: the value of its longest still run (the stillest-frame start's idea: LaBGen, and
  :mod:`bgsub.background.stable` over the video);
- ``most recurrent``: the value the most runs come back to (within ``tol``; ties to the longer total time). A leaf
  that rests over a pixel is one long run; the scene it hides comes back, the same, each time a leaf leaves, while
  each passing leaf brings its own texture.

The ground truth only scores them: a pixel's estimate is *right* when it lies within ``tol`` of the median of the
frames the ground truth calls background there (pixels shown as background in fewer than 3 frames are not scored),
reported over all such pixels and over those shown as background in less than half of the frames; and each
estimate, thresholded at k noise levels (every frame against the one image), is scored as masks (CDnet's labels 85
and 170 left out, the ground truth resized to the working size). Prints a markdown table; skips a sequence whose
folder is absent.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SEQUENCES = ("sbi-foliage", "sbi-board", "cdnet-highway", "cdnet-office", "ucsd-birds", "ucsd-boats", "ucsd-peds",
             "ucsd-surf")


def _number(path: str) -> int:
    return int(re.findall(r"(\d+)", os.path.basename(path))[-1])


def load(folder: Path, pixels: int = 19200) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, C, h, w) float32 and ground truth (T, h, w) uint8 at the working size, the frames that have
    ground truth, in order."""
    inp = folder / "input" if (folder / "input").is_dir() else folder / "in"
    frames = sorted(glob.glob(str(inp / "*.jpg")) + glob.glob(str(inp / "*.png")), key=_number)
    gts = {_number(g): g for g in glob.glob(str(folder / "groundtruth" / "*.png"))}
    first = cv2.imread(frames[0])
    H, W = first.shape[:2]
    s = min(1.0, (pixels / (H * W)) ** 0.5)
    size = (max(1, round(W * s)), max(1, round(H * s)))
    xs, gs = [], []
    for f in frames:
        g = gts.get(_number(f))
        if g is None:
            continue
        xs.append(cv2.resize(cv2.imread(f), size, interpolation=cv2.INTER_AREA).astype(np.float32).transpose(2, 0, 1))
        gs.append(cv2.resize(cv2.imread(g, cv2.IMREAD_GRAYSCALE), size, interpolation=cv2.INTER_NEAREST))
    return np.stack(xs), np.stack(gs)


def estimates(x: np.ndarray, tol: float, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """(longest still, most recurrent), each (C, h, w) float32 (NaN where a pixel has no still run)."""
    T, C, h, w = x.shape
    still = np.zeros((T, h, w), bool)
    still[1:] = np.abs(np.diff(x, axis=0)).max(axis=1) < tol  # frame t continues frame t - 1
    a = np.full((C, h, w), np.nan, np.float32)
    b = a.copy()
    for yy in range(h):
        for xx in range(w):
            s = still[:, yy, xx]
            # runs: a frame that does not continue the one before starts a run
            starts = np.flatnonzero(~s)
            ends = np.append(starts[1:], T)
            keep = ends - starts >= min_run
            if not keep.any():
                continue
            starts, ends = starts[keep], ends[keep]
            px = x[:, :, yy, xx]
            vals = np.stack([np.median(px[i:j], axis=0) for i, j in zip(starts, ends)])
            lens = ends - starts
            a[:, yy, xx] = vals[np.argmax(lens)]
            close = np.abs(vals[:, None] - vals[None]).max(axis=2) < tol
            score = close.sum(1) * (T + 1) + (close * lens[None]).sum(1)
            b[:, yy, xx] = vals[np.argmax(score)]
    return a, b


def score_masks(x: np.ndarray, g: np.ndarray, bg: np.ndarray, thr: float) -> float:
    """F of every frame of ``x`` thresholded against the one image ``bg`` at ``thr`` (CDnet's labels 85 and 170
    not scored: :mod:`bgsub.metrics`)."""
    from bgsub.metrics import confusion, scores

    fg = np.abs(x - np.nan_to_num(bg, nan=-1e4)[None]).max(axis=1) > thr
    return scores(confusion(fg, g > 200, (g != 170) & (g != 85)))["f_measure"]


def main(argv: list[str] | None = None) -> int:
    from bgsub.background.stats import noise_level

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sequences", default=",".join(SEQUENCES))
    ap.add_argument("--runs", type=int, default=3, help="the shortest still run, frames")
    ap.add_argument("--k", type=float, default=4.0, help="the masks' threshold, noise levels")
    a = ap.parse_args(argv)
    print("| sequence | scored pixels | right: longest still / most recurrent | ... where the scene shows less than "
          f"half the time | F at k = {a.k:g}: longest still / most recurrent | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in a.sequences.split(","):
        folder = a.data / name
        if not folder.is_dir():
            print(f"{folder}: absent, skipped", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        x, g = load(folder)
        sig = noise_level(x)
        tol = max(3.0 * sig, 6.0)
        longest, recurrent = estimates(x, tol, a.runs)
        bgt = (g < 50)  # background in the ground truth (0); 85, 170 and 255 are not
        shown = bgt.sum(0)
        scored = shown >= 3
        truth = np.full(longest.shape, np.nan, np.float32)
        for yy, xx in zip(*np.nonzero(scored)):
            truth[:, yy, xx] = np.median(x[bgt[:, yy, xx], :, yy, xx], axis=0)
        right = [np.nan_to_num(np.abs(e - truth).max(axis=0), nan=np.inf) < tol for e in (longest, recurrent)]
        hard = scored & (shown < 0.5 * len(g))
        n, nh = int(scored.sum()), int(hard.sum())
        f = [score_masks(x, g, e, a.k * sig) for e in (longest, recurrent)]
        print(f"| {name} | {n} | {right[0][scored].mean():.3f} / {right[1][scored].mean():.3f} | "
              f"{(right[0][hard].mean() if nh else float('nan')):.3f} / "
              f"{(right[1][hard].mean() if nh else float('nan')):.3f} ({nh} pixels) | {f[0]:.3f} / {f[1]:.3f} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
