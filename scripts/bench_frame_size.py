#!/usr/bin/env python
"""Time and peak memory of the zero-shot ``bgsub segment`` (the shipped network, no --model), ``bgsub train``,
``segment --model`` (the default U-Net trained on the video) and the ``median`` and ``mog2`` baselines against
frame size, on a CDnet sequence upscaled from 240p to 4K; and a quality check at 1080p.

    python scripts/bench_frame_size.py --data ../shared/data/cdnet-highway --frames 400 \\
        --sizes 240p,720p,1080p,4K --threads 2 --out /tmp/bench_frame_size
    python scripts/bench_frame_size.py --data ../shared/data/cdnet-highway --quality --threads 2

Upscaled copies (bicubic, JPEG quality 90) of the first ``--frames`` frames are made under ``--work`` (a temporary
folder, removed at the end unless ``--keep``; 400 4K frames take about 1 GB). Each command runs as its own
subprocess (``python -m bgsub``, the code of ``--code``, default this checkout), with ``--threads`` torch and
OpenCV threads; wall time is measured around the process (start-up included) and peak RSS is the child's
``ru_maxrss`` (``os.wait4``: the whole process, as ``/usr/bin/time -v`` reports it). ``--no-train`` measures the
zero-shot segment (and the baselines) only. ``segment fps`` is the command's own frames per second (reading,
network, writing masks at native size: end to end, without start-up).
``median`` and ``mog2`` run through ``bgsub batch -m NAME`` (fit on their frames, then every frame). CPU seconds
(user + system, from the same ``wait4``) are kept in results.json: on a machine other jobs load, wall time is an
upper bound and CPU time / threads a rough guide to what a quiet machine gives.

``--quality``: frames 1..``--quality-frames`` (700) at their native size and upscaled to 1080p, the ground truth
upscaled the same way (nearest neighbour; ``ROI.bmp`` too; ``temporalROI.txt`` as is, so frames 470..700 are
scored), then train + segment + ``bgsub evaluate`` on both: F of the 1080p run against the native one.

Writes OUT/results.json and OUT/results.md and prints the Markdown table. ``--set KEY=VALUE`` passes config
overrides to every bgsub command (e.g. ``input.max_pixels=0`` to measure without the working-size budget).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"240p": (320, 240), "360p": (640, 360), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
         "1440p": (2560, 1440), "4K": (3840, 2160)}
REPO = Path(__file__).resolve().parents[1]


def _numbered(folder: Path) -> dict[int, Path]:
    sys.path.insert(0, str(REPO))
    from bgsub.io.frames import numbered_files

    return numbered_files(folder)


def upscale_sequence(src: Path, dst: Path, size: tuple[int, int], *, frames: int, gt: bool = False,
                     threads: int = 2) -> Path:
    """``dst/input/in%06d.jpg``: frames 1..``frames`` of ``src`` resized to ``size`` (W, H) bicubic, JPEG q90;
    with ``gt``: ``groundtruth/`` and ``ROI.bmp`` resized nearest, ``temporalROI.txt`` copied."""
    import cv2

    cv2.setNumThreads(threads)
    inp = src / "input" if (src / "input").is_dir() else src / "in"
    files = [p for n, p in _numbered(inp).items()][:frames]
    (dst / "input").mkdir(parents=True, exist_ok=True)
    for p in files:
        n = int("".join(c for c in p.stem if c.isdigit()) or 0)
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if (img.shape[1], img.shape[0]) != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(dst / "input" / f"in{n:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if gt:
        (dst / "groundtruth").mkdir(exist_ok=True)
        gts = _numbered(src / "groundtruth")
        keep = {int("".join(c for c in p.stem if c.isdigit())) for p in files}
        for n, p in gts.items():
            if n not in keep:
                continue
            m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(dst / "groundtruth" / f"gt{n:06d}.png"), m)
        roi = cv2.imread(str(src / "ROI.bmp"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(dst / "ROI.bmp"), cv2.resize(roi, size, interpolation=cv2.INTER_NEAREST))
        shutil.copy(src / "temporalROI.txt", dst / "temporalROI.txt")
    return dst


def run(args: list[str], *, code: Path, threads: int, log: Path) -> dict:
    """Run ``python -m bgsub ARGS`` and return wall seconds, peak RSS (bytes), exit code and its --json output."""
    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "bgsub", *args]
    t0 = time.perf_counter()
    with open(log, "ab") as err:
        err.write(("\n$ " + " ".join(cmd) + "\n").encode())
        err.flush()
        # run in the checkout: `python -m` puts the working directory first on sys.path, before PYTHONPATH
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=str(code))
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = None
    text = out.decode(errors="replace").strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            result = json.loads(candidate)
            break
        except ValueError:
            continue
    return {"cmd": " ".join(["bgsub", *args]), "rc": proc.returncode, "seconds": seconds,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss": usage.ru_maxrss * 1024, "result": result}


def bench_size(name: str, folder: Path, work: Path, *, code: Path, threads: int, sets: list[str],
               methods: list[str], log: Path, train: bool = True) -> dict:
    extra = [a for s in sets for a in ("--set", s)]
    th = ["--threads", str(threads)]
    row: dict = {"size": name}
    model = work / f"{name}.pt"
    masks = work / f"{name}-masks"
    # zero-shot: the default `bgsub segment VIDEO -o OUT`, the shipped network, nothing trained
    row["zero_shot"] = run(["segment", str(folder), "-o", str(masks), *th, "--json", *extra], code=code,
                           threads=threads, log=log)
    shutil.rmtree(masks, ignore_errors=True)
    if train:
        r = run(["train", str(folder), "-o", str(model), *th, "--json", *extra], code=code, threads=threads, log=log)
        row["train"] = r
        if r["rc"] == 0:
            r = run(["segment", str(folder), "--model", str(model), "-o", str(masks), *th, "--json", *extra],
                    code=code, threads=threads, log=log)
            row["segment"] = r
            shutil.rmtree(masks, ignore_errors=True)
    for m in methods:
        out = work / f"{name}-{m}"
        row[m] = run(["batch", str(folder), "-o", str(out), "-m", m, *th, *extra], code=code, threads=threads,
                     log=log)
        shutil.rmtree(out, ignore_errors=True)
    return row


def _gb(n: float) -> str:
    return f"{n / 1024 ** 3:.2f}"


def table(rows: list[dict], frames: int, methods: list[str]) -> str:
    cols = ["size", "zero-shot segment frames/s", "zero-shot s (cpu s)", "zero-shot peak GiB", "train s (cpu s)",
            "train peak GiB", "segment frames/s (end to end)", "segment s (cpu s)", "segment peak GiB"]
    cols += [c for m in methods for c in (f"{m} s (cpu s)", f"{m} peak GiB")]
    lines = ["| " + " | ".join(cols) + " |", "| --- " * len(cols) + "|"]
    for row in rows:
        def cell(r, key):
            if r is None:
                return "-"
            if r["rc"] != 0:
                return f"failed (rc {r['rc']})"
            if key == "s":
                cpu = r.get("cpu_seconds")
                return f"{r['seconds']:.1f}" + (f" ({cpu:.0f})" if cpu is not None else "")
            return _gb(r["peak_rss"])
        t, s, z = row.get("train"), row.get("segment"), row.get("zero_shot")

        def fps(r):
            f = r["result"]["fps"] if r and r["rc"] == 0 and r.get("result") else None
            return f"{f:.1f}" if f else "-"

        cells = [row["size"], fps(z), cell(z, "s"), cell(z, "gb"), cell(t, "s"), cell(t, "gb"), fps(s), cell(s, "s"),
                 cell(s, "gb")]
        for m in methods:
            cells += [cell(row.get(m), "s"), cell(row.get(m), "gb")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quality(data: Path, work: Path, *, frames: int, code: Path, threads: int, sets: list[str], log: Path) -> dict:
    extra = [a for s in sets for a in ("--set", s)]
    th = ["--threads", str(threads)]
    res = {}
    for name, size in (("native", None), ("1080p", SIZES["1080p"])):
        import cv2

        first = next(iter(_numbered(data / "input").values()))
        img = cv2.imread(str(first))
        native = (img.shape[1], img.shape[0])
        seq = upscale_sequence(data, work / f"q-{name}", size or native, frames=frames, gt=True, threads=threads)
        model, masks = work / f"q-{name}.pt", work / f"q-{name}-masks"
        t = run(["train", str(seq), "-o", str(model), *th, "--json", *extra], code=code, threads=threads, log=log)
        s = run(["segment", str(seq), "--model", str(model), "-o", str(masks), *th, "--json", *extra], code=code,
                threads=threads, log=log)
        e = run(["evaluate", str(masks), "--gt", str(seq), "--json"], code=code, threads=threads, log=log)
        scores = (e.get("result") or {}).get("scores", {})
        res[name] = {"train": t, "segment": s, "evaluate": e, "f_measure": scores.get("f_measure"),
                     "precision": scores.get("precision"), "recall": scores.get("recall"),
                     "frames_scored": (e.get("result") or {}).get("frames")}
        print(f"quality {name}: F={scores.get('f_measure')} P={scores.get('precision')} R={scores.get('recall')} "
              f"train {t['seconds']:.1f} s {_gb(t['peak_rss'])} GiB, segment "
              f"{(s.get('result') or {}).get('fps', float('nan')):.1f} frames/s {_gb(s['peak_rss'])} GiB", flush=True)
    if res["native"]["f_measure"] is not None and res["1080p"]["f_measure"] is not None:
        res["f_difference"] = res["1080p"]["f_measure"] - res["native"]["f_measure"]
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a CDnet sequence folder (input/, groundtruth/)")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--sizes", default="240p,720p,1080p,4K", help=f"comma-separated, of {', '.join(SIZES)}")
    ap.add_argument("--methods", default="median,mog2", help="baselines run through bgsub batch ('' for none)")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_frame_size"))
    ap.add_argument("--work", type=Path, default=None, help="folder for the upscaled copies (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the upscaled copies")
    ap.add_argument("--code", type=Path, default=REPO, help="the bgsub checkout to run (PYTHONPATH)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override for every command")
    ap.add_argument("--no-train", dest="train", action="store_false",
                    help="only the zero-shot segment (and the baselines): no training, no trained segment")
    ap.add_argument("--quality", action="store_true", help="the 1080p quality check instead of the size sweep")
    ap.add_argument("--quality-frames", type=int, default=700)
    a = ap.parse_args(argv)
    a.code = a.code.resolve()
    if not (a.data / "input").is_dir() and not (a.data / "in").is_dir():
        print(f"{a.data}: not a sequence folder; skipped", file=sys.stderr)
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_frame_size.", dir=a.work)) if not a.keep or a.work is None \
        else a.work
    log = a.out / "commands.log"
    started = _dt.datetime.now(_dt.timezone.utc)
    meta = {"started": started.isoformat(timespec="seconds"), "threads": a.threads, "frames": a.frames,
            "data": str(a.data), "code": str(a.code), "sets": a.sets, "machine": platform.processor() or
            platform.machine(), "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        if a.quality:
            res = quality(a.data, work, frames=a.quality_frames, code=a.code, threads=a.threads, sets=a.sets, log=log)
            meta["load_after"] = os.getloadavg()
            (a.out / "quality.json").write_text(json.dumps({"meta": meta, **res}, indent=1, default=str))
            print(json.dumps({k: v for k, v in res.items() if k == "f_difference"}))
            return 0
        methods = [m for m in a.methods.split(",") if m]
        rows = []
        for name in a.sizes.split(","):
            if name not in SIZES:
                raise SystemExit(f"unknown size {name!r} (valid: {', '.join(SIZES)})")
            t0 = time.perf_counter()
            folder = upscale_sequence(a.data, work / name, SIZES[name], frames=a.frames, threads=a.threads)
            print(f"{name}: {a.frames} frames upscaled in {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
            row = bench_size(name, folder, work, code=a.code, threads=a.threads, sets=a.sets, methods=methods,
                             log=log, train=a.train)
            row["load"] = os.getloadavg()
            rows.append(row)
            print(table([row], a.frames, methods).splitlines()[-1], flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            (a.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
        meta["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        md = table(rows, a.frames, methods)
        (a.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
        (a.out / "results.md").write_text(
            f"bench_frame_size: {a.frames} frames of {a.data.name}, threads {a.threads}, {meta['started']} - "
            f"{meta['finished']}, load before {meta['load_before']}\n\n{md}\n")
        print(md)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
