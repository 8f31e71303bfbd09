"""Whole-job wall time, start-up included: zero-shot ``bgsub segment VIDEO -o OUT`` against a plain OpenCV MOG2
script (read, apply, write PNG masks), side by side: one core each with ``--pin``.

    python scripts/bench_whole_job.py --data ../shared/data/cdnet-highway [--short 90] [--repeat 2] \
        [--pin] [--io] [--also segment.engine=torch]

Runs each command as a subprocess (``OMP_NUM_THREADS=1``, ``--threads 1``; OpenCV single-threaded) on the whole
sequence and on a copy of its first ``--short`` frames, alternating the two, and prints a markdown table of the
median wall times, the median CPU time (user + system) and their ratios. bgsub's bytecode is compiled first
(``compileall``, as ``pip install`` does for a wheel): where ``PYTHONDONTWRITEBYTECODE`` is set (this machine's
environment sets it) an editable checkout's modules would otherwise be compiled from source on every run, about
0.1 s of each command's start-up that no installed copy pays. ``--threads 1`` sets one thread for the
arithmetic, but ``bgsub segment`` still overlaps reading and the background model (one thread) with the network
(another) and the PNG writes: on a machine with two free cores its wall time is below its CPU time. ``--pin`` runs
every command on one core (``sched_setaffinity``), the strict reading of "one thread": there wall ~ CPU. ``--also
KEY=VALUE`` (repeatable) times a third command in the same rotation:
the zero-shot segment with those ``--set`` overrides (e.g. ``segment.engine=torch``, the network through torch as
before the OpenCV engine). Skips cleanly when the data folder is absent.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bgsub as bgsub_package

MOG2 = r'''
import sys, os, cv2
cv2.setNumThreads(1)
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
names = sorted(f for f in os.listdir(src) if f.endswith((".jpg", ".png")))
m = cv2.createBackgroundSubtractorMOG2()
io_only = len(sys.argv) > 3 and sys.argv[3] == "io"  # the reading and writing alone: blank masks
for i, f in enumerate(names):
    img = cv2.imread(os.path.join(src, f))
    mask = (img[:, :, 0] * 0) if io_only else m.apply(img)
    cv2.imwrite(os.path.join(out, "bin%06d.png" % (i + 1)), mask)
'''


def timed(cmd: list[str], env: dict, pin: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of ``cmd``; ``pin``: on the first core we may use."""
    core = {min(os.sched_getaffinity(0))} if pin else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   preexec_fn=(lambda: os.sched_setaffinity(0, core)) if pin else None)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/cdnet-highway"))
    ap.add_argument("--short", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--pin", action="store_true", help="run every command on one core (the strict one thread)")
    ap.add_argument("--io", action="store_true",
                    help="also time the MOG2 script without MOG2 (read each frame, write a blank mask): what "
                         "reading and writing alone cost, the part of the budget bgsub pays as well")
    ap.add_argument("--also", action="append", default=[], metavar="KEY=VALUE",
                    help="also time the zero-shot segment with these --set overrides (repeatable)")
    a = ap.parse_args(argv)
    src = a.data / "input" if (a.data / "input").is_dir() else a.data
    if not src.is_dir():
        print(f"{a.data}: absent, nothing to measure")
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    compileall.compile_dir(str(Path(bgsub_package.__file__).parent), quiet=1)  # as pip does at install
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
            t_b, t_m, t_a, t_i = [], [], [], []
            for r in range(a.repeat):
                t_m.append(timed([sys.executable, str(script), str(clip), str(work / f"m{r}")], env, a.pin))
                if a.io:
                    t_i.append(timed([sys.executable, str(script), str(clip), str(work / f"i{r}"), "io"], env, a.pin))
                t_b.append(timed(bgsub + [str(clip), "-o", str(work / f"b{r}"), "--threads", "1"], env, a.pin))
                if also:
                    t_a.append(timed(bgsub + [str(clip), "-o", str(work / f"a{r}"), "--threads", "1", *also], env,
                                     a.pin))
            med = lambda ts, i: statistics.median(t[i] for t in ts)  # noqa: E731
            n = len(os.listdir(clip))
            rows.append((name, n, *(med(t, i) for t in (t_b, t_m) for i in (0, 1)),
                         *((med(t_a, 0), med(t_a, 1)) if t_a else (None, None))))
            fmt = lambda ts: ", ".join(f"{w:.2f}/{c:.2f}" for w, c in ts)  # noqa: E731
            print(f"{name} (wall/CPU s): bgsub {fmt(t_b)}; mog2 {fmt(t_m)}"
                  + (f"; read + write only {fmt(t_i)} (median {med(t_i, 0):.2f} s)" if t_i else "")
                  + (f"; with {' '.join(a.also)} {fmt(t_a)}" if t_a else ""), file=sys.stderr, flush=True)
        cores = "one core (--pin)" if a.pin else f"{len(os.sched_getaffinity(0))} cores free to use"
        print(f"medians of {a.repeat}; {cores}; wall = whole process, CPU = user + system")
        head = ("| input | frames | `bgsub segment` (zero-shot) wall / CPU s | MOG2 script wall / CPU s "
                "| ratio wall / CPU |")
        rule = "| --- | ---: | ---: | ---: | ---: |"
        if also:
            head += f" with {' '.join(a.also)} wall / CPU s | ratio wall / CPU |"
            rule += " ---: | ---: |"
        print(head)
        print(rule)
        for name, n, bw, bc, mw, mc, xw, xc in rows:
            line = f"| {name} | {n} | {bw:.2f} / {bc:.2f} | {mw:.2f} / {mc:.2f} | {bw / mw:.2f}x / {bc / mc:.2f}x |"
            if xw is not None:
                line += f" {xw:.2f} / {xc:.2f} | {xw / mw:.2f}x / {xc / mc:.2f}x |"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
