"""``bgsub benchmark``: finding sequences, one code path for every method, resumable results, failure isolation,
contact sheets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bgsub.config import Config
from bgsub.io.layout import find_ground_truth, read_labels
from bgsub.methods.base import _REGISTRY, Decomposition, Method, register
from bgsub.pipelines.benchmark import benchmark, find_sequences
from bgsub.pipelines.evaluate import evaluate
from bgsub.pipelines.report import render_markdown


class _Calls:
    decompose = 0


class FakeMedian(Method):
    """S = clip - per-window temporal median: a tiny stateless method with a fit step that does nothing."""

    def fit_frames(self) -> int:
        return 5

    def fit(self, clip):
        assert clip.shape[0] == 5
        return self

    def decompose(self, clip):
        _Calls.decompose += 1
        bg = clip.median(dim=0, keepdim=True).values.expand_as(clip)
        return Decomposition(background=bg, foreground=clip - bg)


class Broken(Method):
    def decompose(self, clip):
        raise RuntimeError("boom\nsecond line")


@pytest.fixture
def fake_methods():
    """Register two throwaway methods for one test, and take them out again (other tests iterate the registry)."""
    for name, cls in (("test-median", FakeMedian), ("test-broken", Broken)):
        _REGISTRY.pop(name, None)
        register(name)(cls)
    yield
    for name in ("test-median", "test-broken"):
        _REGISTRY.pop(name, None)


def _ucsd(src: Path, dst: Path) -> Path:
    """Copy a CDnet-layout clip into the UCSD layout: in/frame_K.png (not padded), groundtruth/gtKKKK.png."""
    (dst / "in").mkdir(parents=True)
    (dst / "groundtruth").mkdir()
    for p in sorted((src / "input").iterdir()):
        shutil.copy(p, dst / "in" / f"frame_{int(p.stem[2:])}{p.suffix}")
    for p in sorted((src / "groundtruth").iterdir()):
        shutil.copy(p, dst / "groundtruth" / f"gt{int(p.stem[2:]):04d}.png")
    shutil.copy(src / "ROI.bmp", dst / "ROI.bmp")
    shutil.copy(src / "temporalROI.txt", dst / "temporalROI.txt")
    return dst


@pytest.fixture
def data_dir(small_clip, tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(small_clip, root / "cdnet" / "a-seq")
    _ucsd(small_clip, root / "b-ucsd")
    (root / "not-a-sequence").mkdir()
    (root / "not-a-sequence" / "notes.txt").write_text("x")
    return root


def test_find_sequences_cdnet_and_ucsd_layouts(data_dir, small_clip):
    found = find_sequences(data_dir)
    assert [n for n, _ in found] == ["b-ucsd", "cdnet/a-seq"]
    (data_dir / "cdnet" / "loop").symlink_to(data_dir)  # a link loop is walked once
    (data_dir / "linked").symlink_to(small_clip)  # a symlinked sequence is found
    assert [n for n, _ in find_sequences(data_dir)] == ["b-ucsd", "cdnet/a-seq", "linked"]
    one = find_sequences(small_clip)  # a sequence folder itself
    assert len(one) == 1 and one[0][1] == small_clip


def test_benchmark_records_scores_failures_and_pictures(data_dir, tmp_path, fake_methods):
    out = tmp_path / "out"
    events = []
    r = benchmark(data_dir, methods=["mog2", "test-median", "test-broken"], out=out, cfg=Config(), contact_frames=2,
                  on_event=lambda kind, rec: events.append((kind, rec["sequence"], rec["method"])))
    data = json.loads((out / "results.json").read_text())
    recs = {(x["sequence"], x["method"]): x for x in data["records"]}
    assert len(recs) == 6 and r["ran"] == 6 and r["skipped"] == 0
    # a failing method is recorded with a one-line error, and the others still ran on every sequence
    for seq in ("b-ucsd", "cdnet/a-seq"):
        assert recs[(seq, "test-broken")]["status"] == "failed"
        assert recs[(seq, "test-broken")]["error"] == "RuntimeError: boom second line"
        for m in ("mog2", "test-median"):
            rec = recs[(seq, m)]
            assert rec["status"] == "ok"
            # the scores are exactly those of `bgsub evaluate --cdnet` on the run's masks
            ev = evaluate(out / seq / m, cdnet=data_dir / seq)
            assert rec["scores"] == ev["scores"] and rec["counts"] == ev["counts"]
            assert rec["frames"] == 40 and rec["scored_frames"] == 36
            assert rec["segment_seconds"] > 0 and rec["fps"] > 0
    assert recs[("cdnet/a-seq", "mog2")]["window"] == 64  # input.chunk; stateful, so no top-up (test_run.py)
    assert recs[("cdnet/a-seq", "test-median")]["fit_frames"] == 5
    # the same clip in both layouts scores the same
    assert recs[("b-ucsd", "mog2")]["scores"] == recs[("cdnet/a-seq", "mog2")]["scores"]
    # environment
    env = data["environment"]
    assert env["versions"]["opencv"] and env["torch_threads"] >= 1 and env["config"]["rpca"]["window"] == 50
    # markdown
    md = (out / "results.md").read_text()
    assert "| cdnet/a-seq | mog2 |" in md and "| b-ucsd | test-broken | failed |" in md
    assert "## Failures" in md and "## Environment" in md
    assert r["results_md"] == str(out / "results.md") and len(r["failed"]) == 2
    # pictures: one contact sheet per sequence; |S| kept only for the frames it shows
    for seq in ("b-ucsd", "cdnet/a-seq"):
        sheet = read_labels(out / seq / "contact.png")
        assert sheet.shape[1] >= 4 * 160
    fg = sorted((out / "cdnet" / "a-seq" / "mog2").glob("fg*.png"))
    assert 1 <= len(fg) <= 2
    assert len(list((out / "cdnet" / "a-seq" / "mog2").glob("bin*.png"))) == 40
    assert ("failed", "b-ucsd", "test-broken") in events and ("done", "b-ucsd", "mog2") in events


def test_rerun_skips_finished_pairs_unless_forced_or_config_changed(data_dir, tmp_path, fake_methods):
    out = tmp_path / "out"
    cfg = Config()
    benchmark(data_dir, methods=["test-median", "test-broken"], out=out, cfg=cfg, contact_frames=0)
    mask = out / "cdnet" / "a-seq" / "test-median" / "bin000010.png"
    before = mask.stat().st_mtime_ns
    _Calls.decompose = 0
    r = benchmark(data_dir, methods=["test-median", "test-broken"], out=out, cfg=cfg, contact_frames=0)
    assert r["skipped"] == 2 and r["ran"] == 2  # finished pairs kept; failed ones tried again
    assert _Calls.decompose == 0 and mask.stat().st_mtime_ns == before
    r = benchmark(data_dir, methods=["test-median"], out=out, cfg=cfg, contact_frames=0, force=True)
    assert r["ran"] == 2 and r["skipped"] == 0 and _Calls.decompose > 0
    assert len(r["records"]) == 4  # earlier records of other methods stay in the file
    from bgsub.config import load_config

    r = benchmark(data_dir, methods=["test-median"], out=out, cfg=load_config(None, ["input.chunk=8", "input.start=11"]),
                  contact_frames=0)
    assert r["ran"] == 2  # another config: not the same result, run again
    assert r["failed"] == []  # test-broken's old failures are not this run's
    masks = sorted((out / "cdnet" / "a-seq" / "test-median").glob("bin*.png"))
    assert masks[0].name == "bin000011.png" and len(masks) == 30  # the earlier run's masks were cleared
    rec = [x for x in r["records"] if x["method"] == "test-median"][0]
    assert rec["window"] == 8
    assert " *" in render_markdown(json.loads((out / "results.json").read_text()))  # stale rows marked


def test_cli_prints_results_path_and_exits_1_on_failures(cli, data_dir, tmp_path, fake_methods):
    out = tmp_path / "out"
    res = cli("benchmark", data_dir, "--methods", "test-median", "-o", out, "--contact", "0", "--threads", "1")
    assert res.code == 0, res.stderr
    assert res.stdout.strip() == str(out / "results.md")
    assert "test-median" in res.stderr  # the table goes to stderr
    res = cli("benchmark", data_dir, "--methods", "test-median,test-broken", "-o", out, "--contact", "0", "--json")
    assert res.code == 1 and "2 of 4 runs failed" in res.stderr
    assert json.loads(res.stdout)["skipped"] == 2


def test_a_method_can_have_its_own_config(cli, data_dir, tmp_path, fake_methods):
    out = tmp_path / "out"
    preset = tmp_path / "small.yaml"
    preset.write_text("input:\n  chunk: 8\n")
    res = cli("benchmark", data_dir, "--methods", "test-median,mog2", "-o", out, "--contact", "0",
              "--method-config", f"test-median={preset}", "--json")
    assert res.code == 0, res.stderr
    recs = {(r["sequence"], r["method"]): r for r in json.loads(res.stdout)["records"]}
    assert recs[("b-ucsd", "test-median")]["window"] == 8 and recs[("b-ucsd", "mog2")]["window"] == 64
    assert recs[("b-ucsd", "test-median")]["config_hash"] != recs[("b-ucsd", "mog2")]["config_hash"]
    md = (out / "results.md").read_text()
    assert "test-median: its own config" in md and " *" not in md
    res = cli("benchmark", data_dir, "--methods", "test-median,mog2", "-o", out, "--contact", "0",
              "--method-config", f"test-median={preset}", "--json")
    assert json.loads(res.stdout)["skipped"] == 4  # per-method hashes make the re-run a no-op
    res = cli("benchmark", data_dir, "--methods", "mog2", "-o", out, "--method-config", f"knn={preset}")
    assert res.code == 1 and "not among the methods" in res.stderr
    res = cli("benchmark", data_dir, "--methods", "mog2", "-o", out, "--method-config", "mog2")
    assert res.code == 1 and "METHOD=PRESET" in res.stderr


def test_cli_rejects_unknown_method_and_empty_data_dir(cli, tmp_path):
    res = cli("benchmark", tmp_path, "--methods", "mog2,nope")
    assert res.code == 1 and "unknown method 'nope'" in res.stderr and "mog2" in res.stderr
    res = cli("benchmark", tmp_path, "--methods", "mog2", "-o", tmp_path / "o")
    assert res.code == 1 and "no sequence folders" in res.stderr


def test_contact_sheet_layout_and_colours(small_clip, tmp_path):
    from bgsub.viz import GREY, LABEL_H, MIN_HEIGHT, contact_sheet, gt_panel, mask_panel

    run = tmp_path / "run"
    run.mkdir()
    truth = find_ground_truth(None, small_clip)
    for n, p in truth.files.items():  # a perfect "prediction"
        shutil.copy(p, run / f"bin{n:06d}.png")
    sheet = contact_sheet(small_clip, {"a": run, "b": run}, frames=[10, 20])
    th, tw = MIN_HEIGHT, MIN_HEIGHT * 64 // 48  # 48-pixel frames are enlarged
    assert sheet.shape == (2 * (LABEL_H + 2) + 2 * 2 * (LABEL_H + th + 2), 4 * tw + 3 * 2, 3)
    pos = np.array([[True, False], [False, False]])
    valid = np.array([[True, True], [True, False]])
    assert gt_panel(pos, valid)[1, 1].tolist() == [GREY] * 3
    m = mask_panel(np.array([[True, True], [False, False]]), np.array([[True, False], [True, False]]), valid)
    assert m[0, 0].tolist() == [255, 255, 255] and m[0, 1].tolist() == [0, 0, 255]  # TP white, FP red
    assert m[1, 0].tolist() == [255, 96, 0] and m[1, 1].tolist() == [GREY] * 3  # FN blue, ignored grey


@pytest.mark.ray
def test_pairs_run_as_ray_jobs_give_the_local_results(data_dir, tmp_path, ray_engine):
    kw = dict(methods=["mog2"], cfg=Config(), contact_frames=2)
    here = benchmark(data_dir, out=tmp_path / "local", **kw)
    events = []
    there = benchmark(data_dir, out=tmp_path / "ray", engine="ray",
                      on_event=lambda kind, rec: events.append((kind, rec["sequence"])), **kw)
    assert there["ran"] == 2 and there["failed"] == []
    for a, b in zip(here["records"], there["records"]):
        assert (a["sequence"], a["scores"], a["frames"]) == (b["sequence"], b["scores"], b["frames"])
        assert b["torch_threads"] == 1 and b["host"]
    assert ("queued", "b-ucsd") in events and ("done", "b-ucsd") in events  # Ray does not say when a job starts
    assert (tmp_path / "ray" / "cdnet" / "a-seq" / "contact.png").is_file()
    assert sorted(p.name for p in (tmp_path / "ray").iterdir() if p.name.startswith(".")) == []  # marker removed
