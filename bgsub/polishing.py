"""Polishing (Eq. 7): the proximal refinement of a trained paper network (``model.reference`` false), used by
``bgsub polish`` (:func:`bgsub.pipelines.unet.polish`).

Training (Eq. 6), checkpoints and the fitted threshold are in :mod:`bgsub.training`; the loss and its
proximal-gradient backward in :func:`bgsub.losses.polish_loss`.
"""

from __future__ import annotations

import time

import torch

from bgsub.config import Config
from bgsub.devices import resolve_device
from bgsub.errors import BgsubError
from bgsub.losses import lam_1_for, polish_loss
from bgsub.models.unet import UNet
from bgsub.netinput import memory_format
from bgsub.progress import track

__all__ = ["polish_model"]


def polish_model(
    model: UNet, D: torch.Tensor, cfg: Config, *, progress: bool = True
) -> list[dict[str, float]]:
    """Repeat ``cfg.polish.steps`` times: copy L <- D - S_theta(D), S <- S_theta(D); one optimiser step
    (``polish.optimizer``: Adam, or plain gradient steps as the paper writes; lr ``cfg.polish.lr``) on Eq. 7 with the proximal-gradient backward (:func:`bgsub.losses.polish_loss`).

    D: (N, C, H, W) frames. Runs in float32 (the steps are tiny; bf16 rounding would swamp them). Batch norm uses
    batch statistics as in training. Returns the history (true weighted norms of Eq. 7 at each step).
    """
    pc, tc = cfg.polish, cfg.train
    device = resolve_device(tc.device)
    fmt = memory_format(tc.channels_last)
    was_training = model.training
    model.to(device=device, memory_format=fmt).train()
    D = D.to(device).contiguous(memory_format=fmt)
    m, n = D[0].numel(), D.shape[0]
    lam_1 = lam_1_for(cfg, m, n)
    if cfg.model.reference:
        raise BgsubError("polish refines the paper's network (model.reference false); this model was trained on "
                         "the background reference and has nothing to polish")
    if pc.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=pc.lr)
    elif pc.optimizer == "sgd":  # plain steps theta <- theta - lr * grad, as the paper writes Eq. 7
        opt = torch.optim.SGD(model.parameters(), lr=pc.lr)
    else:
        raise BgsubError(f"polish.optimizer must be adam or sgd, got {pc.optimizer!r}")
    history: list[dict[str, float]] = []
    try:
        for step in track(range(1, pc.steps + 1), desc="polish", unit="step", disable=not progress,
                          dynamic_ncols=True):
            t0 = time.perf_counter()
            S_theta = model(D).float()
            L = (D - S_theta).detach()
            S = S_theta.detach()
            loss, terms = polish_loss(D, S_theta, L, S, alpha=pc.alpha, lam_star=tc.lam_star, lam_1=lam_1,
                                      tau_star=pc.tau_star, tau_1=pc.tau_1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append({"epoch": step, **terms, "envelope": loss.item(), "seconds": time.perf_counter() - t0})
    finally:
        model.train(was_training)
    return history
