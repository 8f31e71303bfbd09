"""Whole-job wall time, start-up included: zero-shot ``bgsub segment VIDEO -o OUT`` against a plain OpenCV MOG2
script (read, apply, write PNG masks), side by side, one thread each.

    python scripts/bench_whole_job.py --data ../shared/data/cdnet-highway [--short 90] [--repeat 2] \
        [--also segment.engine=torch]

Runs each command as a subprocess (``OMP_NUM_THREADS=1``, ``--threads 1``; OpenCV single-threaded) on the whole
sequence and on a copy of its first ``--short`` frames, alternating the two, and prints a markdown table of the
median wall times and their ratio. ``--also KEY=VALUE`` (repeatable) times a third command in the same rotation:
the zero-shot segment with those ``--set`` overrides (e.g. ``segment.engine=torch``, the network through torch as
before the OpenCV engine). Skips cleanly when the data folder is absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOG2 = r'''
import sys, os, cv2
cv2.setNumThreads(1)
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
names = sorted(f for f in os.listdir(src) if f.endswith((".jpg", ".png")))
m = cv2.createBackgroundSubtractorMOG2()
for i, f in enumerate(names):
    mask = m.apply(cv2.imread(os.path.join(src, f)))
    cv2.imwrite(os.path.join(out, "bin%06d.png" % (i + 1)), mask)
'''


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/cdnet-highway"))
    ap.add_argument("--short", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--also", action="append", default=[], metavar="KEY=VALUE",
                    help="also time the zero-shot segment with these --set overrides (repeatable)")
    a = ap.parse_args(argv)
    src = a.data / "input" if (a.data / "input").is_dir() else a.data
    if not src.is_dir():
        print(f"{a.data}: absent, nothing to measure")
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    work = Path(tempfile.mkdtemp(prefix="bgsub-wholejob."))
    try:
        short = work / "short"
        short.mkdir()
        frames = [f for f in sorted(os.listdir(src)) if f.lower().endswith((".jpg", ".jpeg", ".png"))]
        if not frames:
            print(f"{a.data}: no .jpg or .png frames in {src} (give one sequence folder, e.g. "
                  "../shared/data/cdnet-highway)", file=sys.stderr)
            return 2
        for f in frames[: a.short]:
            shutil.copy(src / f, short / f)
        script = work / "mog2.py"
        script.write_text(MOG2)
        bgsub = [sys.executable, "-m", "bgsub", "--quiet", "segment"]
        also = [x for kv in a.also for x in ("--set", kv)]
        rows = []
        for name, clip in ((src.parent.name, src), (f"first {a.short} frames", short)):
            t_b, t_m, t_a = [], [], []
            for r in range(a.repeat):
                t_m.append(timed([sys.executable, str(script), str(clip), str(work / f"m{r}")], env))
                t_b.append(timed(bgsub + [str(clip), "-o", str(work / f"b{r}"), "--threads", "1"], env))
                if also:
                    t_a.append(timed(bgsub + [str(clip), "-o", str(work / f"a{r}"), "--threads", "1", *also], env))
            b, m = statistics.median(t_b), statistics.median(t_m)
            n = len(os.listdir(clip))
            rows.append((name, n, b, m, statistics.median(t_a) if t_a else None))
            print(f"{name}: bgsub {t_b}, mog2 {t_m}" + (f", with {' '.join(a.also)} {t_a}" if t_a else ""),
                  file=sys.stderr, flush=True)
        head = "| input | frames | `bgsub segment` (zero-shot) s | MOG2 script s | ratio |"
        rule = "| --- | ---: | ---: | ---: | ---: |"
        if also:
            head += f" with {' '.join(a.also)} s | ratio |"
            rule += " ---: | ---: |"
        print(head)
        print(rule)
        for name, n, b, m, x in rows:
            line = f"| {name} | {n} | {b:.2f} | {m:.2f} | {b / m:.2f}x |"
            if x is not None:
                line += f" {x:.2f} | {x / m:.2f}x |"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
