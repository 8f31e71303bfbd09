"""The U-Net's forward pass (:class:`bgsub.models.unet.UNet`, eval mode) through OpenCV's DNN module, without torch.

The zero-shot path runs the shipped network on a few frames; importing torch costs about a second of such a job.
Here the network's convolutional part becomes an ONNX graph (:mod:`bgsub.models.onnx`: batch norm folded into the
convolutions in NumPy, written by a small protobuf encoder, no ``onnx`` package), run by ``cv2.dnn``; the
replicate padding, the crop and the unary head are done in NumPy::

    from bgsub.weights.reader import read_checkpoint
    ckpt = read_checkpoint(path)
    if supported(ckpt["spec"]) is None:
        net = DnnUNet(ckpt["spec"], ckpt["model"])
        if net.check():                       # this OpenCV's DNN agrees with a NumPy forward
            s = net(x)                        # x (B, C, h, w) float32 -> (B, out_channels, h, w) float32

:func:`numpy_forward` is a plain NumPy reference of the same network (slow; the self-check runs it on one tiny
input). This module imports neither torch nor anything that does.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from typing import Mapping, Optional

import numpy as np

from bgsub.models.onnx import BN_EPS, OPSET, _check_params, _spec, onnx_model, supported  # noqa: F401 (re-exported)

__all__ = ["supported", "onnx_model", "numpy_forward", "unary_logits_np", "DnnUNet", "BN_EPS", "OPSET"]


# ---- the NumPy reference ----------------------------------------------------------------------------------------


def _conv_np(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """Convolution with zero padding k // 2 (stride 1) by explicit loops over the taps, float64."""
    k = w.shape[-1]
    r = k // 2
    h, wd = x.shape[-2:]
    xp = np.pad(x, ((0, 0), (0, 0), (r, r), (r, r)))
    y = np.zeros((x.shape[0], w.shape[0], h, wd))
    for dy in range(k):
        for dx in range(k):
            y += np.einsum("oc,bchw->bohw", w[:, :, dy, dx], xp[:, :, dy:dy + h, dx:dx + wd])
    return y if b is None else y + b[None, :, None, None]


def _conv_transpose_np(x: np.ndarray, w: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """nn.ConvTranspose2d(k, stride=2, padding=(k-1)//2, output_padding=k%2): (B, Ci, H, W) -> (B, Co, 2H, 2W).
    Input pixel (i, j) and tap (ty, tx) land on output (2i + ty - p, 2j + tx - p)."""
    p = (k - 1) // 2
    bsz, _, h, wd = x.shape
    full = np.zeros((bsz, w.shape[1], 2 * h + k + p, 2 * wd + k + p))
    for ty in range(k):
        for tx in range(k):
            full[:, :, ty:ty + 2 * h:2, tx:tx + 2 * wd:2] += np.einsum("co,bchw->bohw", w[:, :, ty, tx], x)
    return full[:, :, p:p + 2 * h, p:p + 2 * wd] + b[None, :, None, None]


def unary_logits_np(x: np.ndarray, k: float, cap: float) -> np.ndarray:
    """:func:`bgsub.models.unet.unary_logits` in NumPy: (B, C, H, W) -> (B, 1, H, W) float32."""
    # the channels' maximum first: expm1 is monotonic, so max(expm1(x)) is expm1(max(x)) exactly (a third of the
    # work); then in place, each step the same float32 operation as the torch version's
    z = np.expm1(np.max(np.asarray(x, dtype=np.float32), axis=1, keepdims=True))
    np.divide(z, np.float32(k), out=z)
    np.square(z, out=z)
    np.clip(z, np.float32(math.exp(-4.0)), np.float32(cap), out=z)
    return np.log(z, out=z)


def numpy_forward(spec, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The UNet's eval-mode forward in plain NumPy (float64 inside, float32 out), unfused batch norm, replicate
    padding and crop, and the unary head: the reference :class:`DnnUNet` is checked against. Slow; tiny inputs."""
    s = _spec(spec)
    reason = supported(s)
    if reason is not None:
        raise ValueError(f"U-Net spec not supported: {reason}")
    _check_params(s, params)
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x0 = np.asarray(x, dtype=np.float32)
    h, w = x0.shape[-2:]
    m = 2 ** s["depth"]
    t = np.pad(x0, ((0, 0), (0, 0), (0, (-h) % m), (0, (-w) % m)), mode="edge").astype(np.float64)

    def block(t, prefix):
        for j in range(s["convs"]):
            c = f"{prefix}.{3 * j}"
            bn = f"{prefix}.{3 * j + 1}"
            t = _conv_np(t, P[f"{c}.weight"], P.get(f"{c}.bias") if s["conv_bias"] else None)
            t = (t - P[f"{bn}.running_mean"][None, :, None, None]) / np.sqrt(P[f"{bn}.running_var"] + BN_EPS)[
                None, :, None, None]
            t = t * P[f"{bn}.weight"][None, :, None, None] + P[f"{bn}.bias"][None, :, None, None]
            t = np.maximum(t, 0.0)
        return t

    skips = []
    for i in range(s["depth"] + 1):
        if i > 0:
            bb, cc, hh, ww = t.shape
            t = t.reshape(bb, cc, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
        t = block(t, f"down.{i}")
        skips.append(t)
    skips.pop()
    for i in range(s["depth"]):
        u = _conv_transpose_np(t, P[f"ups.{i}.weight"], P[f"ups.{i}.bias"], s["up_kernel"])
        sk = skips.pop()
        t = block(u + sk if s["skip"] == "add" else np.concatenate([u, sk], axis=1), f"dec.{i}")
    out = _conv_np(t, P["head.weight"], P["head.bias"])[..., :h, :w].astype(np.float32)
    if s["unary_k"] > 0:
        out = out + unary_logits_np(x0, s["unary_k"], s["unary_cap"])
    return out


# ---- running it through cv2.dnn -----------------------------------------------------------------------------------


class _QuietCv:
    """OpenCV's own logging silenced for a block (the importer logs an ERROR line before raising; a failure here
    is handled, not news). The level is process-wide: restored on exit."""

    def __enter__(self):
        import cv2

        log = getattr(getattr(cv2, "utils", None), "logging", None)
        if log is not None and hasattr(log, "getLogLevel"):  # OpenCV 5 (and 4.x builds that have cv2.utils.logging)
            self._get, self._set, silent = log.getLogLevel, log.setLogLevel, getattr(log, "LOG_LEVEL_SILENT", 0)
        elif hasattr(cv2, "getLogLevel"):  # OpenCV 4.x
            self._get, self._set, silent = cv2.getLogLevel, cv2.setLogLevel, 0
        else:
            self._get = None
            return self
        self._old = self._get()
        self._set(silent)
        return self

    def __exit__(self, *exc):
        if self._get is not None:
            self._set(self._old)
        return False


def _read_net(model: bytes):
    """A cv2.dnn.Net from ONNX bytes: from the buffer, or through a temporary file where this OpenCV's buffer
    form fails; backend OpenCV, target the CPU (the default). cv2.error when OpenCV cannot import the graph."""
    import cv2

    try:
        net = cv2.dnn.readNetFromONNX(np.frombuffer(model, dtype=np.uint8))
    except (cv2.error, TypeError):
        fd, tmp = tempfile.mkstemp(suffix=".onnx", prefix="bgsub-unet-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(model)
            net = cv2.dnn.readNetFromONNX(tmp)
        finally:
            os.unlink(tmp)
    if net.empty():
        raise cv2.error("cv2.dnn could not read the U-Net's ONNX graph")
    # Backend OpenCV (not OpenVINO where a build has it). The target is left at its default, the CPU: OpenCV 5's
    # graph engine warns on stderr when it is set ("Targets are not supported by the new graph engine").
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    return net


class DnnUNet:
    """A UNet (eval mode) run by OpenCV's DNN: ``DnnUNet(spec, params)(x)`` equals ``UNet(spec).eval()(x)`` up to
    float rounding, for x (B, in_channels, h, w) float32 of any h, w. ``params``: the state dict as NumPy arrays
    (:func:`bgsub.weights.reader.read_checkpoint`'s ``["model"]``). ValueError for a spec :func:`supported`
    refuses or weights that do not fit it. Several threads may call one instance at once: each thread gets its
    own ``cv2.dnn.Net``, built on its first call from the same ONNX bytes.

    Input shapes: the graph's N, H, W are symbolic and one net serves every shape (OpenCV 5). Where this OpenCV
    cannot import the symbolic graph (OpenCV 4.8 fails on the "add" skip's Add: its importer infers the shapes
    with placeholder sizes), each thread builds one net per input shape (N, H, W) with those dimensions fixed
    (the last four kept). :meth:`check` tells whether this OpenCV computes the network right; call it once and
    fall back to torch when it says False (``__call__`` itself raises cv2.error where OpenCV fails outright)."""

    _CACHE = 4  # fixed-shape nets kept per thread

    def __init__(self, spec, params: Mapping[str, np.ndarray]):
        self.spec = _spec(spec)
        reason = supported(self.spec)
        if reason is not None:
            raise ValueError(f"U-Net spec not supported by the OpenCV DNN path: {reason}")
        self.params = {k: np.asarray(v) for k, v in params.items()}
        self.model = onnx_model(self.spec, self.params)  # symbolic N, H, W
        self.multiple = 2 ** self.spec["depth"]
        self.fixed_shapes: Optional[bool] = None  # None until the first net is built; True: one net per shape
        self._local = threading.local()

    def _net(self, shape: tuple):
        """This thread's net for input ``shape`` (B, C, H, W)."""
        import cv2

        local = self._local
        if not self.fixed_shapes:
            net = getattr(local, "net", None)
            if net is not None:
                return net
            try:
                with _QuietCv():
                    net = _read_net(self.model)
            except cv2.error:
                if self.fixed_shapes is False:  # it worked in another thread: not a shape problem
                    raise
                self.fixed_shapes = True
            else:
                self.fixed_shapes = False
                local.net = net
                return net
        nets = local.__dict__.setdefault("nets", {})
        key = (int(shape[0]), int(shape[2]), int(shape[3]))
        net = nets.pop(key, None)
        if net is None:
            net = _read_net(onnx_model(self.spec, self.params, input_shape=key))
            while len(nets) >= self._CACHE:
                nets.pop(next(iter(nets)))
        nets[key] = net  # most recently used last
        return net

    def forward_padded(self, x: np.ndarray) -> np.ndarray:
        """The network's convolutional part on x (B, C, H, W) float32, H and W multiples of 2**depth (no
        padding, no unary head): (B, out_channels, H, W) float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        net = self._net(x.shape)
        net.setInput(x, "x")
        return np.asarray(net.forward("s"), dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != self.spec["in_channels"]:
            raise ValueError(f"expected (B, {self.spec['in_channels']}, h, w), got {x.shape}")
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        xp = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else x
        s = self.forward_padded(xp)
        if ph or pw:
            s = s[..., :h, :w]
        if self.spec["unary_k"] > 0:
            s = s + unary_logits_np(x, self.spec["unary_k"], self.spec["unary_cap"])
        return np.ascontiguousarray(s, dtype=np.float32)

    def check(self, tol: float = 1e-3, seed: int = 0) -> bool:
        """True when this OpenCV's DNN agrees with :func:`numpy_forward` (largest difference at most ``tol``,
        relative to the output's scale where that exceeds 1) on one small random input; False on any
        disagreement or error, so the caller can fall back to torch."""
        rng = np.random.default_rng(seed)
        m = self.multiple
        shape = (1, self.spec["in_channels"], m + 3 if m > 1 else 5, 2 * m + 1 if m > 1 else 7)
        x = np.log1p(rng.exponential(3.0, size=shape)).astype(np.float32)  # realistic: log(1 + z), z >= 0
        try:
            got = self(x)
            ref = numpy_forward(self.spec, self.params, x)
        except Exception:  # noqa: BLE001 - any failure of the DNN path means "use torch"
            return False
        if got.shape != ref.shape or not np.all(np.isfinite(got)):
            return False
        return bool(np.max(np.abs(got - ref)) <= tol * max(1.0, float(np.max(np.abs(ref)))))
