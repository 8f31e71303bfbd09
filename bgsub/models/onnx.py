"""The U-Net's convolutional part as an ONNX graph, without torch and without the ``onnx`` package: which
architectures can be written (:func:`supported`), batch norm folded into the convolutions in NumPy (as
:func:`torch.nn.utils.fusion.fuse_conv_bn_eval` does), and a small protobuf encoder for the ModelProto
(:func:`onnx_model`). :mod:`bgsub.models.dnn` runs the graph through OpenCV's DNN module."""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

__all__ = ["supported", "onnx_model", "BN_EPS", "OPSET"]

BN_EPS = 1e-5  # nn.BatchNorm2d's default (UNet never changes it)
OPSET = 13
IR_VERSION = 7  # the IR version of opset 13


# ---- the spec ---------------------------------------------------------------------------------------------------


_DEFAULTS = {"in_channels": 1, "out_channels": 1, "base_channels": 16, "depth": 4, "convs": 2, "up": "transpose",
             "up_kernel": 2, "conv_bias": False, "stem": "conv", "skip": "cat", "unary_k": 0.0, "unary_cap": 16.0}


def _spec(spec) -> dict:
    """The spec as a dict with UNetSpec's defaults filled in (a UNetSpec or anything with ``to_dict`` is accepted)."""
    d = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
    return {**_DEFAULTS, **d}


def supported(spec) -> Optional[str]:
    """None when :class:`DnnUNet` can run a UNet of this spec (a dict as checkpoints store it), else a short
    reason. Supported: stem "conv"; up "transpose" with up_kernel 2, 3 or 4; skip "cat" or "add"; with or without
    conv bias; any depth, convs, base, input and output channels; the unary head on or off."""
    try:
        s = _spec(spec)
    except (TypeError, ValueError) as exc:
        return f"not a U-Net spec ({exc})"
    if s["stem"] != "conv":
        return f"stem {s['stem']!r} (only 'conv')"
    if s["up"] != "transpose":
        return f"up {s['up']!r} (only 'transpose')"
    if s["up_kernel"] not in (2, 3, 4):
        return f"up_kernel {s['up_kernel']!r} (2, 3 or 4)"
    if s["skip"] not in ("cat", "add"):
        return f"skip {s['skip']!r} ('cat' or 'add')"
    for key in ("in_channels", "out_channels", "base_channels", "convs"):
        if not isinstance(s[key], int) or s[key] < 1:
            return f"{key} {s[key]!r}"
    if not isinstance(s["depth"], int) or s["depth"] < 0:
        return f"depth {s['depth']!r}"
    return None


def _channels(s: dict) -> list[int]:
    return [s["base_channels"] * 2**i for i in range(s["depth"] + 1)]


def _param_shapes(s: dict) -> dict[str, tuple]:
    """The state dict's float tensors UNet(spec) has (num_batches_tracked aside), name -> shape."""
    ch = _channels(s)
    shapes: dict[str, tuple] = {}

    def block(prefix: str, cin: int, cout: int) -> None:
        for j in range(s["convs"]):
            shapes[f"{prefix}.{3 * j}.weight"] = (cout, cin if j == 0 else cout, 3, 3)
            if s["conv_bias"]:
                shapes[f"{prefix}.{3 * j}.bias"] = (cout,)
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{prefix}.{3 * j + 1}.{name}"] = (cout,)

    block("down.0", s["in_channels"], ch[0])
    for i in range(1, s["depth"] + 1):
        block(f"down.{i}", ch[i - 1], ch[i])
    k = s["up_kernel"]
    for n, i in enumerate(range(s["depth"], 0, -1)):
        shapes[f"ups.{n}.weight"] = (ch[i], ch[i - 1], k, k)
        shapes[f"ups.{n}.bias"] = (ch[i - 1],)
        block(f"dec.{n}", ch[i - 1] if s["skip"] == "add" else 2 * ch[i - 1], ch[i - 1])
    shapes["head.weight"] = (s["out_channels"], ch[0], 1, 1)
    shapes["head.bias"] = (s["out_channels"],)
    return shapes


def _check_params(s: dict, params: Mapping[str, np.ndarray]) -> None:
    for name, shape in _param_shapes(s).items():
        if name not in params:
            raise ValueError(f"the weights lack {name} (spec {s})")
        if tuple(np.shape(params[name])) != shape:
            raise ValueError(f"{name} has shape {tuple(np.shape(params[name]))}, the spec needs {shape}")


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def _fold(params: Mapping[str, np.ndarray], prefix: str, j: int, bias: bool) -> tuple[np.ndarray, np.ndarray]:
    """The j-th conv + BN of the block ``prefix`` ("down.0") folded into one convolution (weight, bias), in
    float64 then rounded to float32 (fuse_conv_bn_eval's formula)."""
    w = np.asarray(params[f"{prefix}.{3 * j}.weight"], dtype=np.float64)
    b = np.asarray(params[f"{prefix}.{3 * j}.bias"], dtype=np.float64) if bias else np.zeros(w.shape[0])
    bn = f"{prefix}.{3 * j + 1}"
    g = np.asarray(params[f"{bn}.weight"], dtype=np.float64)
    beta = np.asarray(params[f"{bn}.bias"], dtype=np.float64)
    mean = np.asarray(params[f"{bn}.running_mean"], dtype=np.float64)
    var = np.asarray(params[f"{bn}.running_var"], dtype=np.float64)
    scale = g / np.sqrt(var + BN_EPS)
    return _f32(w * scale[:, None, None, None]), _f32((b - mean) * scale + beta)


# ---- a minimal protobuf writer for ONNX ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(int(n))


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _str(field: int, s: str) -> bytes:
    return _bytes(field, s.encode("utf-8"))


# AttributeProto.AttributeType, TensorProto.DataType
_ATTR_INT, _ATTR_INTS = 2, 7
_FLOAT = 1


def _attr(name: str, value) -> bytes:
    """AttributeProto: name (1), i (3) / ints (8, unpacked), type (20)."""
    if isinstance(value, (list, tuple)):
        body = _str(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    else:
        body = _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    return body


def _node(op: str, inputs: list[str], outputs: list[str], name: str, **attrs) -> bytes:
    """NodeProto: input (1), output (2), name (3), op_type (4), attribute (5)."""
    body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    body += _str(3, name) + _str(4, op)
    body += b"".join(_bytes(5, _attr(k, v)) for k, v in attrs.items())
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian float32)."""
    a = np.ascontiguousarray(array, dtype="<f4")
    return b"".join(_int(1, d) for d in a.shape) + _int(2, _FLOAT) + _str(8, name) + _bytes(9, a.tobytes())


def _value_info(name: str, dims: list) -> bytes:
    """ValueInfoProto: name (1), type (2) = TypeProto{tensor_type (1) = {elem_type (1), shape (2)}}; a dim is
    TensorShapeProto.Dimension{dim_value (1) | dim_param (2)}."""
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    tensor_type = _int(1, _FLOAT) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def onnx_model(spec, params: Mapping[str, np.ndarray], *, input_shape: Optional[tuple] = None) -> bytes:
    """The serialised ONNX ModelProto (opset 13) of the UNet's convolutional part: input "x" (N, C, H, W) with H
    and W multiples of 2**depth (replicate padding, crop and the unary head are the caller's), output "s"
    (N, out_channels, H, W). Batch norm is folded into the convolution before it. ``input_shape`` (N, H, W) fixes
    those dimensions; None leaves them symbolic ("N", "H", "W"). ``params``: the state dict as NumPy arrays."""
    s = _spec(spec)
    reason = supported(s)
    if reason is not None:
        raise ValueError(f"U-Net spec not supported by the OpenCV DNN path: {reason}")
    _check_params(s, params)
    nodes: list[bytes] = []
    inits: list[bytes] = []

    def conv(x: str, name: str, w: np.ndarray, b: np.ndarray, relu: bool, out: str = "") -> str:
        inits.extend([_tensor(f"{name}.w", w), _tensor(f"{name}.b", b)])
        k = int(w.shape[-1])
        nodes.append(_node("Conv", [x, f"{name}.w", f"{name}.b"], [out or f"{name}.y"], name, kernel_shape=[k, k],
                           pads=[k // 2] * 4, strides=[1, 1]))
        if not relu:
            return out or f"{name}.y"
        nodes.append(_node("Relu", [f"{name}.y"], [f"{name}.r"], f"{name}.relu"))
        return f"{name}.r"

    def block(x: str, prefix: str) -> str:
        for j in range(s["convs"]):
            w, b = _fold(params, prefix, j, s["conv_bias"])
            x = conv(x, f"{prefix}.{3 * j}", w, b, relu=True)
        return x

    x = "x"
    skips = []
    for i in range(s["depth"] + 1):
        if i > 0:
            nodes.append(_node("MaxPool", [x], [f"pool{i}"], f"pool{i}", kernel_shape=[2, 2], strides=[2, 2]))
            x = f"pool{i}"
        x = block(x, f"down.{i}")
        skips.append(x)
    skips.pop()
    k = s["up_kernel"]
    p = (k - 1) // 2
    for i in range(s["depth"]):
        name = f"ups.{i}"
        inits.extend([_tensor(f"{name}.w", params[f"{name}.weight"]), _tensor(f"{name}.b", params[f"{name}.bias"])])
        nodes.append(_node("ConvTranspose", [x, f"{name}.w", f"{name}.b"], [f"{name}.y"], name, kernel_shape=[k, k],
                           strides=[2, 2], pads=[p] * 4, output_padding=[k % 2] * 2))
        skip = skips.pop()
        if s["skip"] == "add":
            nodes.append(_node("Add", [f"{name}.y", skip], [f"join{i}"], f"join{i}"))
        else:
            nodes.append(_node("Concat", [f"{name}.y", skip], [f"join{i}"], f"join{i}", axis=1))
        x = block(f"join{i}", f"dec.{i}")
    conv(x, "head", _f32(params["head.weight"]), _f32(params["head.bias"]), relu=False, out="s")

    n, h, w = input_shape if input_shape is not None else ("N", "H", "W")
    graph = b"".join(_bytes(1, nd) for nd in nodes) + _str(2, "bgsub_unet")
    graph += b"".join(_bytes(5, t) for t in inits)
    graph += _bytes(11, _value_info("x", [n, s["in_channels"], h, w]))
    graph += _bytes(12, _value_info("s", [n, s["out_channels"], h, w]))
    opset = _str(1, "") + _int(2, OPSET)
    return _int(1, IR_VERSION) + _str(2, "bgsub") + _bytes(8, opset) + _bytes(7, graph)
