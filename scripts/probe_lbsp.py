#!/usr/bin/env python3
"""Probe (offline; ground truth only to pick clean samples and to score): would a local binary similarity pattern
(LBSP, St-Charles & Bilodeau 2014, the texture cue of LOBSTER and SuBSENSE) tell a flat object from a swaying
textured background where the sample model's texture density cannot?

    python scripts/probe_lbsp.py --clip DIR [--size 120x160] [--first 36] [--tr 0.1,0.2,0.3] [--rows 10:46]

Each frame (grey, area-averaged to ``--size``) gets a 12-bit pattern per pixel (LBSP-like: LBSP's own has 16
neighbours in its 5 x 5 square): bit i is set when the i-th of 12 neighbours (the 8 at distance 2 on the even
lattice, the 4 diagonal ones) differs from the pixel by more than ``tr`` times its value (at least 10 grey
levels) plus 3 grey levels. Each pixel's samples are its patterns in the clip's first
``--first`` frames where the ground truth (dilated by 3 pixels) calls it background; a later frame's distance is
the second smallest Hamming distance to them (two matches, as the sample model asks). Printed per threshold: the
share of foreground interior pixels (the ground truth eroded by 2) at that distance or more, and of background
pixels (more than 3 pixels from any foreground), over the frames after ``--first``, within ``--rows`` (the
``dynamic`` scenario's leaves at 160 x 120: rows 10 to 46, its ``band_rows``).

Measured (twenty-third session, docs/RESEARCH.md): the ``dynamic`` scenario (seed 0, 150 frames) at 160 x 120,
``--rows 10:46``, the walker in front of the swaying leaves: tr 0.1, distance >= 5: 0.64 of the walker's interior
against 0.001 of the leaves (>= 6: 0.36 against 0.000); tr 0.3 (LBSP's usual) 0.04 at >= 4. The sample model's
texture channel, thresholded alone, finds 0.02 of the walker there. An optimistic probe: its samples are picked
clean by the ground truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

RING = [(dy, dx) for dy in (-2, -1, 0, 1, 2) for dx in (-2, -1, 0, 1, 2)
        if (max(abs(dy), abs(dx)) == 2 and (dy + dx) % 2 == 0) or (abs(dy) == 1 and abs(dx) == 1)]  # 12 neighbours


def lbsp(img: np.ndarray, tr: float, floor: float = 10.0, offset: float = 3.0) -> np.ndarray:
    """(12, h, w) bool: each pixel's pattern, bit i set where |neighbour i - pixel| > tr * max(pixel, floor) +
    offset (grey levels; neighbours beyond the frame mirrored, OpenCV's BORDER_REFLECT_101)."""
    img = np.asarray(img, np.float32)
    h, w = img.shape
    p = np.pad(img, 2, mode="reflect")
    thr = tr * np.maximum(img, floor) + offset
    return np.stack([np.abs(p[2 + dy: 2 + dy + h, 2 + dx: 2 + dx + w] - img) > thr for dy, dx in RING])


def _frames(clip: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ins = sorted((clip / "input").glob("*.png")) + sorted((clip / "input").glob("*.jpg"))
    gts = sorted((clip / "groundtruth").glob("*.png"))
    if not ins or len(gts) != len(ins):
        raise SystemExit(f"{clip}: expected input/ frames and as many groundtruth/ masks (bgsub synth's layout)")
    h, w = size
    g = np.stack([cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32), (w, h),
                             interpolation=cv2.INTER_AREA) for f in ins])
    m = np.stack([cv2.resize((cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) > 127).astype(np.float32), (w, h),
                             interpolation=cv2.INTER_AREA) > 0.5 for f in gts])
    return g, m


def separation(g: np.ndarray, m: np.ndarray, first: int, tr: float, rows: slice = slice(None)
               ) -> tuple[np.ndarray, np.ndarray]:
    """The second-smallest Hamming distances of the foreground interior's and the background's pixels within
    ``rows`` (each a 1-D array over the frames after ``first``) to their clean samples' patterns."""
    ring = np.ones((7, 7), np.uint8)
    clean = np.stack([~(cv2.dilate(x.astype(np.uint8), ring) > 0) for x in m[:first]])  # (K, h, w)
    samples = np.stack([lbsp(x, tr) for x in g[:first]])  # (K, 12, h, w)
    fg, bg = [], []
    for t in range(first, g.shape[0]):
        ham = (samples != lbsp(g[t], tr)[None]).sum(axis=1).astype(np.float32)  # (K, h, w)
        ham[~clean] = np.inf  # only the samples where the pixel was background
        d2 = np.sort(ham, axis=0)[1]
        inner = cv2.erode(m[t].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        outer = ~(cv2.dilate(m[t].astype(np.uint8), ring) > 0)
        ok = np.zeros_like(inner)
        ok[rows] = True
        ok &= np.isfinite(d2)
        fg.append(d2[inner & ok])
        bg.append(d2[outer & ok])
    return np.concatenate(fg), np.concatenate(bg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", required=True, type=Path, help="a bgsub synth folder (input/, groundtruth/)")
    ap.add_argument("--size", default="120x160", help="HxW the frames are area-averaged to (the working size)")
    ap.add_argument("--first", type=int, default=36, help="the frames the samples come from")
    ap.add_argument("--tr", default="0.1,0.2,0.3", help="relative thresholds to try")
    ap.add_argument("--rows", default="", help="Y0:Y1, the rows scored (default: all)")
    a = ap.parse_args(argv)
    h, w = (int(v) for v in a.size.lower().split("x"))
    g, m = _frames(a.clip, (h, w))
    rows = slice(*(int(v) for v in a.rows.split(":"))) if a.rows else slice(None)
    if g.shape[0] <= a.first:
        print(f"{a.clip}: {g.shape[0]} frames, no more than --first {a.first}", file=sys.stderr)
        return 2
    print("| tr | distance >= | foreground found | background marked | foreground median | background p99 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for tr in (float(v) for v in a.tr.split(",")):
        fg, bg = separation(g, m, a.first, tr, rows)
        for thr in (4, 5, 6, 8):
            print(f"| {tr} | {thr} | {np.mean(fg >= thr):.2f} | {np.mean(bg >= thr):.3f} | {np.median(fg):.0f} | "
                  f"{np.percentile(bg, 99):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
