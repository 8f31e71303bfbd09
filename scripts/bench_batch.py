#!/usr/bin/env python
"""Benchmark of ``bgsub batch`` (a script, not a test): videos per minute for 1 and 2 workers, in-process and on
Ray, and the overhead of Ray over in-process for one video.

The same 6 short synthetic clips (``bgsub synth``: 100 frames of 120 x 160, seeds 1..6) and a fast method
(``rpca-ialm`` by default, about 3 s a clip on one core here), one torch thread per video (``--threads 1`` and
``OMP_NUM_THREADS=1``), so that 2 workers use 2 cores. Each configuration is the ``bgsub batch`` command a user
would type, timed from launch to exit (Python start-up and, for Ray, the instance's start included) into a
fresh output folder:

- local, 1 worker: ``bgsub batch clips -o OUT -m METHOD``;
- local, 2 workers: two such processes at once, ``--shard 1/2`` and ``--shard 2/2`` (the local engine runs one
  video at a time; parallel local work is several processes over shards);
- Ray, 1 and 2 workers: ``--engine ray --workers N --cpus-per-video 1`` (an embedded local Ray instance).

Overhead of Ray for one video, measured in this process on the first clip: the in-process job time, the time to
start a local Ray instance, and submit-to-result of the same job on Ray with a cold worker (a new worker process
imports torch and bgsub) and with a warm one, against the job's own time as measured inside the worker.

Usage (from the repository root, Ray installed: ``pip install -e '.[ray]'``)::

    python scripts/bench_batch.py                      # prints a markdown table; --json FILE to keep numbers
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--method", default="rpca-ialm")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--work", default="/tmp/bench_batch", help="scratch folder (emptied)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--skip-ray", action="store_true")
    return p.parse_args(argv)


def bgsub(*args: str) -> list[str]:
    return [sys.executable, "-m", "bgsub", "-q", *args]


def timed(cmds: list[list[str]]) -> float:
    """Start the commands at once; seconds until the last one exits (exit 0 required)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p, c in zip(procs, cmds):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c)} failed ({p.returncode}): {err.strip()[-500:]}")
    return time.perf_counter() - t0


def job_seconds(out: Path) -> list[float]:
    return [json.loads(x)["seconds"] for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]


def overhead(clip: Path, work: Path, method: str) -> dict[str, float]:
    from bgsub.config import Config
    from bgsub.engines import make_engine
    from bgsub.pipelines.batch import process_video

    cfg = Config()
    kw = dict(method=method, cfg=cfg, seed=0, truth=str(clip), threads=1)
    process_video(str(clip), str(work / "warmup"), "c", **kw)  # imports and first-call costs out of the way
    t0 = time.perf_counter()
    process_video(str(clip), str(work / "inproc"), "c", **kw)
    local = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng = make_engine("ray", workers=1, cpus_per_job=1)
    start = time.perf_counter() - t0
    res = {"in_process_s": local, "ray_start_s": start}
    try:
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            eng.submit(label, process_video, str(clip), str(work / f"ray-{label}"), "c", **kw)
            (o,) = list(eng.results())
            if not o.ok:
                raise SystemExit(f"ray job failed: {o.error}")
            res[f"ray_{label}_s"] = time.perf_counter() - t0
            res[f"ray_{label}_job_s"] = o.value["seconds"]
    finally:
        eng.close()
    return res


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bgsub.synth import synth

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    clips = work / "clips"
    for i in range(1, args.clips + 1):
        synth(clips / f"clip{i}", frames=args.frames, seed=i)
    n = args.clips
    common = [str(clips), "-m", args.method, "--threads", "1"]
    rows = []

    def run(label: str, workers: int, cmds: list[list[str]], outs: list[Path]) -> None:
        wall = timed(cmds)
        secs = [s for o in outs for s in job_seconds(o)]
        assert len(secs) == n, (label, len(secs))
        rows.append({"engine": label, "workers": workers, "wall_s": wall, "videos_per_min": n * 60 / wall,
                     "mean_job_s": sum(secs) / n})
        print(f"{label} x{workers}: {wall:.1f} s, {n * 60 / wall:.1f} videos/min, mean job {sum(secs) / n:.2f} s",
              file=sys.stderr, flush=True)

    run("local", 1, [bgsub("batch", *common, "-o", str(work / "local1"))], [work / "local1"])
    run("local (2 shards)", 2, [bgsub("batch", *common, "-o", str(work / "local2"), "--shard", f"{i}/2")
                                for i in (1, 2)], [work / "local2"])
    if not args.skip_ray:
        for w in (1, 2):
            out = work / f"ray{w}"
            run("ray", w, [bgsub("batch", *common, "-o", str(out), "--engine", "ray", "--workers", str(w),
                                 "--cpus-per-video", "1")], [out])
    over = None if args.skip_ray else overhead(clips / "clip1", work / "overhead", args.method)

    import torch

    env = {"cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
           "torch_threads_per_video": 1, "method": args.method, "clips": n, "frames": args.frames,
           "size": "120x160", "torch": torch.__version__, "load_average_at_end": os.getloadavg()}
    try:
        import ray

        env["ray"] = ray.__version__
    except ImportError:
        pass
    print(f"\n{n} clips of {args.frames} frames (120 x 160), {args.method}, 1 torch thread per video, "
          f"{os.cpu_count()} cores\n")
    print("| engine | workers | wall (s) | videos/min | mean job (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['engine']} | {r['workers']} | {r['wall_s']:.1f} | {r['videos_per_min']:.1f} | "
              f"{r['mean_job_s']:.2f} |")
    if over:
        print(f"\nOne video: in-process job {over['in_process_s']:.2f} s; Ray instance start "
              f"{over['ray_start_s']:.1f} s; "
              f"on Ray, submit to result {over['ray_cold_s']:.2f} s with a cold worker (job itself "
              f"{over['ray_cold_job_s']:.2f} s), {over['ray_warm_s']:.2f} s warm (job {over['ray_warm_job_s']:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"env": env, "rows": rows, "overhead": over}, indent=2) + "\n")


if __name__ == "__main__":
    main()
