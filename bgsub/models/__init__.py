"""Networks (plain ``nn.Module`` s)."""

from bgsub.models.unet import PAPER_SPEC, UNet, UNetSpec, count_parameters

__all__ = ["PAPER_SPEC", "UNet", "UNetSpec", "count_parameters"]
