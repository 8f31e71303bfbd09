"""A background reference from the video itself: a conservative temporal median, each pixel's own noise level,
and per-frame illumination compensation. Pure functions on tensors; no files, no state beyond the returned
:class:`Reference`.

Why each piece (the levers of the field's best unsupervised methods):

- **Initialisation window.** The background is estimated from the first ``init`` frames (CDnet gives its
  sequences such a period before scoring starts; ViBe, SuBSENSE and the CDnet baselines initialise there), not
  from frames sampled over the whole video: an object that stops later (a person who sits down) is then not part
  of the background, and stays foreground.
- **Conservative re-estimation** (ViBe, SuBSENSE, DECOLOR): a first median and noise level flag the samples that
  deviate by more than ``k`` noise levels; median and noise are estimated again from the samples that were not
  flagged, so a moving object crossing a pixel during initialisation neither shifts its background nor inflates its
  noise level.
- **Per-pixel noise level** (SuBSENSE's per-pixel adaptive thresholds): ``sigma`` is 1.4826 x the median absolute
  deviation of that pixel's background samples (the max over colour channels), a robust standard deviation.
  Water, waves and leaves get a large sigma; a static wall gets the camera noise. It is floored at the median over
  the frame (``sigma_floor``), so that perfectly still pixels do not become hair-trigger.
- **Illumination compensation**: a global change of brightness (lights, auto exposure) shifts every pixel by about
  the same amount. Each frame's background is shifted by the per-channel median of (frame - background) over the
  frame (a regular grid of at least 4096 of its pixels), a robust estimate as long as moving objects cover less
  than half of it (``compensate="offset"``). ``compensate="smooth"`` goes further: a light that changes in one
  part of a room, or a window's daylight, changes the brightness smoothly across the frame, so each frame's
  background is the reference times a smooth gain field plus a smooth offset field, both quadratic polynomials of
  the pixel position per channel (the low-order polynomial illumination model of change detection; Radke et al.,
  "Image change detection algorithms: a systematic survey", IEEE TIP 2005, section on intensity adjustments),
  fitted to the frame by least squares in noise units over the grid's pixels within ``k`` noise levels, starting
  from the median offset and reweighted three times (iteratively reweighted least squares with a hard cut-off, so
  moving objects do not pull the fit). Clipped samples (0 or 255 in the frame or the reference) say nothing of
  a gain and are left out of the fit; the background is clamped to [0, 1], the range the camera records (a
  near-white wall cannot get 12% brighter).

The residual ``z = |frame - (background + offset)| / sigma`` (per channel) is in units of each pixel's own noise: a
pixel is an outlier at ``z > k`` whatever the scene. ``k`` is a noise-level multiple (6 by default: far outside
the noise of any background sample), not a per-scene constant.

Example::

    ref = estimate(first_frames)                 # (T, C, H, W) float in [0, 1]
    z = residual(ref, clip)                      # (T, C, H, W), in noise levels
    masks = z.amax(1, keepdim=True) > 6          # the reference thresholded on its own
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from bgsub.background.illumination import OFFSET_SAMPLES, grid_step
from bgsub.background.start import init_count  # noqa: F401 (re-exported: its home needs no torch)
from bgsub.errors import BgsubError

COMPENSATIONS = ("offset", "smooth", "none")
MAD_TO_SIGMA = 1.4826  # MAD x 1.4826 = standard deviation for Gaussian noise
EPS = 1.0 / 255.0 / 8.0  # smallest noise level: an eighth of one 8-bit grey level


@dataclass
class Reference:
    """background: (C, H, W) in [0, 1]; sigma: (1, H, W) each pixel's noise level (>= sigma_floor);
    sigma_floor: the floor, the frame's median noise level; init: frames used; compensate: "offset", "smooth" or
    "none" (see the module docstring); k: the inlier cut-off of the smooth fit, in noise levels."""

    background: torch.Tensor
    sigma: torch.Tensor
    sigma_floor: float
    init: int
    compensate: str = "offset"
    shift: int = 0
    k: float = 6.0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # per-size bases of the smooth fit

    def to_dict(self) -> dict:
        return {"background": self.background.detach().cpu().contiguous(), "sigma": self.sigma.detach().cpu().contiguous(),
                "sigma_floor": float(self.sigma_floor), "init": int(self.init), "compensate": self.compensate,
                "shift": int(self.shift), "k": float(self.k)}

    @classmethod
    def from_dict(cls, d: dict) -> "Reference":
        return cls(background=d["background"].float(), sigma=d["sigma"].float(), sigma_floor=float(d["sigma_floor"]),
                   init=int(d["init"]), compensate=str(d.get("compensate", "offset")), shift=int(d.get("shift", 0)),
                   k=float(d.get("k", 6.0)))

    def resized(self, size: tuple[int, int]) -> "Reference":
        """The same reference at another frame size (bilinear), e.g. for a network run at reduced scale."""
        if tuple(self.background.shape[-2:]) == tuple(size):
            return self
        import torch.nn.functional as F

        bg = F.interpolate(self.background[None], size=size, mode="bilinear", align_corners=False)[0]
        sg = F.interpolate(self.sigma[None], size=size, mode="bilinear", align_corners=False)[0]
        return Reference(bg, sg.clamp(min=self.sigma_floor), self.sigma_floor, self.init, self.compensate, self.shift,
                         self.k)


def _robust_sigma(dev: torch.Tensor) -> torch.Tensor:
    """dev: (T, 1, H, W) absolute deviations with NaN for excluded samples -> (1, H, W) 1.4826 x median."""
    s = torch.nanmedian(dev, dim=0).values * MAD_TO_SIGMA
    return s


def estimate(frames: torch.Tensor, *, k: float = 6.0, passes: int = 2, compensate: str = "offset",
             shift: int = 0) -> Reference:
    """Estimate the background reference from the initialisation frames.

    frames: (T, C, H, W) float in [0, 1], T >= 1 (the first frames of the video). ``passes``: 1 = plain median
    and MAD; 2 = conservative (re-estimated without the samples more than ``k`` noise levels off, see the module
    docstring). Returns a :class:`Reference`.
    """
    if frames.ndim != 4 or frames.shape[0] < 1:
        raise BgsubError(f"background: expected initialisation frames (T, C, H, W), got {tuple(frames.shape)}")
    if compensate not in COMPENSATIONS:
        raise BgsubError(f"background.compensate must be one of {', '.join(COMPENSATIONS)}, got {compensate!r}")
    x = frames.detach().float().cpu()
    if compensate != "none":  # initialisation frames may differ in brightness too (aligned by their offsets)
        first = x.median(dim=0).values
        x = x - _offsets(x, first)
    bg = x.median(dim=0).values  # (C, H, W)
    dev = (x - bg).abs().amax(dim=1, keepdim=True)  # (T, 1, H, W)
    sigma = dev.median(dim=0).values * MAD_TO_SIGMA
    floor = max(float(sigma.median()), EPS)
    for _ in range(max(0, passes - 1)):
        keep = dev <= k * sigma.clamp(min=floor)
        xs = torch.where(keep, x, torch.full_like(x, float("nan")))
        bg2 = torch.nanmedian(xs, dim=0).values
        bg = torch.where(torch.isnan(bg2), bg, bg2)
        dev = (x - bg).abs().amax(dim=1, keepdim=True)
        s2 = _robust_sigma(torch.where(keep, dev, torch.full_like(dev, float("nan"))))
        sigma = torch.where(torch.isnan(s2), sigma, s2)
        floor = max(float(sigma.median()), EPS)
    return Reference(background=bg, sigma=sigma.clamp(min=floor), sigma_floor=floor, init=int(frames.shape[0]),
                     compensate=compensate, shift=int(shift), k=float(k))


def estimate_from(clip: torch.Tensor, bc) -> Reference:
    """The reference of a fit clip whose first frames are the initialisation window: :func:`estimate` on its first
    :func:`init_count` frames with the settings of ``bc`` (a :class:`bgsub.config.BackgroundConfig`). What every
    method given the reference fits on."""
    n = init_count(bc.init, clip.shape[0])
    return estimate(clip[:n], k=bc.k, passes=bc.passes, compensate=bc.compensate, shift=bc.shift)


def offset_stride(h: int, w: int) -> int:
    """Step of the regular pixel grid the illumination offset is estimated on: the largest step that keeps at
    least :data:`OFFSET_SAMPLES` pixels (1 for frames smaller than that)."""
    return grid_step(h, w, OFFSET_SAMPLES)


def _offsets(frames: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Per-frame, per-channel median of (frame - background) over a regular grid of at least
    :data:`OFFSET_SAMPLES` pixels (every pixel of a small frame): (T, C, 1, 1). The median of 4096 samples is
    within about 0.02 noise levels of the all-pixel median (its standard error is 1.25 sigma / sqrt(n)) at a
    tenth of the cost, which mattered: the all-pixel median was a sixth of ``segment``'s time at 320x240."""
    s = offset_stride(frames.shape[-2], frames.shape[-1])
    d = (frames[..., ::s, ::s] - background[..., ::s, ::s]).flatten(2)
    return _lower_median(d)[..., None, None]


def _lower_median(d: torch.Tensor) -> torch.Tensor:
    """``d.median(dim=-1).values`` (the lower of the two middle values for an even count). On the CPU by NumPy's
    selection (introselect), which returns the same element 3x faster than torch's median kernel here."""
    if d.device.type != "cpu" or d.requires_grad or d.shape[-1] == 0:
        return d.median(dim=-1).values
    import numpy as np

    k = (d.shape[-1] - 1) // 2
    a = np.partition(d.contiguous().numpy(), k, axis=-1)[..., k]
    return torch.from_numpy(np.ascontiguousarray(a))


def offsets_for(ref: Reference, frames: torch.Tensor) -> torch.Tensor:
    """Each frame's illumination offset from the reference, (T, C, 1, 1) (zeros with ``compensate="none"``)."""
    if ref.compensate != "none":
        return _offsets(frames.float(), ref.background.to(frames.device))
    return frames.new_zeros(frames.shape[0], frames.shape[1], 1, 1, dtype=torch.float32)


SMOOTH_TERMS = 6  # 1, u, v, u^2, uv, v^2: the quadratic polynomials of the pixel position
SMOOTH_ROUNDS = 3  # reweighting rounds of the smooth fit
CLIP_LO, CLIP_HI = 0.5 / 255, 254.5 / 255  # samples at 0 or 255 are clipped: they do not show a gain
SMOOTH_SAMPLES = 512  # pixels the smooth fit is made on (at least; a regular grid): 12 coefficients per channel


def _poly(h: int, w: int, stride: int = 1, device=None) -> torch.Tensor:
    """(SMOOTH_TERMS, h', w') the quadratic monomials of the pixel centres (u across, v down, both in [-1, 1]) on
    the grid of every ``stride``-th pixel (h' = ceil(h / stride))."""
    v = (torch.arange(h, dtype=torch.float32, device=device)[::stride] + 0.5) / h * 2 - 1
    u = (torch.arange(w, dtype=torch.float32, device=device)[::stride] + 0.5) / w * 2 - 1
    v, u = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([torch.ones_like(u), u, v, u * u, u * v, v * v])


def _smooth_basis(ref: Reference, stride: int, device) -> torch.Tensor:
    """(C, 2 * SMOOTH_TERMS + 1, P) per channel: the gain terms (monomials x background), the offset terms
    (monomials) and the background itself, on the grid of every ``stride``-th pixel; cached on ``ref``."""
    key = (stride, str(device))
    if key not in ref._cache:
        bg = ref.background.to(device)[..., ::stride, ::stride]
        C = bg.shape[0]
        phi = _poly(*ref.background.shape[-2:], stride, device).reshape(1, SMOOTH_TERMS, -1).expand(C, -1, -1)
        bg = bg.reshape(C, 1, -1)
        ref._cache[key] = torch.cat([phi * bg, phi, bg], 1).contiguous()
    return ref._cache[key]


def compensation_for(ref: Reference, frames: torch.Tensor) -> torch.Tensor:
    """Each frame's illumination compensation, what :func:`background_from` turns into its background:
    ``"offset"``/``"none"``: (T, C, 1, 1) offsets; ``"smooth"``: (T, C, 2 * SMOOTH_TERMS) the coefficients of the
    gain and offset fields (see the module docstring; the gain field is one plus the first six's polynomial)."""
    if ref.compensate != "smooth":
        return offsets_for(ref, frames)
    x = frames.float()
    T, C, H, W = x.shape
    s = max(1, int((H * W / SMOOTH_SAMPLES) ** 0.5))
    J2 = 2 * SMOOTH_TERMS
    basis = _smooth_basis(ref, s, x.device)
    isig = 1.0 / ref.sigma.to(x.device)[..., ::s, ::s].reshape(1, 1, -1)  # (1, 1, P)
    A = basis[:, :J2] * isig  # (C, 2J, P): the terms in noise levels
    xs = x[..., ::s, ::s].reshape(T, C, -1).transpose(0, 1)  # (C, T, P): the frames on the grid
    bs = basis[:, J2:]  # (C, 1, P): the reference on the grid
    d = xs - bs
    r = d * isig  # (C, T, P): the residual in noise levels
    theta = x.new_zeros(C, T, J2)
    theta[..., SMOOTH_TERMS] = _lower_median(d)  # start: the median offset
    ridge = 1e-6 * torch.eye(J2, device=x.device)
    unclipped = ((xs > CLIP_LO) & (xs < CLIP_HI)).all(0) & ((bs > CLIP_LO) & (bs < CLIP_HI)).all(0)  # (T, P)
    for _ in range(SMOOTH_ROUNDS):
        e = r - torch.bmm(theta, A)  # (C, T, P)
        w = ((e.abs().amax(0) <= ref.k) & unclipped).to(x.dtype)  # (T, P): inliers in every channel
        Aw = A[:, None] * w[None, :, None]  # (C, T, 2J, P)
        G = torch.matmul(Aw, A[:, None].transpose(-1, -2))  # (C, T, 2J, 2J)
        scale = G.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None].clamp(min=1e-12)
        new = torch.linalg.solve(G + ridge * scale, torch.matmul(Aw, r[..., None])[..., 0])
        enough = w.sum(1) >= 4 * J2  # too few inliers: keep the previous fit
        theta = torch.where(enough[None, :, None], new, theta)
    return theta.transpose(0, 1).contiguous()


def background_from(ref: Reference, comp: torch.Tensor) -> torch.Tensor:
    """The frames' backgrounds (T, C, H, W) from their compensation (:func:`compensation_for`)."""
    if comp.shape[-1] == 1:  # offsets (T, C, 1, 1)
        return ref.background.to(comp.device) + comp
    T, C = comp.shape[:2]
    H, W = ref.background.shape[-2:]
    basis = _smooth_basis(ref, 1, comp.device)  # (C, 2J + 1, H * W)
    coef = torch.cat([comp, comp.new_ones(T, C, 1)], 2)  # (T, C, 2J + 1): the background's own coefficient is 1
    out = torch.empty(T, C, H * W, device=comp.device)
    for c in range(C):  # one matrix product per channel, written in place: no gain or offset field materialised
        torch.mm(coef[:, c], basis[c], out=out[:, c])
    return out.view(T, C, H, W).clamp_(0.0, 1.0)  # what the camera can record


def background_for(ref: Reference, frames: torch.Tensor) -> torch.Tensor:
    """Each frame's background: the reference compensated for the frame's illumination (:func:`compensation_for`).
    (T, C, H, W)."""
    return background_from(ref, compensation_for(ref, frames))


def residual(ref: Reference, frames: torch.Tensor, *, background: Optional[torch.Tensor] = None) -> torch.Tensor:
    """z = |frame - background_t| / sigma: (T, C, H, W) in noise levels (see the module docstring)."""
    if frames.shape[-3:] != ref.background.shape:
        raise BgsubError(f"frames of shape {tuple(frames.shape[-3:])} do not match the background reference "
                         f"{tuple(ref.background.shape)} (same input.grayscale and input.scale as at fit time?)")
    bg = background if background is not None else background_for(ref, frames)
    sigma = ref.sigma.to(frames.device)
    if ref.shift <= 0:
        return (frames.float() - bg).abs_().div_(sigma)  # in place: one full-size allocation, not three
    return _shifted_residual(frames.float(), bg.expand_as(frames), sigma, ref.shift)


def _shifted_residual(x: torch.Tensor, bg: torch.Tensor, sigma: torch.Tensor, r: int) -> torch.Tensor:
    """Displacement-tolerant residual: each pixel p is compared with the background at every q within the square
    of radius r around p, and the closest (smallest max-over-channels z) is kept."""
    import torch.nn.functional as F

    T, C, H, W = x.shape
    bgp = F.pad(bg, (r, r, r, r), mode="replicate")
    sgp = F.pad(sigma[None], (r, r, r, r), mode="replicate")[0]
    best = torch.full((T, 1, H, W), float("inf"), device=x.device)
    out = torch.empty_like(x)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            z = (x - bgp[..., dy : dy + H, dx : dx + W]).abs() / sgp[..., dy : dy + H, dx : dx + W]
            zmax = z.amax(dim=1, keepdim=True)
            better = zmax < best
            best = torch.where(better, zmax, best)
            out = torch.where(better, z, out)
    return out
