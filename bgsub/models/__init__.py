"""Networks (plain ``nn.Module`` s; :mod:`bgsub.models.dnn` runs the U-Net through OpenCV without torch)."""

__all__ = ["PAPER_SPEC", "UNet", "UNetSpec", "count_parameters"]


def __getattr__(name: str):
    """The U-Net's names, imported on first use: importing a module of this package (:mod:`bgsub.models.dnn`) must
    not import torch (:mod:`bgsub.arrays`)."""
    if name in __all__:
        from bgsub.models import unet

        return getattr(unet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
