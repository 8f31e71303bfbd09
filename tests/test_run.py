"""The shared pipeline: windows, top-up of a short last window, stateful methods, outputs."""

from __future__ import annotations

import torch

from bgsub.api import evaluate
from bgsub.config import Config
from bgsub.methods.base import Decomposition, Method
from bgsub.pipelines.run import decompose_video


class _Recorder(Method):
    name = "recorder"

    def __init__(self, cfg=None, streams=False):
        super().__init__(cfg)
        self.streams = streams
        self.seen: list[int] = []
        self.sizes: list[int] = []

    def decompose(self, clip):
        # frame identity: the clip's own mean is not unique, so count calls and sizes instead
        self.sizes.append(clip.shape[0])
        bg = clip.median(dim=0, keepdim=True).values.expand_as(clip)
        return Decomposition(bg, clip - bg)


def test_short_last_window_is_topped_up_for_window_methods(small_clip, tmp_path):
    m = _Recorder()
    r = decompose_video(m, small_clip, tmp_path / "a", cfg=Config(), window=16, progress=False)
    assert m.sizes == [16, 16, 16]  # 40 frames: 16, 16, then 8 new + 8 from the previous window
    assert r["frames"] == 40 and len(list((tmp_path / "a").glob("bin*.png"))) == 40


def test_stateful_methods_see_each_frame_once(small_clip, tmp_path):
    m = _Recorder(streams=True)
    decompose_video(m, small_clip, tmp_path / "b", cfg=Config(), window=16, progress=False)
    assert m.sizes == [16, 16, 8] and sum(m.sizes) == 40


def test_foreground_images_and_scores(small_clip, tmp_path):
    r = decompose_video(_Recorder(), small_clip, tmp_path / "c", cfg=Config(), window=20, progress=False,
                        save_foreground=True, save_background=True)
    assert len(list((tmp_path / "c").glob("fg*.png"))) == 40 and len(list((tmp_path / "c").glob("bg*.png"))) == 40
    assert (tmp_path / "c" / "config.yaml").is_file()
    # a median background already separates the synthetic objects reasonably
    assert evaluate(r["out"], small_clip)["scores"]["f_measure"] > 0.5


def test_foreground_images_for_chosen_frames_only(small_clip, tmp_path):
    import cv2

    from bgsub.io.frames import numbered_files

    out = tmp_path / "d"
    decompose_video(_Recorder(), small_clip, out, cfg=Config(), window=20, progress=False, save_foreground={3, 25})
    assert sorted(numbered_files(out, prefix="fg")) == [3, 25]
    # the same image as when every frame's is written (scaled by its window's maximum)
    decompose_video(_Recorder(), small_clip, tmp_path / "all", cfg=Config(), window=20, progress=False,
                    save_foreground=True)
    for n in (3, 25):
        a = cv2.imread(str(out / f"fg{n:06d}.png"), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(tmp_path / "all" / f"fg{n:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert (a == b).all()
