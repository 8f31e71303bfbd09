"""Pretraining the reference U-Net once, without labels, over many videos: the network shipped in the package.

The network's job is the same on every video: it corrects the background model's per-pixel decision (z > k)
where the support energy's TV prior says so (specks, holes, boundaries). Its input is log(1 + z), the residual in
noise levels of each video's own background model (:mod:`bgsub.background.state`), so it can be learned once from
many videos and used on any other: ``unet-pretrained`` (zero-shot), ``bgsub segment VIDEO`` without a model,
``bgsub train --init pretrained`` (a per-video start).

    pools = [video_inputs(v, cfg, frames=120, seed=0) for v in videos]   # no labels: the videos' own inputs
    model, history = pretrain(pools, cfg, steps=1500, seed=0)

Every step draws one video (seeded), ``train.frames`` of its frames and one crop of ``train.crop`` pixels, as
per-video training does (:func:`bgsub.training.train_model`), and minimises the same support energy.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Optional

import torch

from bgsub.config import Config
from bgsub.devices import resolve_device
from bgsub.errors import BgsubError
from bgsub.losses import support_energy
from bgsub.models.unet import UNet
from bgsub.netinput import autocast, memory_format
from bgsub.progress import progress as _progress
from bgsub.training import _draw, _lr_at, batch_norms, build_model


def video_inputs(source: str | Path, cfg: Config, *, frames: int, seed: int = 0) -> torch.Tensor:
    """(P, C, h, w) the network inputs log(1 + z) of a video: its background model started on the
    initialisation window and stepped over every frame up to the last kept one; kept: the window and
    ``frames`` frames drawn (seeded) from the rest (:meth:`bgsub.methods.unet.UNetMethod.fit_numbers`). Read once,
    unless ``segment`` would read it twice (``segment.prescan=auto``: a window that did not show the scene, a
    video longer than it): then, as there, a first pass of the model over the whole video, and the inputs from a
    model that takes its findings (the network learns on what it will be given)."""
    from bgsub.io.frames import iter_chunks, list_frames
    from bgsub.methods.unet import UNetMethod

    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, pool=frames, epochs=0))
    m = UNetMethod(cfg)
    ic = m.cfg.input
    numbers = list_frames(source, start=ic.start, end=ic.end, stride=ic.stride)
    if not numbers:
        raise BgsubError(f"{source}: no frames selected")
    keep = set(m.fit_numbers(numbers, seed=seed))

    def chunks():
        return iter_chunks(source, chunk=64, start=ic.start, end=ic.end, stride=ic.stride, grayscale=ic.grayscale,
                           scale=ic.scale)

    kept = m.collect_inputs(chunks(), keep)
    if len(numbers) > m.begin_frames() and m.prescan_due():  # (the window's share, whatever was stepped since)
        m.forget_lookahead()  # the first pass segment.prescan=auto makes: the model over every frame
        m.collect_inputs(chunks(), set())
        m.keep_lookahead()
        kept = m.collect_inputs(chunks(), keep, adopt=True)
    return torch.stack([kept[n] for n in sorted(kept)])


def pretrain(pools: list[torch.Tensor], cfg: Config, *, steps: int, seed: int = 0, progress: bool = True,
             model: Optional[UNet] = None, norm_batches: int = 0) -> tuple[UNet, list[dict]]:
    """Train the reference U-Net (``cfg.model``; a fresh one from ``seed`` unless ``model`` is given) on the
    support energy over ``pools``, one (P_i, C, h_i, w_i) tensor of network inputs per video. Adam with
    ``train.lr`` and ``train.schedule`` (cosine: decay to 0) over ``steps``. ``norm_batches`` > 0: batch norm's
    statistics then estimated again over that many batches drawn as the training draws them
    (:func:`precise_norm`). Returns the network (eval mode, on the CPU) and the history."""
    if not pools:
        raise BgsubError("pretrain: no videos")
    tc = cfg.train
    schedule = dataclasses.replace(cfg, train=dataclasses.replace(tc, epochs=steps))  # train.schedule over steps
    device = resolve_device(tc.device)
    fmt = memory_format(tc.channels_last)
    model = model if model is not None else build_model(cfg, seed=seed)
    model.to(device=device, memory_format=fmt).train()
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    gen = torch.Generator().manual_seed(seed)
    weights = torch.tensor([math.sqrt(p.shape[0]) for p in pools])  # longer videos a little more often
    history: list[dict] = []
    bar = _progress(total=steps, desc="pretrain", unit="step", disable=not progress)
    try:
        for step in range(steps):
            t0 = time.perf_counter()
            v = int(torch.multinomial(weights, 1, generator=gen))
            D = _draw(pools[v], min(tc.frames, pools[v].shape[0]), tc.crop, gen)
            D = D.to(device).contiguous(memory_format=fmt)
            lr = _lr_at(schedule, step)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device, tc.bf16):
                logits = model(D)
            loss, parts = support_energy(logits.float(), torch.expm1(D), k=cfg.background.k, tv=tc.tv, cap=tc.cap)
            if not torch.isfinite(loss.detach()):
                raise BgsubError(f"pretraining diverged at step {step + 1}; lower train.lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"epoch": step + 1, "loss": loss.item(), "data": parts["data"].item(),
                            "tv": parts["tv"].item(), "lr": lr, "video": v, "seconds": time.perf_counter() - t0})
            bar.update(1)
    finally:
        bar.close()
    if norm_batches > 0:
        precise_norm(model, pools, weights, cfg, batches=norm_batches, seed=seed, device=device, fmt=fmt)
    model.eval().to("cpu", memory_format=torch.contiguous_format)
    return model, history


def precise_norm(model: UNet, pools: list[torch.Tensor], weights: torch.Tensor, cfg: Config, *, batches: int,
                 seed: int, device, fmt) -> None:
    """Batch norm's running statistics estimated again, in place, as the plain average over ``batches`` batches
    drawn as the training draws them (a video with probability ``weights``, ``train.frames`` of its frames, one
    crop; a generator of its own, seeded), the weights fixed (no gradient). During training they are an
    exponential average (momentum 0.1) over the last few steps, so over the last dozen or so videos drawn, a
    draw of its own; the network is then used on every video with them (zero-shot, and kept by per-video training,
    ``train.norm``). PreciseBN (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021); torch's ``update_bn``
    for SWA does the same average. Each batch is normalised by its own statistics as in training; what is
    averaged is each layer's batch mean and batch variance."""
    tc = cfg.train
    norms = batch_norms(model)
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    gen = torch.Generator().manual_seed(seed + 7919)  # not the training's draws
    model.train()
    try:
        with torch.no_grad():
            for _ in range(batches):
                v = int(torch.multinomial(weights, 1, generator=gen))
                D = _draw(pools[v], min(tc.frames, pools[v].shape[0]), tc.crop, gen)
                with autocast(device, tc.bf16):
                    model(D.to(device).contiguous(memory_format=fmt))
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
