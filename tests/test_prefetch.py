"""Background reading and writing (bgsub.io.prefetch), the lazy decomposition and the sampled illumination offset."""

import threading
import time

import numpy as np
import pytest
import torch

from bgsub.background import OFFSET_SAMPLES, _offsets, offset_stride
from bgsub.errors import BgsubError
from bgsub.io.prefetch import BackgroundWriter, ordered_map, prefetch
from bgsub.methods.base import LazyDecomposition


def test_prefetch_yields_every_item_in_order_and_stays_bounded():
    produced = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    seen = []
    for x in prefetch(items(), depth=2):
        time.sleep(0.002)
        # the producer is never more than depth (queued) + 1 (blocked in put) items ahead
        assert len(produced) - len(seen) <= 4
        seen.append(x)
    assert seen == list(range(20))


def test_prefetch_raises_the_producers_error_at_its_place():
    def items():
        yield 1
        yield 2
        raise BgsubError("clip.avi: frame 3 is damaged")

    got = []
    with pytest.raises(BgsubError, match="frame 3 is damaged"):
        for x in prefetch(items()):
            got.append(x)
    assert got == [1, 2]


def test_prefetch_stops_the_producer_when_the_consumer_breaks():
    made = []

    def items():
        for i in range(10_000):
            made.append(i)
            yield i

    it = prefetch(items(), depth=1)
    for x in it:
        if x == 3:
            break
    it.close()
    time.sleep(0.3)
    assert len(made) < 10
    assert not any(t.name == "bgsub-prefetch" and t.is_alive() for t in threading.enumerate())


def test_ordered_map_keeps_the_order_stays_bounded_and_raises_at_the_item():
    started = []

    def slow(i):
        started.append(i)
        time.sleep(0.004 * (i % 3))  # later items finish first
        if i == 7:
            raise BgsubError("frame 7 is damaged")
        return i * i

    got = []
    it = ordered_map(slow, range(20), workers=3, ahead=4)
    with pytest.raises(BgsubError, match="frame 7"):
        for x in it:
            assert len(started) - len(got) <= 4 + 1  # never more than `ahead` jobs ahead of the consumer
            got.append(x)
    assert got == [i * i for i in range(7)]
    assert list(ordered_map(lambda i: -i, range(9), workers=1)) == [-i for i in range(9)]  # one worker: plain map


def test_ordered_map_closed_early_starts_no_more_jobs():
    started = []
    it = ordered_map(lambda i: started.append(i) or i, range(1000), workers=2, ahead=4)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    n = len(started)
    time.sleep(0.1)
    assert len(started) == n <= 8
    assert not any(t.name.startswith("bgsub-map") and t.is_alive() for t in threading.enumerate())


def test_background_writer_runs_jobs_in_order_and_reraises():
    log = []
    with BackgroundWriter(depth=2) as w:
        for i in range(10):
            w.submit(log.append, i)
    assert log == list(range(10))

    def boom():
        raise BgsubError("out/bin000001.png: permission denied")

    with pytest.raises(BgsubError, match="permission denied"):
        with BackgroundWriter(depth=2) as w:
            w.submit(boom)
            for i in range(5):
                w.submit(log.append, i)  # the failure surfaces here at the latest, or when the block ends


def test_background_writer_finishes_pending_jobs_when_the_block_fails():
    log = []
    with pytest.raises(RuntimeError, match="method failed"):
        with BackgroundWriter(depth=3) as w:
            w.submit(lambda: (time.sleep(0.05), log.append("written")))
            raise RuntimeError("method failed")
    assert log == ["written"]


def test_lazy_decomposition_computes_once_on_demand():
    calls = []
    L, S = torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)

    def parts():
        calls.append(1)
        return L, S

    masks = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    d = LazyDecomposition(masks, parts)
    assert d.masks is masks and calls == []
    assert d.foreground is S and d.background is L and d.foreground is S
    assert calls == [1]


def test_sampled_illumination_offset_matches_the_all_pixel_median():
    g = np.random.default_rng(3)
    h, w = 240, 320
    assert offset_stride(h, w) == 4 and (h // 4) * (w // 4) >= OFFSET_SAMPLES
    assert offset_stride(10, 12) == 1
    bg = g.uniform(0.2, 0.8, size=(3, h, w))
    shift = np.array([0.05, -0.03, 0.1])[:, None, None]
    frames = bg + shift + g.normal(0, 0.01, size=(4, 3, h, w))
    frames[:, :, 50:120, 60:200] = 0.0  # an object covering an eighth of the frame
    full = np.median((frames - bg).reshape(4, 3, -1), axis=2)  # the all-pixel median (NumPy)
    got = _offsets(torch.tensor(frames, dtype=torch.float32), torch.tensor(bg, dtype=torch.float32))[..., 0, 0]
    # within a tenth of the noise level (0.01) of the all-pixel median; both within half a noise level of the true
    # shift (the object drags any median a little)
    assert np.abs(got.numpy() - full).max() < 1e-3
    assert np.abs(got.numpy() - shift[:, 0, 0]).max() < 5e-3


@pytest.mark.parametrize("size", [(240, 320), (3, 5), (2, 2)])
def test_illumination_offset_is_the_lower_median_of_the_grid(size):
    """Exactly the lower middle value of the grid's samples (torch.median's convention), even and odd counts."""
    g = np.random.default_rng(4)
    h, w = size
    frames = g.uniform(0, 1, size=(3, 3, h, w)).astype(np.float32)
    bg = g.uniform(0, 1, size=(3, h, w)).astype(np.float32)
    s = offset_stride(h, w)
    d = np.sort((frames[..., ::s, ::s] - bg[..., ::s, ::s]).reshape(3, 3, -1), axis=2)
    want = d[..., (d.shape[2] - 1) // 2]
    with torch.inference_mode():
        got = _offsets(torch.tensor(frames), torch.tensor(bg))
    assert got.shape == (3, 3, 1, 1)
    np.testing.assert_array_equal(got[..., 0, 0].numpy(), want)


def test_pipeline_threads_hand_the_gil_over_sooner_and_restore_it_nested():
    """The switch interval is 1 ms inside (Python's is 5 ms; whatever it was is restored after the last of
    nested or side-by-side pipelines), the objects made before are frozen out of the collector and thawed
    after, even when the pipeline fails."""
    import gc
    import sys

    from bgsub.io.prefetch import SWITCH_INTERVAL, pipeline_threads

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        with pipeline_threads():
            assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) and gc.get_freeze_count() > 0
            with pipeline_threads():
                assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
            assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) and gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == pytest.approx(0.004) and gc.get_freeze_count() == 0
        with pytest.raises(ValueError):
            with pipeline_threads():
                raise ValueError("a window failed")
        assert sys.getswitchinterval() == pytest.approx(0.004) and gc.get_freeze_count() == 0
    finally:
        sys.setswitchinterval(before)
