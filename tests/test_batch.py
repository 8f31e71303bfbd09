"""``bgsub batch``: finding videos, names, shards, the job's atomic output, failure isolation, resuming; the
same end-to-end test on the in-process engine and on a local Ray instance (skipped without Ray)."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from bgsub.errors import BgsubError
from bgsub.pipelines.batch import batch, find_videos, parse_shard, process_video, shard
from bgsub.pipelines.evaluate import evaluate
from bgsub.synth import synth

@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """Three short synthetic clips c1, c2, c3 (CDnet layout); c3 has a corrupt frame (read-only)."""
    root = tmp_path_factory.mktemp("batch") / "clips"
    for i in (1, 2, 3):
        synth(root / f"c{i}", height=48, width=64, frames=20, seed=i)
    (root / "c3" / "input" / "in000007.png").write_bytes(b"not a png")
    return root


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def engine(request):
    if request.param == "ray":
        request.getfixturevalue("ray_engine")  # the engine joins the instance running in this process
    return request.param


def _lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_two_results_one_recorded_error_exit_1_and_a_rerun_skips_the_finished(cli, clips, tmp_path, engine):
    out = tmp_path / "out"
    res = cli("batch", clips, "-o", out, "--method", "mog2", "--engine", engine)
    assert res.code == 1
    recs = {r["name"]: r for r in _lines(res.stdout)}  # stdout: JSON lines only, in the order they finish
    assert sorted(recs) == ["c1", "c2", "c3"]
    for name in ("c1", "c2"):
        r = recs[name]
        assert r["status"] == "ok" and r["method"] == "mog2" and r["frames"] == 20 and r["seconds"] > 0
        assert r["scores"] == evaluate(out / name, cdnet=clips / name)["scores"]  # scored the CDnet way
        assert len(list((out / name).glob("bin*.png"))) == 20 and (out / name / "config.yaml").is_file()
        assert json.loads((out / name / "result.json").read_text()) == r
    bad = recs["c3"]
    assert bad["status"] == "failed" and bad["error"] == f"{clips}/c3/input/in000007.png: unreadable image"
    assert not (out / "c3").exists()
    assert sorted(p.name for p in out.iterdir()) == ["c1", "c2", "results.jsonl"]  # no partial folder, no marker
    assert _lines((out / "results.jsonl").read_text()) == _lines(res.stdout)
    err = res.stderr.strip().splitlines()
    assert "[3/3]" in res.stderr and "ETA" in res.stderr
    assert err[-1] == f"bgsub: error: 1 of 3 videos failed (first: c3: {bad['error']}); see {out}/results.jsonl"

    mask = out / "c1" / "bin000010.png"
    before = mask.stat().st_mtime_ns
    res = cli("batch", clips, "-o", out, "--method", "mog2", "--engine", engine)
    assert res.code == 1
    assert sorted((r["name"], r["status"]) for r in _lines(res.stdout)) == [
        ("c1", "skipped"), ("c2", "skipped"), ("c3", "failed")]
    assert mask.stat().st_mtime_ns == before
    assert len(_lines((out / "results.jsonl").read_text())) == 4  # skipped videos are not logged again

    res = cli("batch", clips / "c1", clips / "c2", "-o", out, "--method", "mog2", "--engine", engine, "--force")
    assert res.code == 0 and [r["status"] for r in _lines(res.stdout)] == ["ok", "ok"]
    assert mask.stat().st_mtime_ns != before
    assert "2 videos: 2 ran, 0 skipped" in res.stderr


def test_another_config_is_not_the_same_result(clips, tmp_path):
    from bgsub.config import load_config

    out = tmp_path / "out"
    batch([str(clips / "c1")], out, method="mog2")
    r = batch([str(clips / "c1")], out, method="mog2", cfg=load_config(None, ["input.start=5"]))
    assert r["ran"] == 1 and r["skipped"] == 0
    assert sorted(p.name for p in (out / "c1").glob("bin*.png"))[0] == "bin000005.png"  # replaced as a whole


def test_paths_from_stdin_and_a_video_file_without_ground_truth(cli, clips, tmp_path, monkeypatch):
    video = tmp_path / "cam.avi"
    synth(tmp_path / "v", height=48, width=64, frames=12, seed=4, video=True)
    shutil.copy(tmp_path / "v" / "input.avi", video)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{video}\n\n{clips / 'c1'}\n"))
    res = cli("batch", "-", "-o", tmp_path / "out", "-m", "mog2")
    assert res.code == 0, res.stderr
    a, b = _lines(res.stdout)
    assert (a["name"], a["status"], a["frames"]) == ("cam", "ok", 12) and "scores" not in a
    assert b["name"] == "c1" and "f_measure" in b["scores"]


def test_find_videos_searches_folders_names_by_relative_path_and_reads_globs(clips, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(clips / "c1", root / "site1" / "seqA")
    shutil.copytree(clips / "c1" / "input", root / "site1" / "frames")
    shutil.copytree(clips / "c2", root / ".hidden" / "seqB")
    (root / "site2").mkdir()
    synth(tmp_path / "v", height=48, width=64, frames=5, seed=4, video=True)
    shutil.copy(tmp_path / "v" / "input.avi", root / "site2" / "cam.avi")
    (root / "site2" / "notes.txt").write_text("x")
    vids = find_videos([str(root)])
    assert [(v.name, v.truth is not None) for v in vids] == [
        ("site1/frames", False), ("site1/seqA", True), ("site2/cam", False)]
    (v,) = find_videos([str(root / "site1" / "seqA" / "input")])  # a sequence's input/ is the sequence
    assert (v.name, v.source, v.truth) == ("seqA", root / "site1" / "seqA", root / "site1" / "seqA")
    assert [v.name for v in find_videos([f"{root}/site*/*"])] == ["frames", "seqA", "cam"]  # notes.txt is no video
    assert [v.name for v in find_videos([f"{root}/**/*.avi", str(root / "site2")])] == ["cam"]  # each once
    # the same name twice: both get a hash of their path, whatever else is given
    shutil.copytree(clips / "c2", root / "site2" / "seqA")
    names = [v.name for v in find_videos([str(root / "site1" / "seqA"), str(root / "site2" / "seqA")])]
    assert len(set(names)) == 2 and all(n.startswith("seqA-") for n in names)
    for args, msg in (([str(tmp_path / "nope")], "no such file or folder"), ([f"{tmp_path}/*.mp4"], "matches nothing"),
                      ([str(root / "site2" / "empty")], "no such"), ([], "no inputs")):
        with pytest.raises(BgsubError, match=msg):
            find_videos(args)
    (root / "empty").mkdir()
    with pytest.raises(BgsubError, match="empty: no videos found"):
        find_videos([str(root / "empty")])


def test_shards_partition_the_inputs(clips):
    vids = find_videos([str(clips)])
    parts = [shard(vids, i, 2) for i in (1, 2)]
    assert [v.name for v in parts[0]] == ["c1", "c3"] and [v.name for v in parts[1]] == ["c2"]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(BgsubError, match="--shard"):
            parse_shard(bad)


def test_a_worker_that_cannot_see_the_output_folder_fails_at_once(clips, tmp_path):
    from bgsub.config import Config

    with pytest.raises(BgsubError, match=r"not visible from the worker on .*: workers must see the inputs and the "
                                         "output folder"):
        process_video(str(clips / "c1"), str(tmp_path), "c1", method="mog2", cfg=Config(), seed=0,
                      marker=str(tmp_path / ".bgsub-batch-x"))
    assert list(tmp_path.iterdir()) == []


def test_cli_usage_errors_exit_2_and_input_errors_exit_1(cli, clips, tmp_path, monkeypatch):
    res = cli("batch", clips, "-o", tmp_path / "o", "--workers", "2")
    assert res.code == 2 and "--engine ray" in res.stderr
    res = cli("batch", clips, "-o", tmp_path / "o", "--shard", "3/2")
    assert res.code == 2 and "between 1 and N" in res.stderr
    res = cli("batch", clips, "-o", tmp_path / "o", "--engine", "dask")
    assert res.code == 2
    res = cli("batch", clips, "-o", tmp_path / "o", "-m", "nope")
    assert res.code == 1 and res.stderr.startswith("bgsub: error: unknown method 'nope'")
    res = cli("batch", tmp_path / "missing", "-o", tmp_path / "o", "-m", "mog2")
    assert res.code == 1 and res.stderr == f"bgsub: error: {tmp_path}/missing: no such file or folder\n"
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    res = cli("batch", clips / "c1", "-o", tmp_path / "o", "-m", "mog2", "--address", "auto")
    assert res.code == 1 and res.stdout == ""
    assert res.stderr == "bgsub: error: --engine ray needs Ray, which is not installed here: pip install 'bgsub[ray]'\n"


def test_jobs_get_absolute_paths_so_workers_need_not_share_the_cwd(clips, tmp_path, monkeypatch):
    shutil.copytree(clips / "c1", tmp_path / "rel" / "c1")
    monkeypatch.chdir(tmp_path)
    (rec,) = batch(["rel/c1"], "out", method="mog2")["records"]
    assert rec["input"] == str(tmp_path / "rel" / "c1") and rec["out"] == str(tmp_path / "out" / "c1")
    r = batch([str(tmp_path / "rel" / "c1")], tmp_path / "out", method="mog2")
    assert r["skipped"] == 1  # the same video, however it was named


def test_a_failed_redo_leaves_the_earlier_output_whole(clips, tmp_path):
    from bgsub.config import load_config

    out = tmp_path / "out"
    batch([str(clips / "c1")], out, method="mog2")
    before = sorted(p.name for p in (out / "c1").iterdir())
    r = batch([str(clips / "c1")], out, method="mog2", force=True, cfg=load_config(None, ["input.start=1000"]))
    assert r["failed"][0]["error"].endswith("no frames selected")
    assert sorted(p.name for p in (out / "c1").iterdir()) == before and len(before) == 22
    assert sorted(p.name for p in out.iterdir()) == ["c1", "results.jsonl"]  # no partial folder left
