"""Background models: what the scene looks like without its moving objects, estimated from the video itself.

- :mod:`bgsub.background.reference`: the conservative median of the initialisation window, each pixel's noise
  level, per-frame illumination compensation (a static reference; the ``reference`` baseline).
- :mod:`bgsub.background.samples`: a sample-consensus model (N samples per pixel, updated over time, healing a
  busy start), the default U-Net's background.

The names of :mod:`bgsub.background.reference` are re-exported here, so ``from bgsub.background import estimate``
keeps working (imported on first use).
"""

import importlib

_REFERENCE = ("COMPENSATIONS", "EPS", "MAD_TO_SIGMA", "OFFSET_SAMPLES", "SMOOTH_ROUNDS", "SMOOTH_SAMPLES",
              "SMOOTH_TERMS", "Reference", "_lower_median", "_offsets", "_poly", "_robust_sigma", "_shifted_residual",
              "_smooth_basis", "background_for", "background_from", "compensation_for", "estimate", "estimate_from",
              "init_count", "offset_stride", "offsets_for", "residual")


def __getattr__(name: str):
    """The re-exported names, imported on first use: the static reference computes with torch, and importing any
    module of this package (the sample model's, which does not) must not import torch (see :mod:`bgsub.arrays`)."""
    if name in _REFERENCE:
        return getattr(importlib.import_module("bgsub.background.reference"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
