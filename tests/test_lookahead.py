"""A second pass over the same video (segment.lookahead): where the initialisation window never saw a pixel still
(a leaf that covers it for the whole window, never quite still), the per-video network's training pass has found
that pixel's stillest frames of the whole video, and segmenting the same video starts from them.

The clip is made here with exact ground truth: a textured, still scene; a smooth leaf that jitters by a few pixels
every frame covers a box of it from the first frame and leaves at frame 140; the scene shows still after that."""

from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np
import pytest
import torch

from bgsub.config import Config

H, W, N, LEAVE = 48, 64, 260, 140
BOX = (8, 16, 40, 48)  # y0, x0, y1, x1: where the leaf covers the scene


def _clip(seed: int = 0, frames: int = N) -> tuple[torch.Tensor, np.ndarray]:
    """(T, 3, H, W) in [0, 1] and the ground truth (T, H, W) bool (the leaf while it is there)."""
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 1.5)
    scene = np.clip(0.5 + 2.5 * (scene - 0.5), 0.1, 0.9).astype(np.float32)
    y0, x0, y1, x1 = BOX
    big = cv2.GaussianBlur(rng.normal(0, 1, (y1 - y0 + 12, x1 - x0 + 12)).astype(np.float32), (0, 0), 1.5)
    leaf = np.clip(0.45 + 0.5 * big / big.std(), 0.05, 0.95)[:, :, None] * np.array([0.6, 1.0, 0.5], np.float32)
    xs, gt = [], np.zeros((frames, H, W), bool)
    for t in range(frames):
        img = scene.copy()
        if t < LEAVE:  # the leaf jitters by up to 3 pixels every frame: never still
            dy, dx = rng.integers(0, 7, size=2)
            img[y0:y1, x0:x1] = leaf[dy : dy + y1 - y0, dx : dx + x1 - x0]
            gt[t, y0:y1, x0:x1] = True
        img = img + rng.normal(0, 1.5 / 255, img.shape).astype(np.float32)
        xs.append(np.clip(np.round(img * 255), 0, 255) / 255)
    return torch.from_numpy(np.stack(xs).astype(np.float32)).permute(0, 3, 1, 2).contiguous(), gt


def _masks(st, x: torch.Tensor, k: float) -> np.ndarray:
    return torch.cat([st.step(x[i : i + 8]) for i in range(0, x.shape[0], 8)]).amax(1).numpy() > k


def _recall(m: np.ndarray, gt: np.ndarray) -> float:
    return float((m & gt).sum() / gt.sum())


def test_a_second_pass_finds_what_covered_the_window_and_changes_nothing_where_the_window_saw_the_scene():
    from bgsub.background.state import start

    x, gt = _clip()
    bc = Config().background
    k = bc.k
    first = start(x[:100], bc, pixels=19200)  # the training pass: over the whole video
    for i in range(0, N, 8):
        first.step(x[i : i + 8])
    found = first.lookahead()
    assert found is not None
    open_px = np.zeros(H * W, bool)
    open_px[found["pixels"]] = True
    open_px = open_px.reshape(H, W)
    y0, x0, y1, x1 = BOX
    assert open_px[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].mean() > 0.9  # the leaf's interior: never still in the window
    outside = np.ones((H, W), bool)
    outside[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2] = False
    assert open_px[outside].mean() < 0.02  # the still scene: the window saw it

    one = start(x[:100], bc, pixels=19200)  # one pass, causal
    two = start(x[:100], bc, pixels=19200)
    assert two.adopt(found)
    s1, s2 = one.model.samples, two.model.samples
    assert np.array_equal(s1[:, :, ~open_px], s2[:, :, ~open_px])  # only the pixels the window never saw still
    m1, m2 = _masks(one, x, k), _masks(two, x, k)
    while_there = gt[:LEAVE]
    assert _recall(m1[:LEAVE], while_there) < 0.35  # the leaf's own values are its samples: called background
    assert _recall(m2[:LEAVE], while_there) > 0.85  # the scene behind it, found later, is
    assert m2[LEAVE + 30 :].mean() < 0.005  # and the scene itself is background once the leaf has gone (its
    #   texture samples are the first pass's too: the window's were the leaf's)


def test_another_window_does_not_take_a_first_pass_s_findings():
    from bgsub.background.state import start

    x, _ = _clip(seed=0)
    other, _ = _clip(seed=1)
    bc = Config().background
    first = start(x[:100], bc, pixels=19200)
    for i in range(0, N, 8):
        first.step(x[i : i + 8])
    found = first.lookahead()
    st = start(other[:100], bc, pixels=19200)
    before = st.model.samples.copy()
    assert not st.adopt(found)
    assert np.array_equal(st.model.samples, before)
    same = start(x[:100], bc, pixels=19200)
    same.step(x[:8])
    assert not same.adopt(found)  # too late: frames were stepped already
    assert not start(x[:100], bc, pixels=19200).adopt(None)


def test_a_window_that_saw_everything_still_has_nothing_to_look_ahead_for():
    from bgsub.background.state import start

    x, _ = _clip()
    scene = x[LEAVE + 10 : LEAVE + 11]  # the scene alone (the leaf has gone), still for 120 frames
    noise = np.random.default_rng(3).normal(0, 1.5 / 255, (120,) + tuple(scene.shape[1:])).astype(np.float32)
    still = (scene + torch.from_numpy(noise)).clamp(0, 1)
    st = start(still[:100], Config().background, pixels=19200)
    st.step(still)
    assert st.lookahead() is None
    short = x[:90]  # the leaf hides the scene for the whole clip, which is no longer than its window: nothing new
    st = start(short, Config().background, pixels=19200)
    st.step(short)
    assert st.model._stable is not None and st.model._stable.unsettled.any() and st.lookahead() is None


@pytest.fixture
def _small_training():
    return ["train.epochs=3", "train.tune_epochs=3", "train.pool=40", "train.init=scratch"]


def _write(tmp_path, x: torch.Tensor, gt: np.ndarray):
    src = tmp_path / "clip"
    (src / "input").mkdir(parents=True)
    (src / "groundtruth").mkdir()
    for t in range(x.shape[0]):
        img = (x[t].permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8)
        cv2.imwrite(str(src / "input" / f"in{t + 1:06d}.png"), img)
        cv2.imwrite(str(src / "groundtruth" / f"gt{t + 1:06d}.png"), gt[t].astype(np.uint8) * 255)
    (src / "temporalROI.txt").write_text(f"1 {x.shape[0]}\n")
    return src


def test_train_then_segment_the_same_video_starts_from_the_training_pass_and_another_video_does_not(
        cli, tmp_path, _small_training):
    """End to end, as a user runs it: the model file carries the training pass's findings; segmenting the same
    video with it finds the leaf the window hid (recall against the exact ground truth), segment.lookahead=false
    does not, and another video of the same size is segmented from its own window alone."""
    from bgsub.training import load_checkpoint

    x, gt = _clip()
    src = _write(tmp_path, x, gt)
    sets = sum([["--set", s] for s in _small_training], [])
    cli("--quiet", "train", str(src), "-o", str(tmp_path / "m.pt"), *sets)
    state = load_checkpoint(tmp_path / "m.pt")[2]
    assert state.lookahead is not None and isinstance(state.lookahead["vals"], np.ndarray)

    def recall(flag: str, video=src, prescan: str = "false") -> float:
        out = tmp_path / f"out-{flag}-{prescan}-{video.name}"
        r = cli("--quiet", "segment", str(video), "--model", str(tmp_path / "m.pt"), "-o", str(out),
                "--set", f"segment.lookahead={flag}", "--set", f"segment.prescan={prescan}")
        assert r.code == 0, r.stderr
        masks = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted(out.glob("*.png"))])
        return _recall(masks[:LEAVE], gt[:LEAVE])

    with_it, without = recall("true"), recall("false")
    assert without < 0.5 and with_it > 0.8
    assert recall("true", prescan="auto") == pytest.approx(with_it)  # the training pass's findings: no first pass
    y, gty = _clip(seed=1)
    other = _write(tmp_path / "other", y, gty)
    assert recall("true", other) == pytest.approx(recall("false", other))  # its own window alone
    assert recall("true", other, prescan="auto") > 0.8  # and, read twice by default, its own first pass


def test_the_zero_shot_network_reads_a_file_twice_when_its_window_did_not_show_the_scene(cli, tmp_path):
    """segment.prescan: no training pass, so a first pass of the background model alone over the file gives the
    zero-shot network the same start; by default (auto) where the window never saw a tenth of the pixels still
    (the leaf covers a third of the frame), false reads once (causal)."""
    x, gt = _clip()
    src = _write(tmp_path, x, gt)

    def recall(*sets: str) -> float:
        out = tmp_path / f"out{len(sets)}"
        r = cli("--quiet", "segment", str(src), "-o", str(out), *sum([["--set", s] for s in sets], []))
        assert r.code == 0, r.stderr
        masks = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted(out.glob("*.png"))])
        assert masks.shape[0] == N
        return _recall(masks[:LEAVE], gt[:LEAVE])

    assert recall("segment.prescan=false") < 0.5
    assert recall() > 0.8
    assert recall("segment.prescan=true") > 0.8


def test_auto_reads_once_where_the_window_showed_the_scene_or_the_source_cannot_be_read_again(tmp_path, monkeypatch,
                                                                                              caplog):
    """segment.prescan=auto asks for a first pass only where it can help and the source allows it: the leafy clip
    from a folder (one first pass), not the same scene without the leaf, not the leafy clip cut to its window
    (nothing further on), not the leafy clip from a camera (read once: no error, the window's model)."""
    from test_stream import FakeCapture

    from bgsub.pipelines import run
    from bgsub.pipelines.segment import segment

    calls = []
    real = run.prescan
    monkeypatch.setattr(run, "prescan", lambda *a, **k: calls.append(1) or real(*a, **k))

    def passes(src, **kw) -> int:
        calls.clear()
        r = segment(src, tmp_path / f"out{len(list(tmp_path.iterdir()))}", progress=False, **kw)
        assert r["passes"] == 1 + len(calls)  # the summary says so (the command line: "read twice")
        return len(calls)

    x, gt = _clip()
    leafy = _write(tmp_path / "leafy", x, gt)
    assert passes(leafy) == 1
    still = x.clone()
    still[:LEAVE] = x[LEAVE + 1 :][: LEAVE].mean(0, keepdim=True)  # the scene as the leaf left it, every frame
    assert passes(_write(tmp_path / "still", still, np.zeros_like(gt))) == 0
    assert passes(_write(tmp_path / "short", x[:100], gt[:100])) == 0
    frames = [cv2.imread(str(p)) for p in sorted((leafy / "input").glob("*.png"))]
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture(frames))  # fails on a second opening or a seek
    out = tmp_path / "camera"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bgsub"):
        assert segment(0, out, progress=False)["passes"] == 1
    assert any("and 0 is read once" in r.getMessage() for r in caplog.records)  # the log says why
    masks = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted(out.glob("*.png"))])
    assert masks.shape[0] == N and not calls and _recall(masks[:LEAVE], gt[:LEAVE]) < 0.5


@pytest.mark.parametrize("prescan", ["auto", "true"])
def test_a_read_twice_starts_the_model_once_and_gives_the_masks_of_starting_it_again(tmp_path, monkeypatch, prescan):
    """segment.prescan reads the window three times over (begin, the first pass, the segmentation after it): the
    model is started on it once and the two passes start from copies of that start (UNetMethod.started). The
    reference is the same run with the copies refused (started() None: the model started on the window again by
    each pass, as before): the same masks, byte for byte, from one start instead of three."""
    from bgsub.config import load_config
    from bgsub.methods.unet import UNetMethod
    from bgsub.pipelines.segment import segment

    x, gt = _clip()
    src = _write(tmp_path, x, gt)
    starts = []
    real = UNetMethod.estimate_reference
    monkeypatch.setattr(UNetMethod, "estimate_reference",
                        lambda self, clip, cover=None: starts.append(1) or real(self, clip, cover))

    def run(tag: str) -> tuple[list[bytes], int]:
        starts.clear()
        out = tmp_path / tag
        r = segment(src, out, progress=False, cfg=load_config(None, [f"segment.prescan={prescan}"]))
        assert r["passes"] == 2
        return [p.read_bytes() for p in sorted(out.glob("*.png"))], len(starts)

    copies, n_copies = run("copies")
    monkeypatch.setattr(UNetMethod, "started", lambda self: None)
    again, n_again = run("again")
    assert (n_copies, n_again) == (1, 3)
    assert len(copies) == N and copies == again
    masks = np.stack([cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE) > 127 for b in copies])
    assert _recall(masks[:LEAVE], gt[:LEAVE]) > 0.8  # and the leaf found, as the first pass is for


def test_ctrl_c_during_the_first_pass_ends_it_and_writes_the_window_s_masks(tmp_path, monkeypatch):
    """Ctrl-C (the stop event segment's SIGINT handler sets) while segment.prescan=auto's first pass runs: that pass
    ends at the next frame and the segmenting pass, seeing it set, writes the masks of the frames it had read (the
    window), every one complete, and says interrupted; nothing waits for the rest of the video."""
    import threading

    from bgsub.methods.unet import UNetMethod
    from bgsub.pipelines.segment import segment

    x, gt = _clip()
    src = _write(tmp_path, x, gt)
    stop = threading.Event()
    stepped = []
    real = UNetMethod.look_ahead
    monkeypatch.setattr(UNetMethod, "look_ahead", lambda self, f: stepped.append(len(f)) or stop.set() or real(self, f))
    out = tmp_path / "out"
    r = segment(src, out, progress=False, stop=stop)
    assert r["interrupted"] and r["passes"] == 2
    assert sum(stepped) < N  # the first pass ended early
    masks = sorted(out.glob("bin*.png"))
    assert 100 <= len(masks) < N
    assert all(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).shape == (H, W) for p in masks)


def test_a_prescan_setting_that_is_not_one_is_a_one_line_error(cli, tmp_path):
    x, gt = _clip(frames=30)
    src = _write(tmp_path, x, gt)
    r = cli("segment", str(src), "-o", str(tmp_path / "o"), "--set", "segment.prescan=maybe")
    assert r.code == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "segment.prescan must be one of auto, true, false, got 'maybe'" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_video_read_reduced_gets_the_second_pass_too(cli, tmp_path, _small_training):
    """At 640 x 480 the sample model measures frames at a smaller size, and segment reads them at that size; the
    training pass reads them the same way (bgsub.pipelines.fit.stream_fit), so its window is segment's and the
    second pass is used (it was not when training read at the working size)."""
    x, gt = _clip()
    big = torch.nn.functional.interpolate(x, scale_factor=10, mode="nearest")
    gtb = np.repeat(np.repeat(gt, 10, axis=1), 10, axis=2)
    src = _write(tmp_path, big, gtb)
    sets = sum([["--set", s] for s in _small_training], [])
    cli("--quiet", "train", str(src), "-o", str(tmp_path / "m.pt"), *sets)
    out = tmp_path / "out"
    cli("--quiet", "segment", str(src), "--model", str(tmp_path / "m.pt"), "-o", str(out))
    masks = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in sorted(out.glob("*.png"))])
    assert masks.shape == gtb.shape
    assert _recall(masks[:LEAVE], gtb[:LEAVE]) > 0.8


def test_a_background_that_moves_all_the_time_keeps_the_window_s_samples():
    """The leaf jitters over the box through the whole clip (it never leaves): the window never saw the box still,
    and neither does the rest of the video, so a second pass has nothing stiller to take there."""
    from bgsub.background.state import start

    x, _ = _clip()
    x = x[:LEAVE]  # 140 frames, the leaf in every one
    first = start(x[:100], Config().background, pixels=19200)
    for i in range(0, x.shape[0], 8):
        first.step(x[i : i + 8])
    assert first.model.unsettled_share() > 0.25  # a third of the frame never still in the window
    found = first.lookahead()
    taken = np.zeros(H * W, bool)
    if found is not None:
        taken[found["pixels"]] = True
    y0, x0, y1, x1 = BOX
    assert taken.reshape(H, W)[y0:y1, x0:x1].mean() < 0.05


def test_a_second_pass_takes_the_pixels_the_video_later_showed_twice_as_still_as_the_window():
    """The rule itself, on a search's state set by hand: a pixel is taken when the median motion of its kept frames
    has fallen below half the window's (someone who stood in view through the window, moving a little, then left;
    leaves that crossed the lens and left); 0.6 of it is what noise alone can make (not taken); a pixel the window
    never saw still is taken by the same rule, not for being unsettled (a branch that sways all the time keeps the
    window's samples). Past the horizon the search holds the open pixels' columns alone: the same rule on them."""
    from bgsub.background.stable import LOOKAHEAD_STILLER, StableSearch

    assert LOOKAHEAD_STILLER == 0.5
    rng = np.random.default_rng(0)
    n, C, h, w = 6, 3, 2, 3
    vals = rng.random((n, C, h, w)).astype(np.float32)
    mot = np.ones((n, h, w), np.float32)
    unsettled = np.zeros((h, w), bool)
    unsettled[1, 1] = unsettled[1, 2] = True
    s = StableSearch(vals, mot, first=10, horizon=100, box=3, camera=1.0, motion="both", norm=None,
                     open_mask=unsettled)
    assert s.lookahead() is None  # nothing searched after the window yet
    s.searched = True
    s.mot[:, 0] = 0.45  # pixel (0, 0): its kept frames now move 0.45 of the window's
    s.mot[:, 1] = 0.6  # pixel (0, 1): 0.6 (noise's selection alone)
    s.mot[:, 2] = 0.1
    s.mot[:3, 2] = 1.0  # pixel (0, 2): half of its kept frames much stiller, the median (1 + .1) / 2: not taken
    s.mot[:4, 3] = 0.1  # pixel (1, 0): four of six, the median 0.1: taken
    s.mot[:, 5] = 0.3  # pixel (1, 2), unsettled: the video later showed it stiller: taken
    found = s.lookahead()  # pixel (1, 1), unsettled, as moving as in the window: not taken
    assert found["pixels"].tolist() == [0, 3, 5]
    assert np.array_equal(found["vals"], s.vals[:, :, [0, 3, 5]])
    assert np.array_equal(found["mot"], s.mot[:, [0, 3, 5]])
    past = StableSearch(vals, mot, first=10, horizon=100, box=3, camera=1.0, motion="both", norm=None,
                        open_mask=unsettled)
    past.searched, past.idx = True, np.array([4, 5])  # past the horizon: the open pixels' columns, in order
    past.vals, past.mot = past.vals[:, :, [4, 5]].copy(), past.mot[:, [4, 5]].copy()
    past.mot[:, 1] = 0.3
    found = past.lookahead()
    assert found["pixels"].tolist() == [5] and np.array_equal(found["vals"], past.vals[:, :, [1]])


@pytest.mark.parametrize("flag", ["true", "false"])
def test_the_per_video_network_is_trained_on_the_second_pass_s_inputs(tmp_path, flag):
    """With segment.lookahead the training reads the video a second time and collects the network's inputs from a
    model that takes the first pass's findings: the inputs it will be given when this video is segmented (the
    leaf's z above k while it hides the scene); without it, one pass (the leaf's z low: its own values are the
    samples). Both through the pipeline (the video read twice) and through fit() on a clip in memory."""
    from bgsub.config import load_config
    from bgsub.methods.base import create
    from bgsub.netinput import network_size
    from bgsub.pipelines.fit import fit_on_video

    x, gt = _clip()
    src = _write(tmp_path, x, gt)
    cfg = load_config(None, ["train.epochs=1", "train.tune_epochs=1", "train.init=scratch", "train.pool=60",
                             f"segment.lookahead={flag}"])
    seen = []
    for how in ("stream", "clip"):
        m = create("unet", cfg)
        m.progress = False
        m.train_on = lambda inputs, m=m: seen.append((how, m, inputs)) or m
        if how == "stream":
            fit_on_video(m, src, cfg=cfg, seed=0)
            nums = m.fit_numbers(list(range(1, N + 1)), seed=0)
        else:
            m.fit(x)
            nums = list(range(1, N + 1))
        inputs = seen[-1][2]
        h, w = network_size(H, W, cfg.model.pixels)
        y0, x0, y1, x1 = BOX
        leaf = [i for i, n in enumerate(nums) if n - 1 < LEAVE]
        z = torch.expm1(inputs[leaf][:, :, y0 + 2 : y1 - 2, x0 + 2 : x1 - 2]).amax(1)  # (h, w) == (H, W) here
        share = float((z > cfg.background.k).float().mean())
        assert (h, w) == (H, W)
        if flag == "true":
            assert share > 0.8, (how, share)
            assert m.state.lookahead is not None  # the first pass's findings, kept for segmenting
        else:
            assert share < 0.3, (how, share)


@pytest.mark.parametrize("prescan", ["auto", "false"])
def test_the_pretraining_inputs_are_those_segment_gives_the_shipped_network(tmp_path, prescan):
    """scripts/pretrain.py's inputs of a video (bgsub.pretraining.video_inputs): where segment reads it twice
    (segment.prescan=auto: the leaf hides a third of the window), from a model that takes a first pass's findings
    (the leaf's z above k while it hides the scene); read once otherwise (the leaf's z low)."""
    from bgsub.config import load_config
    from bgsub.methods.unet import UNetMethod
    from bgsub.pretraining import video_inputs

    x, gt = _clip()
    src = _write(tmp_path, x, gt)
    cfg = load_config(None, [f"segment.prescan={prescan}"])
    inputs = video_inputs(src, cfg, frames=40, seed=0)
    nums = UNetMethod(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, pool=40))).fit_numbers(
        list(range(1, N + 1)), seed=0)
    assert inputs.shape[0] == len(nums) and inputs.shape[-2:] == (H, W)
    y0, x0, y1, x1 = BOX
    leaf = [i for i, n in enumerate(sorted(nums)) if n - 1 < LEAVE]
    z = torch.expm1(inputs[leaf][:, :, y0 + 2 : y1 - 2, x0 + 2 : x1 - 2]).amax(1)
    share = float((z > cfg.background.k).float().mean())
    assert share > 0.8 if prescan == "auto" else share < 0.3, share
