"""Training the U-Net (Eq. 6): the model built from the config, the training loop, its checkpoints and resume,
the loss history, and the threshold fitted after training; the one place used by ``bgsub train``, ``bgsub polish``
(which loads and saves the same checkpoints) and :meth:`bgsub.methods.unet.UNetMethod.fit`.

Polishing (Eq. 7) is in :mod:`bgsub.polishing`; how frames enter the network (channels, the reference network's
size and input, precision and memory layout) in :mod:`bgsub.netinput`. Their names are re-exported here.

Training (Eq. 6): full batch (one step = one "epoch" over the N-frame stack), Adam. At every step an N-frame stack
is drawn from a *pool* of frames (pool = N: the paper's single fixed stack) and, with ``train.crop = c``, one
random c x c window at the same position in all N frames (the low-rank structure over time is kept; each step
costs less). All random draws come from one seeded ``torch.Generator`` whose state is checkpointed, so an
interrupted run resumed from its checkpoint ends with the same weights as an uninterrupted one.

Checkpoint (a ``torch.save`` dict, written atomically, loadable with ``weights_only=True``)::

    format: "bgsub-unet", version: 1, spec: UNetSpec dict, model: state_dict, config: Config.to_dict(),
    epoch: completed steps, optimizer: Adam state, generator: RNG state, history: [{epoch, loss, nuclear, l1,
    lr, seconds}], frames: frame numbers of the pool (or None), polish: {steps, history} after polishing,
    threshold: one Otsu threshold of |S| over the training frames (used by segment.threshold = "fit").
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from bgsub.config import Config, config_from_dict
from bgsub.devices import resolve_device
from bgsub.errors import BgsubError
from bgsub.io.atomic import atomic_write_bytes
from bgsub.io.masks import write_png
from bgsub.losses import (lam_1_for, lowrank_sparse_loss, masked_bce, mu_schedule, semi_supervised_loss,
                          sparse_layer_loss, support_energy)
from bgsub.models.unet import UNet, UNetSpec, stem_layer
from bgsub.netinput import autocast, cpu_has_bf16, input_channels, memory_format, network_input, network_size
from bgsub.polishing import polish_model
from bgsub.progress import progress as _progress
from bgsub.trainstate import FORMAT, VERSION, TrainState, checked  # (their home needs no torch; re-exported)

__all__ = [
    "FORMAT", "VERSION", "spec_from_config", "build_model", "TrainState", "save_checkpoint", "load_checkpoint",
    "write_history", "train_model", "fit_threshold", "config_of",
    # re-exported from their new homes, so that ``from bgsub.training import ...`` keeps working
    "cpu_has_bf16", "autocast", "memory_format", "input_channels", "network_size", "network_input",  # netinput
    "lam_1_for",  # losses
    "polish_model",  # polishing
]

log = logging.getLogger("bgsub")


# ---- the model -----------------------------------------------------------------------------------------------


def spec_from_config(cfg: Config, channels: int = 1) -> UNetSpec:
    """The network for ``cfg.model`` on ``channels``-channel frames: with ``model.reference`` one output channel
    (foreground logits), else as many as the input (the signed S of the paper). ``model.unary`` (the reference
    network only: the paper's has no energy) takes k and the cap of the energy from ``background.k`` and
    ``train.cap``."""
    mc = cfg.model
    unary = mc.reference and mc.unary
    return UNetSpec(in_channels=channels, out_channels=1 if mc.reference else channels,
                    base_channels=mc.base_channels, depth=mc.depth, convs=mc.convs, up=mc.up,
                    up_kernel=mc.up_kernel, conv_bias=mc.conv_bias, stem=mc.stem, skip=mc.skip,
                    unary_k=cfg.background.k if unary else 0.0, unary_cap=cfg.train.cap)


def build_model(cfg: Config, *, seed: Optional[int] = None) -> UNet:
    """A fresh U-Net for ``cfg.model`` (weights from ``seed``, default ``cfg.train.seed``)."""
    channels = input_channels(cfg)
    try:
        spec = spec_from_config(cfg, channels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.train.seed if seed is None else seed)
            model = UNet(spec)
            if cfg.model.reference:  # start from the energy's own per-pixel decision (unary), else from "mostly
                with torch.no_grad():  # background": sigmoid(-2) = 0.12
                    model.head.bias.fill_(0.0 if spec.unary_k else -2.0)
            return model
    except ValueError as exc:
        raise BgsubError(f"model config: {exc}") from None


# ---- training state and checkpoints --------------------------------------------------------------------------




def save_checkpoint(path: str | os.PathLike, model: UNet, cfg: Config, state: TrainState) -> Path:
    """Write the checkpoint atomically (a crash leaves the previous file intact)."""
    data = {
        "format": FORMAT,
        "version": VERSION,
        "spec": model.spec.to_dict(),
        "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "config": cfg.to_dict(),
        "epoch": state.epoch,
        "optimizer": state.optimizer,
        "generator": state.generator,
        "history": state.history,
        "frames": state.frames,
        "polish": state.polish,
        "threshold": state.threshold,
        "reference": state.reference,
        "lookahead": _tensors(state.lookahead),
    }
    import io

    buf = io.BytesIO()  # serialised in memory, so a full disk is an OSError of the write, not torch's error
    torch.save(data, buf)
    return atomic_write_bytes(path, buf.getvalue())


def _tensors(d: Optional[dict]) -> Optional[dict]:
    """A dict's NumPy arrays as tensors (what ``weights_only`` loading accepts); other values as they are."""
    if not d:
        return None
    import numpy as np

    return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in d.items()}


def _arrays(d) -> Optional[dict]:
    """The inverse of :func:`_tensors` (None for anything that is not a dict)."""
    if not isinstance(d, dict):
        return None
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in d.items()}


def load_checkpoint(path: str | os.PathLike) -> tuple[UNet, Config, TrainState]:
    """Load a checkpoint safely (``weights_only=True``: no code runs). Any problem -> one-line BgsubError."""
    p = Path(path)
    if not p.is_file():
        raise BgsubError(f"{p}: no such checkpoint file")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, disallowed pickle globals ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "contains objects other than tensors and plain data (refused, not executed)"
        raise BgsubError(f"{p}: not a readable bgsub checkpoint ({reason[:160]})") from None
    data = checked(data, p)
    try:
        spec = UNetSpec(**data["spec"])
        model = UNet(spec)
    except (TypeError, ValueError, KeyError) as exc:
        raise BgsubError(f"{p}: checkpoint has an invalid architecture description ({exc})") from None
    try:
        model.load_state_dict(data["model"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else "")
        raise BgsubError(f"{p}: weights do not fit the architecture {spec} ({detail[:160]})") from None
    cfg = config_from_dict(data.get("config") or {})
    state = TrainState(
        epoch=int(data.get("epoch") or 0),
        optimizer=data.get("optimizer"),
        generator=data.get("generator"),
        history=list(data.get("history") or []),
        frames=data.get("frames"),
        polish=data.get("polish"),
        threshold=data.get("threshold"),
        reference=data.get("reference"),
        lookahead=_arrays(data.get("lookahead")),
    )
    model.eval()
    return model, cfg, state


def write_history(path_stem: str | os.PathLike, history: list[dict[str, float]], *, title: str = "") -> list[Path]:
    """Write ``STEM.history.csv`` and a plot ``STEM.history.png`` (loss terms against epochs, log scale)."""
    if not history:
        return []
    stem = Path(path_stem)
    keys = list(history[0].keys())
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    csv_path = atomic_write_bytes(stem.with_name(stem.name + ".history.csv"), buf.getvalue().encode())
    png_path = stem.with_name(stem.name + ".history.png")
    _plot(png_path, history, title=title)
    return [csv_path, png_path]


def _plot(path: Path, history: list[dict[str, float]], *, title: str) -> None:
    """A small line plot with OpenCV (no plotting library needed): log10 of each loss term against epoch."""
    import cv2
    import numpy as np

    W, H, m = 640, 400, 50
    img = np.full((H, W, 3), 255, np.uint8)
    series = {k: np.array([h[k] for h in history], dtype=np.float64) for k in ("loss", "nuclear", "l1", "data", "tv")
              if k in history[0]}
    x = np.array([h.get("epoch", i + 1) for i, h in enumerate(history)], dtype=np.float64)
    vals = np.concatenate([np.log10(np.maximum(v, 1e-12)) for v in series.values()])
    lo, hi = float(vals.min()), float(vals.max())
    if hi <= lo:
        hi = lo + 1.0
    x0, x1 = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1
    cv2.rectangle(img, (m, m // 2), (W - m // 2, H - m), (0, 0, 0), 1)
    colors = {"loss": (0, 0, 0), "nuclear": (200, 80, 0), "l1": (0, 0, 200), "data": (200, 80, 0), "tv": (0, 0, 200)}
    for j, (k, v) in enumerate(series.items()):
        px = m + (x - x0) / (x1 - x0) * (W - 1.5 * m)
        py = (H - m) - (np.log10(np.maximum(v, 1e-12)) - lo) / (hi - lo) * (H - 1.5 * m)
        pts = np.stack([px, py], 1).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, colors[k], 1, cv2.LINE_AA)
        cv2.putText(img, k, (W - 140, 40 + 18 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colors[k], 1, cv2.LINE_AA)
    cv2.putText(img, f"log10 loss: {lo:.2f} .. {hi:.2f}; epochs {int(x0)}..{int(x1)}", (m, H - 15),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(img, title[:70], (m, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    write_png(path, img)


# ---- the training loop ---------------------------------------------------------------------------------------


def _lr_at(cfg: Config, epoch: int) -> float:
    tc = cfg.train
    if tc.schedule == "constant":
        return tc.lr
    if tc.schedule == "cosine":
        return tc.lr * 0.5 * (1 + math.cos(math.pi * epoch / max(1, tc.epochs)))
    raise BgsubError(f"train.schedule must be constant or cosine, got {tc.schedule!r}")


def _draw(pool: torch.Tensor, n: int, crop: int, gen: torch.Generator) -> torch.Tensor:
    """N frames of the pool (all of them, in order, when the pool holds exactly N) and an optional crop at one
    random position shared by all frames. pool: (P, C, H, W) -> (N, C, h, w)."""
    P, _, H, W = pool.shape
    if P > n:
        idx = torch.randperm(P, generator=gen)[:n].sort().values
        batch = pool[idx]
    else:
        batch = pool
    if crop and (crop < H or crop < W):
        ch, cw = min(crop, H), min(crop, W)
        y = int(torch.randint(0, H - ch + 1, (1,), generator=gen))
        x = int(torch.randint(0, W - cw + 1, (1,), generator=gen))
        batch = batch[:, :, y : y + ch, x : x + cw]
    return batch


NORMS = ("auto", "kept", "video")  # train.norm
SCHEDULES = ("constant", "cosine")  # train.schedule


def check_train_config(tc) -> None:
    """One-line errors for the training settings that only the training loop would otherwise meet (checked before
    anything is read or written)."""
    if tc.frames < 1 or tc.epochs < 0 or tc.crop < 0:
        raise BgsubError("train.frames must be >= 1, train.epochs >= 0 and train.crop >= 0")
    if tc.schedule not in SCHEDULES:
        raise BgsubError(f"train.schedule must be constant or cosine, got {tc.schedule!r}")
    if tc.norm not in NORMS:
        raise BgsubError(f"train.norm must be one of {', '.join(NORMS)}, got {tc.norm!r}")


def norm_kept(cfg, frames: int) -> bool:
    """Whether a training that starts from the shipped network (``train.init`` pretrained) keeps its batch norm
    statistics (``train.norm``), for a video whose training pool holds ``frames`` frames. ``auto``: kept, except for
    a clip shorter than twice ``background.samples`` frames (its whole length is the initialisation window, in the
    background model's short-clip regime: each pixel's stillest half as samples, bgsub.background.samples), whose
    network inputs are not the distribution the shipped statistics were estimated on; there the statistics are
    the clip's own, adapted with the weights (twenty-sixth session: the UCSD clips cut to 14 and 20 frames 0.408
    kept, 0.426 the clip's own, over three training seeds; ucsd-boats' 31 frames and peds' 25 +0.006 and +0.004;
    birds' 71 frames lose up to 0.036 with their own)."""
    tc = cfg.train
    if tc.norm == "auto":
        return frames >= 2 * cfg.background.samples
    return tc.norm == "kept"


def batch_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The model's batch norm layers, in module order."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def keep_norm_statistics(model: torch.nn.Module) -> None:
    """Batch norm layers to eval mode inside a model in train mode: they normalise with their running statistics
    and do not update them (their scale and shift still learn). For a training that adapts the shipped network
    to one video: its statistics were estimated over many videos, a few steps of small single-video batches
    would replace them (momentum 0.1: after 50 steps 99.5% of them is the video's batches)."""
    for m in batch_norms(model):
        m.eval()


def train_model(
    model: UNet,
    pool: torch.Tensor,
    cfg: Config,
    *,
    state: Optional[TrainState] = None,
    checkpoint: Optional[str | os.PathLike] = None,
    progress: bool = True,
    on_step: Optional[Callable[[int, dict], None]] = None,
    labels: Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None,
    inputs: bool = False,
) -> TrainState:
    """Minimise the training loss over ``cfg.train.epochs`` steps (continuing from ``state.epoch``): with
    ``model.reference`` the support energy (:func:`bgsub.losses.support_energy`) on the residuals to
    ``state.reference`` (which must be set), else Eq. 6 on full-batch stacks.

    pool: (P, C, H, W) float32 frames in [0, 1], P >= 1; each step uses min(P, N) of them (see the module
    docstring). ``labels`` (model.reference only): (frames (K, C, H, W), target, valid (K, 1, h, w) at the
    network's size) for the supervised term of ``train.label_frames``, combined with the energy as Eq. 14 of
    Koch & Corso (:func:`bgsub.losses.semi_supervised_loss`, mu stepping down 0.8, 0.5, 0.3, 0).
    ``inputs=True`` (model.reference): ``pool`` and the labelled frames are already the network's inputs,
    log(1 + z) at the network's size (from the video's background model, :mod:`bgsub.background.state`). Writes
    ``checkpoint`` every ``save_every`` epochs, whenever ``save_seconds`` have passed since the
    last write, and at the end, when given. The model is left in
    the mode it was in. Returns the updated state (history appended).
    """
    tc = cfg.train
    if pool.ndim != 4 or pool.shape[0] < 1:
        raise BgsubError(f"training frames must be (P, C, H, W) with P >= 1, got {tuple(pool.shape)}")
    if pool.shape[1] != model.spec.in_channels:
        raise BgsubError(f"the model takes {model.spec.in_channels} channel(s) but the frames have {pool.shape[1]} "
                         f"(input.grayscale and model.in_channels disagree)")
    check_train_config(tc)
    device = resolve_device(tc.device)
    fmt = memory_format(tc.channels_last)
    state = state if state is not None else TrainState()
    was_training = model.training
    model.to(device=device, memory_format=fmt).train()
    if tc.init == "pretrained" and norm_kept(cfg, pool.shape[0]):
        keep_norm_statistics(model)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    if state.optimizer is not None:
        opt.load_state_dict(state.optimizer)
    gen = torch.Generator().manual_seed(tc.seed)
    if state.generator is not None:
        gen.set_state(state.generator)
    n = min(tc.frames, pool.shape[0])
    reference = cfg.model.reference
    if reference and inputs:
        if labels is not None:
            lab_x = labels[0].to(device).contiguous(memory_format=fmt)
            lab_t, lab_v = labels[1].to(device), labels[2].to(device)
    elif reference:
        from bgsub.background import Reference, residual

        if state.reference is None:
            raise BgsubError("model.reference is set but no background reference was estimated")
        ref = Reference.from_dict(state.reference)
        # the network's input (log(1 + z) at the pixel budget), once for the whole pool, in chunks
        pool = torch.cat([network_input(residual(ref, pool[i : i + 32]), cfg.model.pixels)
                          for i in range(0, pool.shape[0], 32)])
        if labels is not None:
            lab_x = network_input(residual(ref, labels[0]), cfg.model.pixels).to(device).contiguous(memory_format=fmt)
            lab_t, lab_v = labels[1].to(device), labels[2].to(device)
    elif labels is not None:
        raise BgsubError("train.label_frames needs model.reference (the mask head)")
    remaining = max(0, tc.epochs - state.epoch)
    bar = _progress(total=tc.epochs, initial=state.epoch, desc="train", unit="epoch", disable=not progress,
                    dynamic_ncols=True)
    t_run = t_saved = time.perf_counter()
    try:
        for _ in range(remaining):
            t0 = time.perf_counter()
            D = _draw(pool, n, tc.crop, gen).to(device=device).contiguous(memory_format=fmt)
            lr = _lr_at(cfg, state.epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            if reference:  # D holds log(1 + z)
                with autocast(device, tc.bf16):
                    logits = model(D)
                loss, parts = support_energy(logits.float(), torch.expm1(D), k=cfg.background.k, tv=tc.tv,
                                             cap=tc.cap)
                nuc, l1 = parts["data"], parts["tv"]
                stem = stem_layer(model)
                if stem is not None and stem.last is not None:  # the csf stem's own Eq. 12 loss
                    loss = loss + sparse_layer_loss(stem.csf, *stem.last)
                    stem.last = None  # no graph kept on the module (it would block copies and memory)
                if labels is not None:  # few labelled frames: Eq. 14 of Koch & Corso
                    with autocast(device, tc.bf16):
                        lab_logits = model(lab_x)
                    sup = masked_bce(lab_logits.float(), lab_t, lab_v)
                    loss = semi_supervised_loss(sup, loss, mu_schedule(state.epoch, max(1, tc.epochs)))
                    if stem is not None:  # the labelled frames' forward left its graph on the stem too
                        stem.last = None
            else:
                with autocast(device, tc.bf16):
                    S = model(D)
                m = D[0].numel()
                loss, nuc, l1 = lowrank_sparse_loss(D, S.float(), lam_star=tc.lam_star,
                                                    lam_1=lam_1_for(cfg, m, n))
            if not torch.isfinite(loss.detach()):
                raise BgsubError(f"training diverged at epoch {state.epoch + 1} (loss is {loss.item()}); "
                                 f"lower train.lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            state.epoch += 1
            if reference:  # data term and mask TV of the support energy
                row = {"epoch": state.epoch, "loss": loss.item(), "data": nuc.item(), "tv": l1.item(), "lr": lr,
                       "seconds": time.perf_counter() - t0}
            else:
                row = {"epoch": state.epoch, "loss": loss.item(), "nuclear": nuc.item(), "l1": l1.item(), "lr": lr,
                       "seconds": time.perf_counter() - t0}
            state.history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4g}", refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(state.epoch, row)
            last = state.epoch == tc.epochs
            due = (tc.save_every > 0 and state.epoch % tc.save_every == 0) or (
                tc.save_seconds > 0 and time.perf_counter() - t_saved >= tc.save_seconds)
            if checkpoint is not None and (last or due):
                state.optimizer = opt.state_dict()
                state.generator = gen.get_state()
                save_checkpoint(checkpoint, model, cfg, state)
                t_saved = time.perf_counter()
    finally:
        bar.close()
        model.train(was_training)
    state.optimizer = opt.state_dict()
    state.generator = gen.get_state()
    log.debug("trained %d epochs in %.1f s", remaining, time.perf_counter() - t_run)
    return state


@torch.inference_mode()
def fit_threshold(model: UNet, frames: torch.Tensor, cfg: Config) -> float:
    """One Otsu threshold on |S| over ``frames`` (N, C, H, W) (the training pool), with the model in eval mode as
    segment runs it: a stand-in for a whole-video threshold that needs no second pass over the video."""
    from bgsub.threshold import magnitude, otsu_threshold

    sc = cfg.segment
    device = resolve_device(sc.device)
    fmt = memory_format(sc.channels_last)
    was_training = model.training
    model.to(device=device, memory_format=fmt).eval()
    try:
        mags = []
        for i in range(0, frames.shape[0], max(1, sc.batch)):
            with autocast(device, sc.bf16):
                S = model(frames[i : i + sc.batch].to(device).contiguous(memory_format=fmt))
            mags.append(magnitude(S.float()))
    finally:
        model.train(was_training)
    return otsu_threshold(torch.cat(mags))


def config_of(data: dict[str, Any]) -> Config:
    return config_from_dict(data)
