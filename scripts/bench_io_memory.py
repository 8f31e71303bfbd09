"""Peak memory of streaming a long video: does it stay flat with length?

Writes a synthetic video (default 10,000 frames, 160x120, MJPG) with ``bgsub synth --video``, then in fresh
subprocesses reads it (a) frame by frame in chunks of 64, (b) with --stride 10, and (c) frame by frame, recording
the resident set size (VmRSS) after 1,000 / 2,500 / 5,000 / 10,000 frames and the process peak (VmHWM).
For contrast, (d) loads the first 2,000 frames into one tensor (what streaming avoids).

    python scripts/bench_io_memory.py [--frames 10000] [--workdir /tmp/bgsub-mem]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from bgsub.io import iter_chunks, iter_frames, read_clip

def rss():
    out = {}
    for line in open('/proc/self/status'):
        if line.startswith(('VmRSS', 'VmHWM')):
            k, v = line.split(':'); out[k] = int(v.split()[0]) / 1024
    return out

mode, path = sys.argv[1], sys.argv[2]
marks = {1000, 2500, 5000, 10000, 20000}
rows = []
t0 = time.perf_counter()
n = 0
if mode == 'chunks':
    for c in iter_chunks(path, chunk=64):
        for _ in c.numbers:
            n += 1
            if n in marks: rows.append((n, rss()['VmRSS']))
elif mode == 'stride':
    for k, f in iter_frames(path, stride=10):
        n += 1
        if k in marks or k + 9 in marks: rows.append((k, rss()['VmRSS']))
elif mode == 'frames':
    for k, f in iter_frames(path):
        n += 1
        if n in marks: rows.append((n, rss()['VmRSS']))
elif mode == 'clip':
    c = read_clip(path, end=2000)
    n = len(c.numbers)
    rows.append((n, rss()['VmRSS']))
print(json.dumps({'mode': mode, 'frames': n, 'seconds': time.perf_counter() - t0,
                  'rss_mib': rows, 'peak_mib': rss()['VmHWM']}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bgsub-mem"))
    args = ap.parse_args()
    video = args.workdir / "input.avi"
    if not video.is_file():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bgsub", "synth", str(args.workdir), "--frames", str(args.frames),
                        "--video", "--width", "160", "--height", "120"], check=True, stdout=subprocess.DEVNULL)
        print(f"wrote {video} ({args.frames} frames) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"| mode | frames read | RSS (MiB) at frame 1000 / 2500 / 5000 / 10000 | peak (MiB) | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for mode in ("chunks", "stride", "frames", "clip"):
        out = subprocess.run([sys.executable, "-c", CHILD, mode, str(video)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout)
        marks = " / ".join(f"{m:.0f}" for _, m in r["rss_mib"])
        print(f"| {mode} | {r['frames']} | {marks} | {r['peak_mib']:.0f} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
