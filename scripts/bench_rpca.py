#!/usr/bin/env python
"""Benchmark of the RPCA solvers (a script, not a test).

Part 1, solvers on fixed matrices: the same matrix D, the same lambda = 1/sqrt(max(m, n)), the same tolerance
(1e-7 relative residual) and the same thread count for everyone:

- ``highway``: a 50-frame window (frames 470..519, grayscale) of CDnet highway, 76800 x 50;
- ``synth50`` and ``synth200``: a ``bgsub synth`` clip at the paper's 144 x 176 size, 25344 x 50 and 25344 x 200.

Compared: ``ialm`` (float32 and float64), ``apg`` and ``pfb`` (float32; Eq. 1 with the paper's lambda_* = 1,
stopping on the relative change of X, so their L differs from PCP's by the shrinkage bias), and
``pyrpca.rpca_pcp_ialm`` (float64 NumPy/SciPy, the reference; installed only for this benchmark:
``pip install pyrpca``). Seconds are the best of ``--repeats`` interleaved runs (apg and pfb: one run; other
work shares this machine); iterations;
final residual; relative difference of L to pyrpca's, ``||L - L_pyrpca||_F / ||L_pyrpca||_F``.

Part 2, ``bgsub rpca`` end to end (defaults: ialm, windows of 50, Otsu per frame) on CDnet highway and office:
F-measure on the scored frames (CDnet scoring by ``bgsub evaluate``) and frames per second (reading, solving,
thresholding and writing included).

Threads: ``--threads N`` sets OMP/OpenBLAS/MKL thread variables before NumPy and torch load, and
``torch.set_num_threads(N)``; run the script once per thread count. On a shared 2-core VM, 2 threads oversubscribe
badly (both pyrpca and ours get 3-10x slower and erratic): 1 thread gives the reproducible numbers.

Usage (from the repository root)::

    python scripts/bench_rpca.py --threads 1 --data ../shared/data
    python scripts/bench_rpca.py --threads 1 --skip-sequences --solvers ialm
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data", help="folder holding cdnet-highway and cdnet-office")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch and BLAS (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="runs per solver and matrix; the best is kept")
    p.add_argument("--solvers", default="ialm,ialm64,apg,pfb,pyrpca",
                   help="comma list from ialm, ialm64, apg, pfb, pyrpca")
    p.add_argument("--matrices", default="highway,synth50,synth200", help="comma list")
    p.add_argument("--eq1-max-iter", type=int, default=1000, help="max_iter of apg and pfb (default 1000)")
    p.add_argument("--skip-sequences", action="store_true", help="skip part 2 (bgsub rpca on CDnet)")
    p.add_argument("--sequences", default="cdnet-highway,cdnet-office")
    p.add_argument("--work", default="/tmp/bench_rpca", help="scratch folder for clips and masks")
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(ARGS.threads)

from bgsub.io.frames import read_clip  # noqa: E402
from bgsub.solvers import solve  # noqa: E402
from bgsub.solvers.common import default_lam  # noqa: E402

TOL = 1e-7


def load_matrices(names: list[str], data: Path, work: Path) -> dict[str, np.ndarray]:
    """name -> D (m, n) float64 in [0, 1], pixels x frames."""
    out: dict[str, np.ndarray] = {}
    if "highway" in names:
        seq = data / "cdnet-highway" / "input"
        if seq.is_dir():
            clip = read_clip(seq, start=470, end=519).frames
            out["highway"] = clip.reshape(clip.shape[0], -1).T.double().numpy().copy()
        else:
            print(f"# {seq} not found: skipping the highway matrix", file=sys.stderr)
    if {"synth50", "synth200"} & set(names):
        from bgsub.synth import synth

        seq = work / "synth144x176"
        if not (seq / "input").is_dir():
            synth(seq, height=144, width=176, frames=200, seed=0)
        clip = read_clip(seq / "input").frames
        D = clip.reshape(clip.shape[0], -1).T.double().numpy()
        if "synth50" in names:
            out["synth50"] = D[:, :50].copy()
        if "synth200" in names:
            out["synth200"] = D.copy()
    return out


def run_pyrpca(D: np.ndarray, lam: float) -> tuple[np.ndarray, float, int, float]:
    from pyrpca import rpca_pcp_ialm

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):  # verbose=True only to count the iterations
        L, S = rpca_pcp_ialm(D, lam, max_iter=1000, tol=TOL, verbose=True)
    seconds = time.perf_counter() - t0
    iters = sum(1 for line in buf.getvalue().splitlines() if line.startswith("iter"))
    return L, seconds, iters, float(np.linalg.norm(D - L - S) / np.linalg.norm(D))


def run_ours(kind: str, D: np.ndarray, lam: float) -> tuple[np.ndarray, float, int, float, bool]:
    name = {"ialm64": "ialm"}.get(kind, kind)
    dtype = torch.float64 if kind == "ialm64" else torch.float32
    Dt = torch.from_numpy(D).to(dtype)
    opts = dict(lam=lam, tol=TOL, trace=False)
    if name in ("apg", "pfb"):
        opts.update(max_iter=ARGS.eq1_max_iter, lam_star=1.0)
    L, _, info = solve(name, Dt, **opts)
    return L.double().numpy(), info.seconds, info.iterations, info.residual, info.converged


def part1() -> list[dict]:
    kinds = [k.strip() for k in ARGS.solvers.split(",") if k.strip()]
    names = [k.strip() for k in ARGS.matrices.split(",") if k.strip()]
    mats = load_matrices(names, Path(ARGS.data), Path(ARGS.work))
    rows = []
    for mname, D in mats.items():
        m, n = D.shape
        lam = default_lam(m, n)
        ref = None
        results = {}
        order = (["pyrpca"] if "pyrpca" in kinds else []) + [k for k in kinds if k != "pyrpca"]
        best: dict[str, tuple] = {}
        # interleaved repeats (pyrpca, ialm, ..., pyrpca, ialm, ...), so that load from other work on the machine
        # hits every solver alike; the best of the repeats is kept
        for rep in range(ARGS.repeats):
            for kind in order:
                if kind in ("apg", "pfb") and rep > 0:
                    continue
                if kind == "pyrpca":
                    L, sec, its, res = run_pyrpca(D, lam)
                    conv = res < TOL
                else:
                    L, sec, its, res, conv = run_ours(kind, D, lam)
                print(f"#   {mname} {kind} run {rep + 1}: {sec:.3f} s", file=sys.stderr, flush=True)
                if kind not in best or sec < best[kind][1]:
                    best[kind] = (L, sec, its, res, conv)
        for kind in order:
            L, sec, its, res, conv = best[kind]
            if kind == "pyrpca":
                ref = L
            diff = float(np.linalg.norm(L - ref) / np.linalg.norm(ref)) if ref is not None else float("nan")
            results[kind] = sec
            row = dict(matrix=mname, shape=f"{m}x{n}", solver=kind, threads=ARGS.threads, seconds=sec,
                       iterations=its, residual=res, converged=conv, rel_diff_L_to_pyrpca=diff)
            rows.append(row)
            print(f"{mname:9s} {m}x{n:<4d} {kind:7s} {sec:8.3f} s  {its:5d} it  res={res:.1e} "
                  f"dL={diff:.2e}", file=sys.stderr, flush=True)
        if "pyrpca" in results:
            for row in rows:
                if row["matrix"] == mname:
                    row["speedup_vs_pyrpca"] = results["pyrpca"] / row["seconds"]
    return rows


def part2() -> list[dict]:
    from bgsub import api
    from bgsub.config import Config, apply_dict

    rows = []
    for name in [s.strip() for s in ARGS.sequences.split(",") if s.strip()]:
        seq = Path(ARGS.data) / name
        if not seq.is_dir():
            print(f"# {seq} not found: skipping", file=sys.stderr)
            continue
        out = Path(ARGS.work) / f"rpca-{name}"
        cfg = apply_dict(Config(), {"rpca": {"threads": ARGS.threads, "device": "cpu"}})
        summary = api.rpca(seq / "input", out, cfg, progress=False)
        scores = api.evaluate(out, seq)["scores"]
        rows.append(dict(sequence=name, frames=summary["frames"], seconds=summary["seconds"], fps=summary["fps"],
                         method_seconds=summary["method_seconds"], iterations=summary["iterations"],
                         unconverged_windows=summary["unconverged_windows"], threads=summary["threads"],
                         precision=scores["precision"], recall=scores["recall"], f_measure=scores["f_measure"]))
        r = rows[-1]
        print(f"{name}: F={r['f_measure']:.4f} P={r['precision']:.4f} R={r['recall']:.4f} "
              f"{r['fps']:.1f} fps ({r['frames']} frames, {r['seconds']:.1f} s)", file=sys.stderr, flush=True)
    return rows


def markdown(rows1: list[dict], rows2: list[dict]) -> str:
    lines = [f"Threads: {ARGS.threads} (torch and BLAS). Tolerance {TOL:g}, lambda = 1/sqrt(max(m, n)); best of "
             f"{ARGS.repeats} runs (apg/pfb: one run).", "",
             "| matrix | solver | seconds | iterations | converged | rel. diff of L to pyrpca | speed-up vs pyrpca |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in rows1:
        lines.append(f"| {r['matrix']} {r['shape']} | {r['solver']} | {r['seconds']:.3f} | {r['iterations']} | "
                     f"{'yes' if r['converged'] else 'no (max_iter)'} | {r['rel_diff_L_to_pyrpca']:.2e} | "
                     f"{r.get('speedup_vs_pyrpca', float('nan')):.1f}x |")
    if rows2:
        lines += ["", "| sequence | frames | F-measure | precision | recall | fps | iterations (mean) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows2:
            lines.append(f"| {r['sequence']} | {r['frames']} | {r['f_measure']:.4f} | {r['precision']:.4f} | "
                         f"{r['recall']:.4f} | {r['fps']:.1f} | {r['iterations'].get('mean', 0):.1f} |")
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="bgsub: %(message)s", stream=sys.stderr)
    Path(ARGS.work).mkdir(parents=True, exist_ok=True)
    rows1 = part1()
    rows2 = [] if ARGS.skip_sequences else part2()
    print(markdown(rows1, rows2))
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps({"threads": ARGS.threads, "tol": TOL, "solvers": rows1,
                                               "sequences": rows2}, indent=2) + "\n")


if __name__ == "__main__":
    main()
