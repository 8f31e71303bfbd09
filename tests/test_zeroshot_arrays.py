"""The zero-shot path on NumPy arrays (``segment.engine``, :mod:`bgsub.methods.zeroshot`): a process that segments
with the shipped network never imports torch, and its masks are the torch engine's. The NumPy forms of the shared
helpers (network input, resizing, thresholds) against torch's own functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bgsub.config import Config, apply_dict
from bgsub.errors import BgsubError

BLOCKED = "import sys; sys.modules['torch'] = None  # any import of torch fails\n"


def _without_torch(code: str, what: str = "") -> subprocess.CompletedProcess:
    """``python -c code`` in a process where any import of torch fails (one thread); asserts that it exits 0."""
    res = subprocess.run([sys.executable, "-c", BLOCKED + code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, (what, res.stderr[-2000:])
    return res


def _cfg(**segment) -> Config:
    return apply_dict(Config(), {"segment": segment}, source="test")


def _masks(folder) -> dict[str, np.ndarray]:
    import cv2

    return {f: cv2.imread(os.path.join(folder, f), cv2.IMREAD_GRAYSCALE) for f in sorted(os.listdir(folder))
            if f.startswith("bin")}


def test_zero_shot_segment_runs_without_torch_and_gives_the_torch_engines_masks(medium_clip, tmp_path):
    """``bgsub segment`` of a synthetic clip in a process where torch cannot be imported: it runs, says it used
    OpenCV, and writes the masks that the torch engine (fp32) writes, pixel for pixel."""
    clip = medium_clip
    out = tmp_path / "arrays"
    res = _without_torch(f"from bgsub.cli import main\nmain(['--quiet', 'segment', {str(clip)!r}, '-o', "
                         f"{str(out)!r}, '--json', '--threads', '1'])")
    summary = json.loads(res.stdout)
    assert summary["engine"] == "opencv" and summary["device"] == "cpu"
    from bgsub.pipelines.segment import segment

    ref = tmp_path / "torch"
    got = segment(clip, ref, cfg=_cfg(engine="torch", bf16=False), progress=False)
    assert got["engine"] == "torch"
    a, b = _masks(out), _masks(ref)
    assert a.keys() == b.keys() and len(a) == summary["frames"] > 0
    differ = sum(int((a[k] != b[k]).sum()) for k in a)
    total = sum(m.size for m in a.values())
    assert differ <= total * 1e-5, (differ, total)  # logits within ~1e-5: a pixel flips only at logit 0
    assert sum(int((m > 0).sum()) for m in a.values()) > 0


def test_the_engine_follows_segment_engine_and_the_device():
    from bgsub.methods.base import create

    assert create("unet-pretrained", _cfg(device="cpu")).arrays
    assert not create("unet-pretrained", _cfg(engine="torch")).arrays
    with pytest.raises(BgsubError, match="segment.engine must be one of"):
        create("unet-pretrained", _cfg(engine="onnx"))
    with pytest.raises(BgsubError, match="runs on the CPU"):
        create("unet-pretrained", _cfg(engine="opencv", device="cuda"))


def test_a_failed_check_falls_back_to_torch_or_says_why(monkeypatch):
    """OpenCV's DNN module disagreeing with the literal forward pass (an OpenCV that computes this network wrong):
    ``auto`` runs torch, ``opencv`` is a one-line error."""
    from bgsub.methods.base import create
    from bgsub.models import dnn

    monkeypatch.setattr(dnn.DnnUNet, "check", lambda self, *a, **k: False)
    assert not create("unet-pretrained", _cfg(device="cpu")).arrays
    with pytest.raises(BgsubError, match="other values than a literal forward pass"):
        create("unet-pretrained", _cfg(device="cpu", engine="opencv"))


def test_cuda_possible_asks_torch_once_imported_else_the_driver(monkeypatch):
    from bgsub import devices

    assert devices.cuda_possible() == torch.cuda.is_available()  # torch is imported here: its answer
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(devices.os.path, "exists", lambda p: False)
    assert devices.cuda_possible() is False
    monkeypatch.setattr(devices.os.path, "exists", lambda p: p == "/dev/nvidiactl")
    monkeypatch.setattr(devices, "torch_gpu_build", lambda: True)
    assert devices.cuda_possible() is True
    monkeypatch.setattr(devices, "torch_gpu_build", lambda: False)  # a driver, but a CPU build of torch
    assert devices.cuda_possible() is False


def test_torch_gpu_build_reads_torchs_version_file(tmp_path):
    from bgsub.devices import torch_gpu_build

    v = tmp_path / "version.py"
    for text, want in (("cuda: Optional[str] = None\nhip: Optional[str] = None\n", False),
                       ("cuda: Optional[str] = '12.1'\nhip: Optional[str] = None\n", True),
                       ("cuda = None\nhip = '6.0.3'\n", True),
                       ("__version__ = '9.9'\n", True)):  # not understood: ask torch
        v.write_text(text)
        assert torch_gpu_build(v) is want, text
    assert torch_gpu_build(tmp_path / "missing.py") is True
    assert torch_gpu_build() is (torch.version.cuda is not None or torch.version.hip is not None)


def test_threads_are_set_for_torch_when_it_is_imported_later():
    """``--threads`` before torch is imported: OpenCV's count now, torch's when it starts (``OMP_NUM_THREADS``)."""
    code = ("import sys\nfrom bgsub.runtime import cpu_threads, set_threads\nset_threads(1)\nimport cv2\n"
            "assert 'torch' not in sys.modules and cpu_threads() == 1 and cv2.getNumThreads() == 1\n"
            "import torch\nprint(torch.get_num_threads(), cpu_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("shape,pixels", [((2, 3, 240, 320), 19200), ((1, 3, 100, 130), 3000),
                                          ((2, 1, 60, 80), 0)])
def test_network_input_of_arrays_is_torchs(shape, pixels):
    """log(1 + z) area-averaged to the pixel budget: block means (240 x 320 -> 120 x 160), torch's adaptive area
    average (a factor that does not divide), none; the NumPy forms against torch's own functions."""
    from bgsub.netinput import network_input, network_size

    z = np.random.default_rng(0).exponential(2.0, size=shape).astype(np.float32)
    got = network_input(z, pixels)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    h, w = network_size(shape[2], shape[3], pixels)
    ref = torch.log1p(F.interpolate(torch.from_numpy(z), size=(h, w), mode="area"))
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_upsample_of_arrays_is_torchs_bilinear():
    from bgsub.netinput import upsample

    x = np.random.default_rng(1).normal(size=(2, 1, 15, 20)).astype(np.float32)
    got = upsample(x, (60, 80))
    ref = F.interpolate(torch.from_numpy(x), size=(60, 80), mode="bilinear", align_corners=False).numpy()
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_thresholds_of_arrays_are_those_of_tensors():
    from bgsub.threshold import magnitude, masks_from_foreground, median_filter

    S = np.random.default_rng(2).normal(size=(3, 3, 24, 32)).astype(np.float32)
    mag = magnitude(S)
    np.testing.assert_array_equal(mag, np.abs(S).max(axis=1, keepdims=True))
    for scope in ("frame", "clip"):
        a = masks_from_foreground(S, scope=scope, median=3)
        b = masks_from_foreground(torch.from_numpy(S), scope=scope, median=3)
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        np.testing.assert_array_equal(a, b.numpy())
    m = np.zeros((1, 1, 9, 9), bool)
    m[0, 0, 4, 4] = True  # a lone pixel: a 3 x 3 median removes it
    assert not median_filter(m, 3).any() and isinstance(median_filter(m, 3), np.ndarray)


def test_decompose_arrays_gives_arrays_whose_parts_add_up(medium_clip):
    """The NumPy decomposition: masks (T, 1, H, W) bool, and L + S = the frames (the parts computed on request);
    given a tensor, tensors."""
    from bgsub.io.frames import read_clip
    from bgsub.methods.base import create

    frames = read_clip(medium_clip, grayscale=False).frames[:24]  # the network takes colour
    m = create("unet-pretrained", _cfg(device="cpu"))
    assert m.arrays
    x = frames.numpy()
    m.begin(x[:16])
    dec = m.decompose(m.prepare(x[16:]))
    assert isinstance(dec.masks, np.ndarray) and dec.masks.dtype == bool and dec.masks.shape == (8, 1, *x.shape[-2:])
    np.testing.assert_allclose(dec.background + dec.foreground, x[16:], atol=1e-6)
    m.begin(frames[:16])
    dec = m.decompose(frames[16:])
    assert isinstance(dec.masks, torch.Tensor) and isinstance(dec.foreground, torch.Tensor)


def test_a_trained_network_segments_without_torch_too(small_clip, tmp_path, cli):
    """``bgsub segment --model m.pt`` (a network from ``bgsub train``, the sample model): OpenCV runs it in a
    process where torch cannot be imported, with the masks of the torch engine (fp32); the static reference
    (``background.model=reference``) still needs torch and says so when OpenCV is asked for."""
    m = tmp_path / "m.pt"
    assert cli("--quiet", "train", str(small_clip), "-o", str(m), "--epochs", "1").code == 0
    out = tmp_path / "arrays"
    res = _without_torch(f"from bgsub.cli import main\nmain(['--quiet', 'segment', {str(small_clip)!r}, '--model', "
                         f"{str(m)!r}, '-o', {str(out)!r}, '--json', '--threads', '1'])")
    assert json.loads(res.stdout)["engine"] == "opencv"
    ref = tmp_path / "torch"
    r = cli("--quiet", "segment", str(small_clip), "--model", str(m), "-o", str(ref), "--json",
                "--set", "segment.engine=torch", "--set", "segment.bf16=false")
    assert r.code == 0 and json.loads(r.stdout)["engine"] == "torch"
    a, b = _masks(out), _masks(ref)
    assert a.keys() == b.keys() and a
    total = sum(v.size for v in a.values())
    assert sum(int((a[k] != b[k]).sum()) for k in a) <= total * 1e-5
    mr = tmp_path / "mr.pt"
    assert cli("--quiet", "train", str(small_clip), "-o", str(mr), "--epochs", "1",
                   "--set", "background.model=reference").code == 0
    r = cli("--quiet", "segment", str(small_clip), "--model", str(mr), "-o", str(tmp_path / "r"), "--json")
    assert r.code == 0 and json.loads(r.stdout)["engine"] == "torch"  # auto: torch, as before
    r = cli("segment", str(small_clip), "--model", str(mr), "-o", str(tmp_path / "r2"),
                "--set", "segment.engine=opencv")
    assert r.code == 1 and "static reference" in r.stderr and "Traceback" not in r.stderr


def test_batch_of_the_shipped_network_runs_without_torch(small_clip, tmp_path):
    """``bgsub batch`` (its default method, the shipped network) in a torch-blocked process: every video scored, and
    a job's ``--threads`` reaches OpenCV (``torch_threads`` without torch: restored after the block)."""
    out = tmp_path / "out"
    res = _without_torch(
        "import cv2\nfrom bgsub.devices import torch_threads\nfrom bgsub.runtime import cpu_threads\n"
        "before = cv2.getNumThreads()\n"
        "with torch_threads(1):\n    assert cpu_threads() == 1 and cv2.getNumThreads() == 1\n"
        "assert cv2.getNumThreads() == before\n"
        f"from bgsub.cli import main\nmain(['--quiet', 'batch', {str(small_clip)!r}, '-o', {str(out)!r}, "
        "'--threads', '1'])")
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert rec["status"] == "ok" and rec["method"] == "unet-pretrained" and rec["scores"]["f_measure"] > 0.5
    assert rec["torch_threads"] == 1


def test_window_workers_leave_the_thread_counts_as_they_found_them(small_clip, tmp_path):
    """Windows decomposed side by side run one thread each; after the video, OpenCV's count is back (a benchmark's
    next method in the same process computes as before). Without torch, the workers' one thread is OpenCV's, a
    process-wide setting (torch's is per thread)."""
    res = _without_torch(
        "import cv2\nfrom bgsub.config import Config, apply_dict\nfrom bgsub.methods.base import create\n"
        "from bgsub.pipelines.run import decompose_video\ncv2.setNumThreads(3)\n"
        "cfg = apply_dict(Config(), {'segment': {'workers': 2}}, source='t')\nm = create('unet-pretrained', cfg)\n"
        f"got = decompose_video(m, {str(small_clip)!r}, {str(tmp_path / 'out')!r}, cfg=m.cfg, window=8, "
        "progress=False)\nprint(got['workers'], got['frames'], cv2.getNumThreads())")
    assert res.stdout.split() == ["2", "40", "3"]


def test_the_readme_demo_never_imports_torch(tmp_path):
    """The README's first command (synth -> segment with the shipped network -> evaluate), each step in a process
    where torch cannot be imported: the whole demo runs on NumPy and OpenCV."""
    demo = tmp_path / "demo"
    for args in (["synth", str(demo), "-n", "30", "--height", "48", "--width", "64"],
                 ["segment", str(demo), "-o", str(demo / "masks"), "--threads", "1"],
                 ["evaluate", str(demo / "masks"), "--gt", str(demo), "--json"]):
        res = _without_torch(f"from bgsub.cli import main\nmain(['--quiet', *{args!r}])", args[0])
    assert json.loads(res.stdout)["scores"]["f_measure"] > 0.5
