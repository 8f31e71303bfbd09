"""The torch-free zero-shot path: reading checkpoints without torch (bgsub.weights.reader) and the U-Net's forward
pass through OpenCV's DNN (bgsub.models.dnn). References are independent of the code under test: torch.load for
the reader; torch's UNet, onnx's checker and its reference evaluator for the network."""

from __future__ import annotations

import io
import math
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from bgsub.errors import BgsubError
from bgsub.models import dnn
from bgsub.models import onnx as onnx_writer
from bgsub.models.dnn import DnnUNet, numpy_forward, onnx_model, supported, unary_logits_np
from bgsub.models.unet import UNet, UNetSpec, unary_logits
from bgsub.weights import shipped
from bgsub.weights.reader import read_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = shipped()
BASE = {"in_channels": 3, "out_channels": 1, "base_channels": 8, "depth": 3, "convs": 1, "up": "transpose",
        "up_kernel": 2, "conv_bias": False, "stem": "conv", "skip": "cat", "unary_k": 6.0, "unary_cap": 16.0}

# Tolerance of OpenCV against torch: both compute in float32, in different orders (im2col/Winograd vs oneDNN);
# a convolution sums up to 9 * 128 products, a few layers deep, so the rounding differences reach ~1e-6 .. 1e-5 of
# the output's magnitude (measured: at most 4e-6 of it with OpenCV 5.1, 1.5e-5 with 4.8's Winograd). 1e-4 of the
# scale (at least 1e-4 absolute) is 7x above the worst seen and far below anything a wrong layer would give
# (a dropped bias, swapped kernel or wrong padding moves outputs by 1e-2 of the scale or more).
REL = 1e-4


def _tol(ref: np.ndarray) -> float:
    return REL * max(1.0, float(np.abs(ref).max()))


# ---- the reader -------------------------------------------------------------------------------------------------


def _assert_same(ours, theirs, where="root"):
    """ours (read_checkpoint) equals theirs (torch.load) with tensors as arrays of the same dtype and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, np.ndarray), where
        theirs = theirs.detach()
        want = theirs.float().numpy() if theirs.dtype == torch.bfloat16 else theirs.numpy()
        assert ours.dtype == want.dtype, (where, ours.dtype, want.dtype)
        assert ours.shape == want.shape, (where, ours.shape, want.shape)
        assert ours.flags.c_contiguous and ours.flags.writeable, where
        assert np.array_equal(ours, want, equal_nan=ours.dtype.kind in "fc"), where
        return
    assert type(ours) is type(theirs), (where, type(ours), type(theirs))
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for k in theirs:
            _assert_same(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and math.isnan(theirs):
        assert math.isnan(ours), where
    else:
        assert ours == theirs, where


def test_reader_shipped_weights_equal_torch_load():
    ours = read_checkpoint(SHIPPED)
    theirs = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    _assert_same(ours, theirs)
    assert ours["model"]["down.0.1.num_batches_tracked"].dtype == np.int64
    assert ours["model"]["down.0.0.weight"].dtype == np.float32


def test_reader_training_checkpoint_equals_torch_load(tmp_path):
    from bgsub.config import Config
    from bgsub.training import FORMAT, VERSION, TrainState, save_checkpoint

    torch.manual_seed(0)
    model = UNet(UNetSpec(in_channels=3, base_channels=4, depth=2, conv_bias=True))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(2, 3, 16, 16)).square().mean().backward()
    opt.step()  # Adam state: scalar step tensors, moments, param_groups with floats, bools, None, tuples
    lookahead = {"frames": np.arange(5, dtype=np.int64), "still": np.random.rand(3, 4, 6).astype(np.float32),
                 "half": np.ones((2, 2), np.float16), "mask": np.zeros((4, 6), bool), "name": "x", "n": 3,
                 "none": None}
    state = TrainState(epoch=7, optimizer=opt.state_dict(), generator=torch.Generator().manual_seed(3).get_state(),
                       history=[{"epoch": 1, "loss": 0.5, "lr": 1e-3}, {"epoch": 2, "loss": float("nan")}],
                       frames=[4, 8, 15], polish={"steps": 2, "history": []}, threshold=0.25, lookahead=lookahead)
    path = save_checkpoint(tmp_path / "run.pt", model, Config(), state)
    ours = read_checkpoint(path)
    _assert_same(ours, torch.load(path, map_location="cpu", weights_only=True))
    assert ours["format"] == FORMAT and ours["version"] == VERSION
    assert ours["generator"].dtype == np.uint8
    np.testing.assert_array_equal(ours["lookahead"]["still"], lookahead["still"])


def test_reader_views_shared_storage_and_dtypes(tmp_path):
    """Offsets, strides and storages shared between tensors (torch.save keeps views as views), the dtypes a
    tensor may have (bfloat16 comes back widened to float32), parameters, and plain data."""
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    data = {"base": base, "t": base.t(), "slice": base[1:, 2::3], "row": base[3], "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 3), "f64": torch.randn(3, dtype=torch.float64), "f16": torch.randn(4).half(),
            "bf16": torch.randn(4).bfloat16(), "i32": torch.arange(3, dtype=torch.int32),
            "i8": torch.tensor([-3, 4], dtype=torch.int8), "u8": torch.tensor([250, 1], dtype=torch.uint8),
            "b": torch.tensor([True, False]), "i16": torch.tensor([-7], dtype=torch.int16),
            "c64": torch.tensor([1 + 2j], dtype=torch.complex64), "od": OrderedDict(a=1, b=[None, True, 2.0]),
            "tup": (1, "two", b"three"), "set": {1, 2}, "big": 2**70, "neg": -5,
            "param": torch.nn.Parameter(torch.randn(2, 3)),  # _rebuild_parameter
            "u16": torch.tensor([1, 60000], dtype=torch.uint16)}  # _rebuild_tensor_v3 on an UntypedStorage
    path = tmp_path / "views.pt"
    torch.save(data, path)
    _assert_same(read_checkpoint(path), torch.load(path, map_location="cpu", weights_only=True))


def test_reader_legacy_archive_prefix(tmp_path):
    """Older torch named the archive's top folder after the file: the prefix is found, not assumed."""
    src = zipfile.ZipFile(SHIPPED)
    path = tmp_path / "renamed.pt"
    with zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename.replace("archive/", "renamed/", 1), src.read(info))
    _assert_same(read_checkpoint(path), torch.load(SHIPPED, map_location="cpu", weights_only=True))


def test_reader_missing_truncated_and_non_zip_files(tmp_path):
    with pytest.raises(BgsubError, match="no such checkpoint file") as exc:
        read_checkpoint(tmp_path / "absent.pt")
    assert str(tmp_path / "absent.pt") in str(exc.value)
    raw = SHIPPED.read_bytes()
    for name, content in [("truncated.pt", raw[: len(raw) // 2]), ("short.pt", raw[:100]),
                          ("text.pt", b"not a checkpoint\n"), ("empty.pt", b"")]:
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(BgsubError) as exc:
            read_checkpoint(p)
        msg = str(exc.value)
        assert msg.startswith(f"{p}: not a readable bgsub checkpoint ("), msg
        assert "\n" not in msg
    # a storage entry missing from an otherwise valid archive
    p = tmp_path / "nodata.pt"
    with zipfile.ZipFile(SHIPPED) as src, zipfile.ZipFile(p, "w") as out:
        for info in src.infolist():
            if info.filename != "archive/data/0":
                out.writestr(info.filename, src.read(info))
    with pytest.raises(BgsubError, match="not a readable bgsub checkpoint"):
        read_checkpoint(p)


class _Evil:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("payload", ["system", "getattr", "rebuild-on-evil"])
def test_reader_refuses_disallowed_globals_without_running_them(tmp_path, payload):
    marker = tmp_path / "ran"
    if payload == "system":
        obj = {"model": _Evil(os.system, f"touch {marker}")}
    elif payload == "getattr":
        obj = {"x": _Evil(getattr, "text", "upper")}
    else:  # an allowed rebuild function fed an object made by a disallowed one
        obj = [_Evil(torch._utils._rebuild_tensor_v2, _Evil(os.system, f"touch {marker}"), 0, (1,), (1,), False,
                     OrderedDict())]
    path = tmp_path / "evil.pt"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        z.writestr("archive/byteorder", "little")
    path.write_bytes(buf.getvalue())
    with pytest.raises(BgsubError) as exc:
        read_checkpoint(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: not a readable bgsub checkpoint (") and "refused, not executed" in msg, msg
    assert not marker.exists()
    with pytest.raises(Exception):  # torch refuses it too
        torch.load(path, map_location="cpu", weights_only=True)


# ---- the network ------------------------------------------------------------------------------------------------


SPECS = {
    "shipped": {},
    "add": {"skip": "add"},
    "k3": {"up_kernel": 3},
    "k4": {"up_kernel": 4},
    "bias": {"conv_bias": True},
    "convs2": {"convs": 2, "conv_bias": True},
    "depth0": {"depth": 0},
    "depth1": {"depth": 1, "unary_k": 0.0},
    "depth4": {"depth": 4, "base_channels": 4},
    "grey": {"in_channels": 1, "unary_k": 0.0},
    "grey-unary": {"in_channels": 1},
    "paper-like": {"in_channels": 1, "out_channels": 1, "base_channels": 4, "depth": 2, "convs": 2,
                   "up_kernel": 3, "conv_bias": True, "unary_k": 0.0},
    "multi-out": {"out_channels": 3, "unary_k": 0.0, "skip": "add", "up_kernel": 4},
}


def _random_model(spec: dict, seed: int = 0) -> UNet:
    """UNet(spec) in eval mode with random weights and random batch-norm statistics and affine parameters."""
    torch.manual_seed(seed)
    model = UNet(UNetSpec(**spec))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.3 * torch.randn(n, generator=g))
                m.running_var.copy_(0.3 + 2 * torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
        model.head.bias.normal_(0, 0.5, generator=g)
    return model.eval()


def _params(model: UNet) -> dict:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _input(shape, seed=0) -> np.ndarray:
    """A realistic network input: log(1 + z), z >= 0 residuals in noise levels, some pixels far above k."""
    rng = np.random.default_rng(seed)
    z = rng.exponential(2.0, size=shape)
    z[..., : shape[-2] // 3, : shape[-1] // 4] *= 10  # a "foreground" patch
    return np.log1p(z).astype(np.float32)


def _torch(model: UNet, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", list(SPECS))
def test_dnn_matches_torch(name):
    spec = {**BASE, **SPECS[name]}
    assert supported(spec) is None
    model = _random_model(spec)
    net = DnnUNet(spec, _params(model))
    for shape in [(2, spec["in_channels"], 37, 53), (2, spec["in_channels"], 120, 160)]:
        x = _input(shape)
        ref = _torch(model, x)
        got = net(x)
        assert got.shape == ref.shape == (shape[0], spec["out_channels"], shape[2], shape[3])
        assert got.dtype == np.float32
        assert np.abs(got - ref).max() < _tol(ref), (name, shape, np.abs(got - ref).max(), np.abs(ref).max())


@pytest.mark.parametrize("name", ["shipped", "k3", "k4", "add", "convs2", "depth0", "multi-out"])
def test_numpy_reference_matches_torch(name):
    """The self-check's reference is right (checked against torch, not against the DNN)."""
    spec = {**BASE, **SPECS[name]}
    model = _random_model(spec, seed=5)
    x = _input((1, spec["in_channels"], 13, 19), seed=2)
    ref = _torch(model, x)
    got = numpy_forward(spec, _params(model), x)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() < _tol(ref)


def test_unary_head_matches_torch():
    x = _input((2, 3, 9, 11))
    x[0, :, 0, 0] = 0.0  # z = 0: the floor exp(-4)
    for k, cap in [(6.0, 16.0), (3.0, 4.0)]:
        ref = unary_logits(torch.from_numpy(x), k, cap).numpy()
        got = unary_logits_np(x, k, cap)
        assert got.dtype == np.float32 and got.shape == (2, 1, 9, 11)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["shipped", "add", "k3", "k4", "convs2", "depth0", "multi-out"])
def test_onnx_model_is_valid_onnx_and_computes_the_network(name):
    onnx = pytest.importorskip("onnx")
    spec = {**BASE, **SPECS[name]}
    model = _random_model(spec, seed=3)
    params = _params(model)
    m = 2 ** spec["depth"]
    for input_shape in [None, (2, 2 * m, 3 * m)]:
        proto = onnx.load_from_string(onnx_model(spec, params, input_shape=input_shape))
        onnx.checker.check_model(proto, full_check=True)
        assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["s"]
        assert {n.op_type for n in proto.graph.node} <= {"Conv", "Relu", "MaxPool", "ConvTranspose", "Concat",
                                                         "Add"}
        assert proto.opset_import[0].version == dnn.OPSET
    # what the graph computes, by onnx's own reference evaluator: the network without padding and unary head
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return
    x = _input((1, spec["in_channels"], 2 * m, 3 * m), seed=4)
    (got,) = ReferenceEvaluator(onnx.load_from_string(onnx_model(spec, params))).run(None, {"x": x})
    with torch.no_grad():
        ref = model._forward(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() < _tol(ref)


def test_varint_encoding():
    assert onnx_writer._varint(0) == b"\x00" and onnx_writer._varint(1) == b"\x01" and onnx_writer._varint(127) == b"\x7f"
    assert onnx_writer._varint(300) == b"\xac\x02"
    assert onnx_writer._varint(2**35) == b"\x80\x80\x80\x80\x80\x01"
    assert onnx_writer._varint(-1) == b"\xff" * 9 + b"\x01"  # int64 -1: ten bytes


def test_shipped_network_through_dnn_matches_torch_checkpoint():
    from bgsub.training import load_checkpoint

    model, _, _ = load_checkpoint(SHIPPED)
    ckpt = read_checkpoint(SHIPPED)
    assert supported(ckpt["spec"]) is None
    net = DnnUNet(ckpt["spec"], ckpt["model"])
    assert net.check()
    for shape in [(8, 3, 120, 160), (3, 3, 45, 61)]:
        x = _input(shape, seed=7)
        ref = _torch(model, x)
        got = net(x)
        assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()  # the shipped outputs reach ~10: REL * 10
        assert ((got > 0) == (ref > 0)).mean() > 0.999


def test_unsupported_specs_and_bad_weights():
    assert supported(BASE) is None
    for change, word in [({"up": "nearest"}, "up"), ({"up": "bilinear"}, "up"), ({"stem": "csf"}, "stem"),
                         ({"up_kernel": 5}, "up_kernel"), ({"depth": -1}, "depth"), ({"convs": 0}, "convs")]:
        reason = supported({**BASE, **change})
        assert reason and word in reason
        with pytest.raises(ValueError):
            DnnUNet({**BASE, **change}, {})
    params = _params(_random_model(BASE))
    with pytest.raises(ValueError, match="lack"):
        DnnUNet(BASE, {k: v for k, v in params.items() if k != "ups.1.bias"})
    with pytest.raises(ValueError, match="shape"):
        DnnUNet({**BASE, "base_channels": 4}, params)
    net = DnnUNet(BASE, params)
    with pytest.raises(ValueError):
        net(np.zeros((1, 1, 16, 16), np.float32))  # wrong channel count


def test_self_check_passes_and_detects_a_wrong_net(monkeypatch):
    import cv2

    params = _params(_random_model(BASE))
    assert DnnUNet(BASE, params).check()
    bad = DnnUNet(BASE, params)
    real = DnnUNet.forward_padded
    monkeypatch.setattr(bad, "forward_padded", lambda x: real(bad, x) + np.float32(0.05))
    assert not bad.check()  # a small but real error in the network's output

    def broken(model):
        raise cv2.error("no DNN here")

    monkeypatch.setattr(dnn, "_read_net", broken)
    assert not DnnUNet(BASE, params).check()  # OpenCV failing outright: fall back, do not raise


def test_fixed_shape_mode_gives_the_same_outputs():
    """The path for OpenCVs that cannot import the symbolic graph: one net per input shape, a few kept."""
    spec = {**BASE, **SPECS["add"]}
    params = _params(_random_model(spec))
    dyn, fixed = DnnUNet(spec, params), DnnUNet(spec, params)
    fixed.fixed_shapes = True
    for i, shape in enumerate([(2, 3, 37, 53), (1, 3, 16, 24), (2, 3, 37, 53), (3, 3, 8, 8), (1, 3, 9, 9),
                               (2, 3, 30, 30)]):
        x = _input(shape, seed=i)
        np.testing.assert_allclose(fixed(x), dyn(x), rtol=0, atol=1e-5)
    assert len(fixed._local.nets) == DnnUNet._CACHE
    assert dyn.fixed_shapes is False  # this OpenCV imports the symbolic graph


def test_threads_share_one_instance():
    ckpt = read_checkpoint(SHIPPED)
    net = DnnUNet(ckpt["spec"], ckpt["model"])
    xs = [_input((2, 3, 40 + 8 * (i % 3), 56), seed=i) for i in range(8)]
    serial = [net(x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(2):
            for a, b in zip(pool.map(net, xs), serial):
                np.testing.assert_array_equal(a, b)


_TORCH_FREE = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None  # any import of torch now fails
    import numpy as np
    from bgsub.weights.reader import read_checkpoint
    from bgsub.models.dnn import DnnUNet, supported
    from bgsub.weights import shipped
    ckpt = read_checkpoint(shipped())
    assert supported(ckpt["spec"]) is None
    net = DnnUNet(ckpt["spec"], ckpt["model"])
    assert net.check()
    x = np.log1p(np.random.default_rng(0).exponential(3.0, size=(2, 3, 37, 53))).astype(np.float32)
    s = net(x)
    assert s.shape == (2, 1, 37, 53) and s.dtype == np.float32 and np.isfinite(s).all()
    assert sys.modules["torch"] is None and not any(m.startswith("torch.") for m in sys.modules)
    print("ok")
""")


def test_reader_and_dnn_run_without_torch():
    """The zero-shot path's pieces, imported the ordinary way (bgsub/models/__init__.py included) with torch
    unimportable: they work and print nothing (no OpenCV warnings either)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _TORCH_FREE], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert proc.stderr == ""
