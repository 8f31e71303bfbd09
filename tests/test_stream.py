"""``segment`` reads its source once, front to back (cameras, streams, files), writes masks as frames arrive, stops
cleanly (``--max-frames``, Ctrl-C), and segments with the background of the video being segmented."""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bgsub.config import load_config
from bgsub.io.stream import FrameStream, parse_source
from bgsub.synth import synth
from conftest import read_masks  # tests/ is on sys.path (rootdir conftest, no __init__.py)

INIT, BATCH = 10, 4
TINY = ["model.depth=1", "model.base_channels=4", f"background.init={INIT}", "train.pool=10", "train.device=cpu",
        "segment.device=cpu", f"segment.batch={BATCH}"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stream")
    synth(root / "a", height=48, width=64, frames=30, seed=1)
    synth(root / "b", height=40, width=56, frames=24, seed=2)
    return {"a": root / "a", "b": root / "b"}


@pytest.fixture(scope="module")
def model(clips, tmp_path_factory) -> Path:
    """A tiny reference U-Net trained a few steps on clip a (48 x 64)."""
    from bgsub.pipelines.unet import train

    out = tmp_path_factory.mktemp("model") / "a.pt"
    train(clips["a"], out, cfg=load_config(None, TINY), epochs=4, progress=False)
    return out


@pytest.fixture(scope="module")
def ref_model(clips, tmp_path_factory) -> Path:
    """The same with the static background reference (``background.model=reference``), which the checkpoint keeps."""
    from bgsub.pipelines.unet import train

    out = tmp_path_factory.mktemp("model") / "ref.pt"
    train(clips["a"], out, cfg=load_config(None, TINY + ["background.model=reference"]), epochs=4, progress=False)
    return out


def _cfg(*extra: str):
    return load_config(None, ["segment.device=cpu", *extra])


def _frames(clip: Path) -> list[np.ndarray]:
    """The clip's frames as OpenCV decodes them (BGR uint8), in order."""
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((clip / "input").glob("in*.png"))]




def _only_outputs(folder: Path) -> None:
    """Nothing but complete masks and config.yaml: no temporary or hidden files."""
    names = os.listdir(folder)
    assert all(n == "config.yaml" or (n.startswith("bin") and n.endswith(".png")) for n in names), names


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in serving ``frames``: it fails on a second opening of the same source and on a
    seek, counts reads, and calls ``on_read(i)`` before serving the i-th frame (1-based; it may raise)."""

    def __init__(self, frames, *, count=True, on_read=None):
        self.frames, self.count, self.on_read = frames, count, on_read
        self.opened: list = []
        self.reads = 0

    def __call__(self, source, *args):  # the constructor, as patched in for cv2.VideoCapture
        if source in self.opened:
            raise AssertionError(f"{source!r} opened a second time")
        self.opened.append(source)
        return _Cap(self)


class _Cap:
    def __init__(self, fake: FakeCapture):
        self.fake, self.pos, self.open = fake, 0, True

    def isOpened(self):
        return self.open

    def get(self, prop):
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(len(self.fake.frames)) if self.fake.count else 0.0
        h, w = self.fake.frames[0].shape[:2]
        return {cv2.CAP_PROP_FRAME_HEIGHT: float(h), cv2.CAP_PROP_FRAME_WIDTH: float(w)}.get(prop, 0.0)

    def set(self, prop, value):
        raise AssertionError(f"seek: set({prop}, {value}) on a source read once")

    def grab(self):
        if self.pos >= len(self.fake.frames):
            return False
        self.pos += 1
        return True

    def read(self):
        if self.pos >= len(self.fake.frames):
            return False, None
        self.fake.reads += 1
        if self.fake.on_read is not None:
            self.fake.on_read(self.pos + 1)
        self.pos += 1
        return True, self.fake.frames[self.pos - 1].copy()

    def release(self):
        self.open = False


@pytest.fixture
def reference_masks(clips, model, tmp_path):
    """The masks of clip a segmented from its frame folder (the usual path)."""
    from bgsub.pipelines.unet import segment

    segment(clips["a"], tmp_path / "folder", model=model, cfg=_cfg(), progress=False)
    return read_masks(tmp_path / "folder")


def test_a_video_read_once_gives_the_masks_of_its_frame_folder(clips, model, reference_masks, tmp_path, monkeypatch):
    from bgsub.pipelines.unet import segment

    fake = FakeCapture(_frames(clips["a"]))
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    video = tmp_path / "a.avi"
    video.write_bytes(b"not read: the fake capture serves the frames")
    r = segment(video, tmp_path / "video", model=model, cfg=_cfg(), progress=False)
    assert fake.opened == [str(video)] and fake.reads == 30  # opened once, each frame read once, no seek
    assert r["frames"] == 30 and not r["interrupted"] and not r["live"]
    got = read_masks(tmp_path / "video")
    assert got.keys() == reference_masks.keys() and len(got) == 30
    assert all(np.array_equal(got[k], reference_masks[k]) for k in got)


def test_a_frame_folder_is_read_once_file_by_file(clips, model, tmp_path, monkeypatch):
    from bgsub.pipelines.unet import segment

    reads: dict[str, int] = {}
    imread = cv2.imread

    def counting(path, *args):
        reads[str(path)] = reads.get(str(path), 0) + 1
        return imread(path, *args)

    monkeypatch.setattr(cv2, "imread", counting)
    segment(clips["a"], tmp_path / "out", model=model, cfg=_cfg(), progress=False)
    inputs = sorted(str(p) for p in (clips["a"] / "input").glob("in*.png"))
    assert sorted(k for k in reads if "/input/" in k) == inputs
    assert all(reads[k] == 1 for k in inputs)


def test_max_frames_ends_the_run_after_n_frames(clips, model, tmp_path, monkeypatch, cli):
    fake = FakeCapture(_frames(clips["a"]), count=False)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    r = cli("segment", "0", "-m", model, "-o", tmp_path / "out", "--max-frames", "13", "--device", "cpu")
    assert r.code == 0, r.stderr
    assert fake.opened == [0]  # "0" is camera 0 (no such path here)
    assert fake.reads == 13 and sorted(read_masks(tmp_path / "out")) == [f"bin{n:06d}.png" for n in range(1, 14)]
    assert "13 frames" in r.stdout
    _only_outputs(tmp_path / "out")


@pytest.mark.parametrize("after", [7, 18])  # inside the initialisation window, and after it
def test_an_interrupted_source_leaves_the_masks_of_every_frame_read(clips, model, reference_masks, tmp_path,
                                                                     monkeypatch, after):
    from bgsub.pipelines.unet import segment

    def interrupt(i):
        if i > after:
            raise KeyboardInterrupt

    fake = FakeCapture(_frames(clips["a"]), count=False, on_read=interrupt)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    r = segment("rtsp://camera.example/live", tmp_path / "out", model=model, cfg=_cfg(), progress=False)
    assert fake.opened == ["rtsp://camera.example/live"]
    assert r["interrupted"] and r["live"] and r["frames"] == after
    got = read_masks(tmp_path / "out")
    assert sorted(got) == [f"bin{n:06d}.png" for n in range(1, after + 1)]
    _only_outputs(tmp_path / "out")
    if after > INIT:  # the same initialisation window: the same masks as the whole folder's
        assert all(np.array_equal(got[k], reference_masks[k]) for k in got)


def test_ctrl_c_stops_reading_and_the_command_exits_130(clips, model, tmp_path, monkeypatch, cli):
    def ctrl_c(i):
        if i == 16:
            os.kill(os.getpid(), signal.SIGINT)  # to this process's main thread, as a terminal's Ctrl-C
            time.sleep(0.2)  # let the handler run before the next frame is read

    fake = FakeCapture(_frames(clips["a"]), count=False, on_read=ctrl_c)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    before = signal.getsignal(signal.SIGINT)
    r = cli("segment", "0", "-m", model, "-o", tmp_path / "out", "--device", "cpu")
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    assert r.code == 130, r.stderr
    assert "interrupted" in r.stdout and "interrupted" in r.stderr
    n = len(read_masks(tmp_path / "out"))
    assert 16 <= n < 30 and fake.reads == n  # stopped reading; every frame read has its mask
    _only_outputs(tmp_path / "out")


def test_the_first_mask_is_written_before_the_frame_after_the_first_windows_is_read(clips, model, tmp_path,
                                                                                     monkeypatch):
    """A camera: reading frame begin_frames() + window waits until the first mask is on disk (up to 20 s), so a
    pipeline that needed it (or the whole video) before writing would time out."""
    from bgsub.pipelines.unet import segment

    out = tmp_path / "out"
    waited: dict[str, float] = {}

    def camera(i):
        if i == INIT + BATCH:
            t0 = time.monotonic()
            while not (out / "bin000001.png").exists() and time.monotonic() - t0 < 20:
                time.sleep(0.005)
            waited["s"] = time.monotonic() - t0
            waited["mask"] = (out / "bin000001.png").exists()

    fake = FakeCapture(_frames(clips["a"]), count=False, on_read=camera)
    monkeypatch.setattr(cv2, "VideoCapture", fake)
    r = segment("0", out, model=model, cfg=_cfg(), progress=False)
    assert waited["mask"] and waited["s"] < 20 and r["frames"] == 30


def test_sources_are_parsed_as_cameras_urls_or_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_source("0") == 0 and parse_source("12") == 12 and parse_source(3) == 3
    assert parse_source("rtsp://host:554/a//b") == "rtsp://host:554/a//b"  # not a Path: // kept
    assert parse_source("http://x/y.mjpg") == "http://x/y.mjpg"
    (tmp_path / "0").mkdir()
    assert parse_source("0") == Path("0")  # an existing path wins
    assert parse_source("clip.mp4") == Path("clip.mp4")


def test_live_sources_refuse_a_second_pass_with_one_line(clips, model, tmp_path, monkeypatch, cli):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture(_frames(clips["a"]), count=False))
    r = cli("segment", "0", "-m", model, "-o", tmp_path / "o", "--overlay", tmp_path / "ov.avi")
    assert r.code == 1 and r.stderr.startswith("bgsub: error: 0: --overlay") and len(r.stderr.splitlines()) == 1
    r = cli("segment", "0", "-m", model, "-o", tmp_path / "o", "--set", "segment.prescan=true")
    assert r.code == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("bgsub: error: 0: segment.prescan reads the input twice")
    from bgsub.errors import BgsubError
    from bgsub.methods.base import Decomposition, Method
    from bgsub.pipelines.run import decompose_video

    class Plain(Method):  # thresholded by Otsu: scope video needs a first pass over the whole video
        def decompose(self, clip):
            return Decomposition(clip * 0, clip)

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture(_frames(clips["a"]), count=False))
    with pytest.raises(BgsubError, match="scope=video reads the input twice"):
        decompose_video(Plain(), "0", tmp_path / "v", cfg=_cfg("threshold.scope=video"), window=4, progress=False)
    assert not (tmp_path / "o").exists() and not (tmp_path / "v").exists()


def test_a_pipe_is_a_stream_and_dash_is_the_standard_input(tmp_path):
    from bgsub.io.stream import is_live, piped

    assert parse_source("-") == Path("/dev/stdin")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "clip.avi").write_bytes(b"x")
    assert piped(fifo) and is_live(str(fifo))
    assert not piped(tmp_path) and not piped(tmp_path / "clip.avi") and not piped(tmp_path / "missing")
    assert not is_live(str(tmp_path / "clip.avi")) and not is_live(str(tmp_path))


def test_segment_reads_a_video_piped_to_its_standard_input_once(tmp_path):
    """``... | bgsub segment - -o OUT``: the masks of the piped video are those of the same video read from its
    file (the shipped network, the video's own background); a command that reads its input more than once says so
    in one line instead of failing on the pipe's second read."""
    import subprocess
    import sys

    synth(tmp_path / "v", height=48, width=64, frames=40, seed=3, video=True)
    video = tmp_path / "v" / "input.avi"
    run = [sys.executable, "-m", "bgsub", "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(run + ["segment", str(video), "-o", str(tmp_path / "file")], capture_output=True, env=env)
    assert r.returncode == 0, r.stderr
    with open(video, "rb") as f:  # through a pipe: the bytes arrive once, no seeking, no frame count
        p = subprocess.Popen(run + ["segment", "-", "-o", str(tmp_path / "pipe")], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        _, err = p.communicate(f.read())
    assert p.returncode == 0, err
    from_file, from_pipe = read_masks(tmp_path / "file"), read_masks(tmp_path / "pipe")
    assert len(from_pipe) == 40 and from_pipe.keys() == from_file.keys()
    assert all(np.array_equal(from_pipe[k], from_file[k]) for k in from_file)
    assert sum(int(m.sum()) for m in from_pipe.values()) > 0
    with open(video, "rb") as f:
        p = subprocess.Popen(run + ["train", "-", "-o", str(tmp_path / "m.pt")], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        _, err = p.communicate(f.read())
    lines = err.decode().strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "a pipe can be read only once" in lines[0], err
    assert not (tmp_path / "m.pt").exists()


def test_a_stream_is_read_once():
    fake = FakeCapture([np.zeros((4, 6, 3), np.uint8)] * 3, count=False)
    orig = cv2.VideoCapture
    cv2.VideoCapture = fake
    try:
        s = FrameStream.open("rtsp://x/y")
        assert s.size == (4, 6) and s.total is None and s.live
        assert [n for n, _, _ in s.images()] == [1, 2, 3]
        with pytest.raises(Exception, match="read once"):
            s.images()
    finally:
        cv2.VideoCapture = orig


@pytest.mark.parametrize("which", ["samples", "reference"])
def test_another_videos_model_segments_with_this_videos_background(clips, model, ref_model, tmp_path, cli, which):
    """Model trained on a (64 x 48), video b (56 x 40): the background comes from b's first frames."""
    from bgsub.background import estimate_from
    from bgsub.io.frames import read_clip
    from bgsub.methods.unet import UNetMethod
    from bgsub.pipelines.run import decompose_video
    from bgsub.pipelines.unet import run_config

    model = model if which == "samples" else ref_model
    r = cli("segment", clips["b"], "-m", model, "-o", tmp_path / "b", "--device", "cpu", "--json")
    assert r.code == 0, r.stderr
    masks = read_masks(tmp_path / "b")
    assert len(masks) == 24 and all(m.shape == (40, 56) for m in masks.values())
    if which == "samples":  # a background model updated over time: nothing of video a's is kept
        return

    method = UNetMethod.load(model)
    method.cfg = run_config(method.cfg, _cfg())
    decompose_video(method, clips["b"], tmp_path / "b2", cfg=method.cfg, window=BATCH, progress=False)
    first = read_clip(clips["b"], numbers=range(1, INIT + 1), grayscale=False).frames
    want = estimate_from(first, method.cfg.background)
    torch.testing.assert_close(method.state.reference["background"], want.background, rtol=0, atol=0)
    assert all(np.array_equal(a, b) for a, b in zip(masks.values(), read_masks(tmp_path / "b2").values()))


def test_reuse_background_of_another_size_is_a_one_line_error(clips, model, ref_model, tmp_path, cli):
    r = cli("segment", clips["a"], "-m", model, "-o", tmp_path / "s", "--reuse-background")
    assert r.code == 1 and "no background was saved with this model" in r.stderr  # the default: samples
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
    model = ref_model
    r = cli("segment", clips["b"], "-m", model, "-o", tmp_path / "b", "--reuse-background")
    assert r.code == 1 and r.stderr.startswith("bgsub: error:") and len(r.stderr.strip().splitlines()) == 1
    assert "64x48" in r.stderr and "56x40" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b").exists()  # nothing written
    r = cli("segment", clips["a"], "-m", model, "-o", tmp_path / "a", "--reuse-background", "--device", "cpu",
            "--json")
    assert r.code == 0, r.stderr  # the training video itself: its saved background
    assert '"background": "saved"' in r.stdout


def test_fit_then_segment_keeps_the_fitted_background(clips, tmp_path):
    """benchmark and batch fit on the video and segment it: begin() estimates the background again from the same
    first frames, and gets the same reference, bit for bit."""
    from bgsub.methods.base import create
    from bgsub.pipelines.fit import fit_on_video
    from bgsub.pipelines.run import decompose_video

    cfg = load_config(None, TINY + ["train.epochs=2", "background.model=reference"])
    m = create("unet", cfg)
    m.progress = False
    fit_on_video(m, clips["a"], cfg=cfg, seed=0)
    fitted = {k: v.clone() if torch.is_tensor(v) else v for k, v in m.state.reference.items()}
    decompose_video(m, clips["a"], tmp_path / "o", cfg=cfg, window=BATCH, progress=False)
    again = m.state.reference
    assert again.keys() == fitted.keys()
    for k, v in fitted.items():
        assert torch.equal(again[k], v) if torch.is_tensor(v) else again[k] == v, k


def test_methods_that_begin_on_the_video_get_each_frame_once_in_order(small_clip, tmp_path):
    from bgsub.config import Config
    from bgsub.methods.base import Decomposition, Method
    from bgsub.pipelines.run import decompose_video

    class Begins(Method):
        window_threads = True

        def __init__(self):
            super().__init__()
            self.began, self.sizes = None, []

        def begin_frames(self):
            return 12

        def begin(self, frames):
            assert not self.sizes  # before any decompose
            self.began = frames.clone()

        def decompose(self, clip):
            self.sizes.append(clip.shape[0])
            return Decomposition(clip * 0, clip)

    m = Begins()
    decompose_video(m, small_clip, tmp_path / "o", cfg=Config(), window=16, progress=False)
    assert m.began.shape[0] == 12 and sorted(m.sizes, reverse=True) == [16, 16, 8]  # 40 frames, no top-up
    from bgsub.io.frames import read_clip

    assert torch.equal(m.began, read_clip(small_clip, numbers=range(1, 13), grayscale=False).frames)


def test_decoding_and_converting_side_by_side_gives_the_same_frames_and_masks(clips, model, reference_masks, tmp_path):
    """Several decoder and conversion threads (``--threads`` > 1) hand out the same frames, in order, as one; the
    initialisation window converted once and reused gives the same chunks; and segment writes the same masks."""
    from bgsub.io.stream import chunks_of, stack
    from bgsub.pipelines.unet import segment

    def frames(decoders):
        with FrameStream.open(clips["a"], decoders=decoders) as s:
            return [(n, img.copy()) for n, img, _ in s.images()]

    one, three = frames(1), frames(3)
    assert [n for n, _ in one] == [n for n, _ in three] == list(range(1, 31))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(one, three))
    with FrameStream.open(clips["a"], limit=7, decoders=3) as s:
        assert [n for n, _, _ in s.images()] == list(range(1, 8))

    def chunks(workers, begin):
        with FrameStream.open(clips["a"], decoders=workers) as s:
            images = s.images()
            head: list = []
            if begin:
                first = stack(images, grayscale=False, scale=0.5, workers=workers, count=begin, keep=head)
                assert first.shape[0] == begin and all(len(h) == 4 and h[1] is None for h in head)
            return [(c.numbers, c.frames.clone()) for c in
                    chunks_of(itertools.chain(head, images), chunk=4, grayscale=False, scale=0.5,
                              workers=workers)]

    ref = chunks(1, 0)
    for workers, begin in ((3, 0), (1, 10), (3, 10), (2, 1)):
        got = chunks(workers, begin)
        assert [n for n, _ in got] == [n for n, _ in ref]
        assert all(torch.equal(a, b) for (_, a), (_, b) in zip(got, ref)), (workers, begin)

    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        segment(clips["a"], tmp_path / "threads", model=model, cfg=_cfg(), progress=False)
    finally:
        torch.set_num_threads(threads)
    got = read_masks(tmp_path / "threads")
    assert got.keys() == reference_masks.keys() and all(np.array_equal(got[k], reference_masks[k]) for k in got)
