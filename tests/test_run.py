"""The shared pipeline: windows, top-up of a short last window, stateful methods, outputs."""

from __future__ import annotations

import torch

from bgsub.api import evaluate
from bgsub.config import Config
from bgsub.devices import torch_threads
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


class _Concurrent(Method):
    """A stateless method whose windows may run at once: sleeps a time that varies per window (so later windows
    can finish first), records the threads' torch thread counts and the peak number of calls in flight."""

    name = "concurrent"
    window_threads = True

    def __init__(self, cfg=None, fail_at=None):
        import threading

        super().__init__(cfg)
        self.lock, self.active, self.peak, self.threads, self.calls, self.fail_at = threading.Lock(), 0, 0, set(), 0, fail_at

    def decompose(self, clip):
        import time

        from bgsub.errors import BgsubError

        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.threads.add(torch.get_num_threads())
            self.calls += 1
            call = self.calls
        try:
            time.sleep(0.02 * (call % 3))
            if call == self.fail_at:
                raise BgsubError("window failed")
            bg = clip.median(dim=0, keepdim=True).values.expand_as(clip)
            return Decomposition(bg, clip - bg)
        finally:
            with self.lock:
                self.active -= 1


def test_windows_decomposed_side_by_side_give_the_masks_of_one_at_a_time(small_clip, tmp_path):
    from bgsub.config import load_config
    from bgsub.pipelines.run import window_workers

    one, two = load_config(None, ["segment.workers=1"]), load_config(None, ["segment.workers=2"])
    seq = decompose_video(_Recorder(), small_clip, tmp_path / "seq", cfg=one, window=8, progress=False)
    m = _Concurrent()
    par = decompose_video(m, small_clip, tmp_path / "par", cfg=two, window=8, progress=False)
    assert seq["workers"] == 1 and par["workers"] == 2 and par["frames"] == 40
    assert m.peak == 2 and m.threads == {1}  # two windows in flight, each worker with one torch thread
    for n in range(1, 41):  # the same masks, each at its frame number
        a = (tmp_path / "seq" / f"bin{n:06d}.png").read_bytes()
        assert a == (tmp_path / "par" / f"bin{n:06d}.png").read_bytes(), n
    # auto: the torch thread count for such methods on the CPU; 1 for the others and for stateful ones
    auto = load_config(None, ["segment.device=cpu"])
    assert window_workers(_Concurrent(), auto) == torch.get_num_threads()
    assert window_workers(_Recorder(), auto) == 1 and window_workers(_Recorder(streams=True), two) == 1
    # a method that steps its background model in the reading thread leaves that thread a core
    stepping = _Concurrent()
    stepping.prepares = True
    with torch_threads(3):
        assert window_workers(stepping, auto) == 2 and window_workers(_Concurrent(), auto) == 3
    with torch_threads(1):
        assert window_workers(stepping, auto) == 1
    assert window_workers(stepping, two) == 2  # an explicit count is kept


def test_readers_leave_the_stepping_thread_a_core():
    from bgsub.pipelines.reading import MAX_READERS, readers

    stepping, plain = _Concurrent(), _Concurrent()
    stepping.prepares = True
    with torch_threads(3):
        assert readers() == 3 and readers(plain) == 3 and readers(stepping) == 2
    with torch_threads(2):
        assert readers(stepping) == 1 and readers(plain) == 2
    with torch_threads(1):
        assert readers(stepping) == 1 and readers() == 1
    with torch_threads(MAX_READERS + 3):
        assert readers(stepping) == MAX_READERS and readers() == MAX_READERS


def test_a_failing_window_stops_the_run_with_its_error(small_clip, tmp_path):
    import pytest

    from bgsub.config import load_config
    from bgsub.errors import BgsubError

    with pytest.raises(BgsubError, match="window failed"):
        decompose_video(_Concurrent(fail_at=3), small_clip, tmp_path / "f", cfg=load_config(None, ["segment.workers=2"]),
                        window=8, progress=False)
    with pytest.raises(BgsubError, match="segment.workers must be >= 0"):
        decompose_video(_Concurrent(), small_clip, tmp_path / "g", cfg=load_config(None, ["segment.workers=-1"]),
                        window=8, progress=False)
