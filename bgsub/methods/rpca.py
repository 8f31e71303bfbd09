"""Robust PCA behind the method interface: ``rpca-ialm``, ``rpca-apg``, ``rpca-pfb``.

Each window (T, C, H, W) becomes the matrix D = pixels x frames (C*H*W, T): a colour clip has its channels
stacked as rows, so one low-rank model covers all channels. The solver (:mod:`bgsub.solvers`) runs on
``cfg.rpca.device`` in ``cfg.rpca.dtype`` with the options of ``cfg.rpca``; results come back to the CPU as
float32.

Outputs: ``background`` = L; ``foreground`` = clip - L, so that L + S = clip holds exactly. For ``rpca-ialm``
this is the solver's S up to the final residual (``||D - L - S|| <= tol ||D||``); for ``rpca-apg`` and
``rpca-pfb`` (Eq. 1, a Frobenius data term) it is the solver's S plus the data residual, whose entries are at
most lambda_1 in magnitude at the optimum. Masks are then Otsu on |S| (the pipeline's thresholding).

Each :meth:`decompose` call appends the solver's :class:`~bgsub.solvers.common.SolverInfo` (without the traces)
to ``infos``; :meth:`reset` clears it. The methods are deterministic (no random state).

Example::

    m = create("rpca-ialm", cfg)
    dec = m.decompose(clip)          # clip: (T, C, H, W) float32 in [0, 1]
    m.infos[-1]["iterations"]
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bgsub.errors import BgsubError
from bgsub.methods.base import Decomposition, Method, register
from bgsub.prox import SVD_METHODS
from bgsub.solvers import SOLVERS
from bgsub.devices import resolve_device
from bgsub.solvers.common import resolve_dtype


def clip_to_matrix(clip: torch.Tensor) -> torch.Tensor:
    """(T, C, H, W) -> (C*H*W, T): one column per frame, channels stacked as rows."""
    if clip.ndim != 4:
        raise BgsubError(f"expected a clip (T, C, H, W), got shape {tuple(clip.shape)}")
    T = clip.shape[0]
    return clip.reshape(T, -1).mT


def matrix_to_clip(X: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(C*H*W, T) -> (T, C, H, W) float32 on the CPU (the inverse of :func:`clip_to_matrix`)."""
    return X.mT.reshape(shape).to("cpu", torch.float32).contiguous()


class RPCAMethod(Method):
    """Base of the RPCA methods; subclasses set ``solver``."""

    solver: ClassVar[str] = ""
    grayscale: ClassVar[bool] = True  # the paper's preprocessing (one grey channel)

    def __init__(self, cfg=None):
        super().__init__(cfg)
        rc = self.cfg.rpca
        if rc.svd not in SVD_METHODS:
            raise BgsubError(f"rpca.svd must be one of {', '.join(SVD_METHODS)}, got {rc.svd!r}")
        self.device = resolve_device(rc.device)
        self.dtype = resolve_dtype(rc.dtype, torch.empty(0))
        self.infos: list[dict[str, Any]] = []

    def options(self) -> dict[str, Any]:
        """Keyword options of the solver, from ``cfg.rpca``."""
        rc = self.cfg.rpca
        opts: dict[str, Any] = dict(lam=rc.lam, tol=rc.tol, max_iter=rc.max_iter, svd=rc.svd, trace=False)
        if self.solver == "ialm":
            opts["rho"] = rc.rho
        else:
            opts.update(lam_star=rc.lam_star, alpha=rc.alpha)
            if self.solver == "apg":
                opts["restart"] = rc.restart
        return opts

    def decompose(self, clip: torch.Tensor) -> Decomposition:
        D = clip_to_matrix(clip.to(self.device, self.dtype))
        L, _, info = SOLVERS[self.solver](D, **self.options())
        self.infos.append(info.to_dict(traces=False))
        background = matrix_to_clip(L, clip.shape)
        return Decomposition(background=background, foreground=clip.float().cpu() - background)

    def reset(self) -> None:
        self.infos = []


@register("rpca-ialm")
class RPCAIALM(RPCAMethod):
    """Principal component pursuit by inexact ALM (the fast default)."""

    solver = "ialm"


@register("rpca-apg")
class RPCAAPG(RPCAMethod):
    """Eq. 1 with FISTA momentum."""

    solver = "apg"


@register("rpca-pfb")
class RPCAPFB(RPCAMethod):
    """Eq. 1 by the paper's proximal forward-backward iteration (Eqs. 3-5)."""

    solver = "pfb"
