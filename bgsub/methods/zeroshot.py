"""The reference network without torch (``segment.engine``): the shipped weights (or a network from ``bgsub train``
on the sample model, :func:`opencv_trained`) read as NumPy arrays (:mod:`bgsub.weights.reader`), the network run
by OpenCV's DNN module (:mod:`bgsub.models.dnn`), frames, network inputs and masks as NumPy arrays from the reader
to the PNG writer (:mod:`bgsub.arrays`).

A process that only segments with the shipped network then never imports torch: about a second of start-up on this
class of machine, more than the whole job of a plain OpenCV MOG2 script on a 90-frame clip (README: the whole-job
target of issue 19). The masks are those of the torch engine up to float rounding (the networks' logits differ by
about 1e-5; torch's bf16 autocast, where the CPU has it, differs more).

``auto`` (the default) takes OpenCV where the network runs on the CPU (``segment.device`` cpu, or auto on a machine
with no GPU driver or a CPU build of torch: :func:`bgsub.devices.cuda_possible`), OpenCV's DNN module can run this
architecture, and its output on a small case matches a literal NumPy forward pass of the same weights (checked as
they load, about 15 ms); otherwise torch, as before.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from bgsub.arrays import concat, float32_of, like
from bgsub.errors import BgsubError
from bgsub.methods.base import Decomposition, LazyDecomposition, Pieces, Prepared
from bgsub.netinput import upsample

log = logging.getLogger("bgsub")

ENGINES = ("auto", "opencv", "torch")
NET_BATCH = 1  # frames per OpenCV forward pass: one frame's activations stay nearest the CPU's caches (shipped
#                network, 160 x 120, one thread: 3.00-3.05 ms a frame one at a time, 3.23-3.24 four, 3.43-3.48 eight)


def _on_cpu(device: Optional[str]) -> bool:
    """Whether ``segment.device`` means the CPU for certain (without importing torch)."""
    from bgsub.devices import cuda_possible

    if device == "cpu":
        return True
    return device in (None, "auto") and not cuda_possible()


def _engine(cfg) -> bool:
    """Whether ``segment.engine`` and ``segment.device`` let OpenCV run the network (``opencv`` where the device
    may be a GPU: a one-line error)."""
    engine = cfg.segment.engine
    if engine not in ENGINES:
        raise BgsubError(f"segment.engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "torch":
        return False
    if not _on_cpu(cfg.segment.device):
        if engine == "opencv":
            raise BgsubError(f"segment.engine=opencv runs on the CPU, and segment.device={cfg.segment.device} may be a "
                             "GPU: set segment.device=cpu, or segment.engine=torch")
        return False
    return True


def _refuse(path, engine: str, reason: str) -> None:
    """``auto``: None (torch runs the network), said at debug level; ``opencv``: a one-line error."""
    if engine == "opencv":
        raise BgsubError(f"{path}: segment.engine=opencv cannot run this network ({reason}): use segment.engine=torch")
    log.debug("%s: the network runs through torch (%s)", path, reason)
    return None


def _torch_only(run) -> Optional[str]:
    """Why the config ``run`` needs torch whatever the engine (None: it does not): the paper's network, or the
    static reference (it computes with torch)."""
    if not run.model.reference:
        return "the paper's network (model.reference=false) computes with torch"
    if run.background.model != "samples":
        return f"the static reference (background.model={run.background.model}) computes with torch"
    if run.segment.reuse_background:
        return "the static reference saved with the model (segment.reuse_background) computes with torch"
    return None


def _opencv(data: dict, path, run):
    """The checkpoint's network run by OpenCV for the config ``run`` (its engine and device allowed it already), or
    None (torch runs it; ``opencv``: a one-line error)."""
    why = _torch_only(run)
    if why is not None:
        return _refuse(path, run.segment.engine, why)
    return _dnn(data, path, run.segment.engine)


def _dnn(data: dict, path, engine: str):
    """The checkpoint's network run by OpenCV (checked against a literal NumPy forward pass), or None."""
    from bgsub.models.dnn import DnnUNet, supported

    spec = data.get("spec")
    why = supported(spec) if isinstance(spec, dict) else "no architecture description"
    if why is not None:
        return _refuse(path, engine, why)
    try:
        net = DnnUNet(spec, data["model"])
        ok = net.check()
    except Exception as exc:  # OpenCV's DNN module refused the graph, or its weights do not fit
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else repr(exc)
        return _refuse(path, engine, f"OpenCV's DNN module: {first}")
    if not ok:
        return _refuse(path, engine, "OpenCV's DNN module gave other values than a literal forward pass on a test case")
    return net


def _read(path) -> tuple[dict, object]:
    """A checkpoint read without torch, checked, and its saved config."""
    from bgsub.config import config_from_dict
    from bgsub.trainstate import checked
    from bgsub.weights.reader import read_checkpoint

    data = checked(read_checkpoint(path), path)
    return data, config_from_dict(data.get("config") or {})


def opencv_network(cfg):
    """The shipped network (``model.weights``: another file) for ``segment.engine`` = ``cfg.segment.engine``:
    ``(net, saved config, TrainState, path)`` with the network run by OpenCV, or None when torch is to run it
    (``torch``; ``auto`` where OpenCV cannot: a GPU may be there, an architecture it does not run, a failed check,
    the static reference as ``cfg``'s background model). ``opencv`` where it cannot: a one-line error saying why."""
    import dataclasses

    from bgsub.config import explicit_over
    from bgsub.trainstate import TrainState
    from bgsub.weights import require_reference, weights_path

    if not _engine(cfg):
        return None
    path = weights_path(cfg.model.weights)
    data, saved = _read(path)
    require_reference(saved, path)
    run = dataclasses.replace(cfg, model=saved.model, background=explicit_over(saved.background, cfg.background))
    net = _opencv(data, path, run)  # (the background model as unet-pretrained runs it)
    if net is None:
        return None
    return net, saved, TrainState(epoch=int(data.get("epoch") or 0)), path


def opencv_trained(path, run_of):
    """A network from ``bgsub train`` (the checkpoint ``path``) for segmenting with OpenCV running it: ``(net, saved
    config, TrainState)``, or None when torch is to run it. ``run_of(saved config) -> the config to run with``
    (:func:`bgsub.pipelines.segment.run_config`). OpenCV runs the reference network on the sample
    model as ``segment.engine`` allows; not the static reference (``background.model=reference`` and
    ``segment.reuse_background``: it computes with torch) nor the paper's network (its threshold is on |S|)."""
    from bgsub.trainstate import TrainState

    data, saved = _read(path)
    run = run_of(saved)
    if not _engine(run):
        return None
    net = _opencv(data, path, run)
    if net is None:
        return None
    found = data.get("lookahead")  # what its training pass found (NumPy arrays already: segment.lookahead)
    state = TrainState(epoch=int(data.get("epoch") or 0), lookahead=found if isinstance(found, dict) else None)
    return net, saved, state


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.exp(-np.abs(x))  # stable on both sides: e^-|x| never overflows
    return np.where(x >= 0, 1.0 / (1.0 + out), out / (1.0 + out)).astype(np.float32)


def decompose_arrays(method, clip) -> Decomposition:
    """:meth:`bgsub.methods.unet.UNetMethod.decompose` of the reference network with its network run by OpenCV
    (``method.net``): the same steps on NumPy arrays (the network's logits :data:`NET_BATCH` frames at a time, then
    :func:`finish`). ``clip``: a :class:`~bgsub.methods.base.Prepared` window or frames (T, C, H, W); NumPy frames
    give NumPy outputs, a tensor tensors."""
    inputs = snap = None
    if isinstance(clip, Prepared):
        clip, inputs, snap = clip.clip, clip.inputs, clip.background
    if inputs is None:
        inputs = method.network_inputs(float32_of(clip))
        snap = method._background().snapshot()  # the state was stepped over this window just now, in this thread
    inputs = float32_of(inputs)
    if len(inputs):
        logits = np.concatenate([method.net(inputs[i : i + NET_BATCH]) for i in range(0, len(inputs), NET_BATCH)])
    else:
        logits = np.zeros((0, 1, *clip.shape[-2:]), np.float32)
    return finish(method, clip, logits, snap)


def finish(method, clip, logits: np.ndarray, snap) -> Decomposition:
    """The reference network's decomposition of the window ``clip`` (T, C, H, W) from its logits (T, 1, h, w) at
    its working size, whichever engine computed them: bilinear back to the frame size (smooth boundaries), masks =
    logits > 0, the mask's edge at the frame's resolution (:mod:`bgsub.background.boundary`; frames on the CPU),
    and L and S when asked for. ``snap``: the background state's snapshot taken when the window was stepped. NumPy
    frames give NumPy outputs, a tensor tensors."""
    if isinstance(snap, Pieces):  # the model moved with the view within the window: each piece on its own grid
        return _pieces(method, clip, logits, snap)
    sc = method.cfg.segment
    bg = method._background()
    x = float32_of(clip)
    work = logits.shape[-2:]
    logits = upsample(logits, tuple(x.shape[-2:]))
    masks = logits > 0
    on_cpu = isinstance(clip, np.ndarray) or clip.device.type == "cpu"
    if sc.boundary and len(x) and on_cpu:
        from bgsub.background.boundary import refine

        up, off = bg.background_parts(clip, snap)  # (the frames as given: the static reference takes tensors)
        f = x.shape[-2] * x.shape[-1] / float(work[0] * work[1])
        masks = refine(masks[:, 0], x, up, bg.frame_noise(snap), f, offsets=off)[:, None]

    def parts():
        back = float32_of(bg.background_image(clip, snap))
        S = _sigmoid(logits) * (x - back)
        return like(x - S, clip), like(S, clip)

    return LazyDecomposition(like(np.ascontiguousarray(masks), clip), parts)


def _pieces(method, clip, logits: np.ndarray, snaps: Pieces) -> Decomposition:
    """:func:`finish` for each piece of a window the model moved within (:class:`~bgsub.methods.base.Pieces`), the
    pieces' masks and parts put back together in order."""
    ends = [first for first, _ in snaps[1:]] + [len(logits)]
    parts = [finish(method, clip[a:b], logits[a:b], snap) for (a, snap), b in zip(snaps, ends)]
    masks = concat([p.masks for p in parts])

    def both():
        return concat([p.background for p in parts]), concat([p.foreground for p in parts])

    return LazyDecomposition(masks, both)
