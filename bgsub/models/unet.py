"""The U-Net of the paper's Fig. 1: a plain ``nn.Module``.

Each level holds ``convs`` 3x3 convolutions, each followed by batch norm and ReLU. Going down: 2x2 max pooling,
channels doubled (``base_channels * 2**level``). Going up: 2x upsampling (``up="transpose"``: a learned 2x2
transposed convolution that halves the channels, as in Ronneberger et al.; ``up="nearest"`` / ``"bilinear"``:
parameter-free interpolation), concatenation with the skip connection of the same level (``skip="cat"``;
``"add"`` sums them instead, halving the decoder's input channels), then ``convs`` 3x3 conv-BN-ReLU blocks. A
final 1x1 convolution with no activation gives the signed sparse part S.

Any frame size: the input is padded (replicate) to a multiple of ``2**depth`` inside :meth:`UNet.forward` and the
output cropped back, so ``S`` has the shape of the input.

The paper's count, 518,433 trainable parameters, is matched exactly by ``PAPER_SPEC``: base 32 channels, depth 2
(32-64-128), two convolutions per level with bias and batch norm, upsampling by a 3x3 transposed convolution with
stride 2 (Keras' ``Conv2DTranspose(3, strides=2, padding="same")``). The faster CPU default is smaller
(see :class:`bgsub.config.ModelConfig`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

UP_MODES = ("transpose", "nearest", "bilinear")
SKIP_MODES = ("cat", "add")


@dataclass(frozen=True)
class UNetSpec:
    """Everything that determines the parameter shapes (stored in checkpoints and compared on load)."""

    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 16
    depth: int = 4
    convs: int = 2
    up: str = "transpose"
    up_kernel: int = 2  # kernel of the transposed convolution (2 as in Ronneberger et al., 3 in the paper)
    conv_bias: bool = False  # bias in the 3x3 convolutions (redundant before batch norm; the paper has it)
    stem: str = "conv"  # conv | csf: the first 3x3 convolution replaced by a ConvSparseFactorization layer
    stem_lam1: float = 0.1  # the csf stem's elastic-net weights (Koch & Corso's lambda_1, lambda_2)
    stem_lam2: float = 0.01
    skip: str = "cat"  # cat: the decoder convolves [up(x), skip] (2C channels, Ronneberger et al.) | add: up(x) + skip
    #                    (C channels, as LinkNet/FPN do: the decoder's convolutions cost half; needs up "transpose")
    unary_k: float = 0.0  # > 0: the output is the energy's unary log-odds plus the network's correction (see
    #                       unary_logits); the input must then be log(1 + z), z in noise levels. 0 = off
    unary_cap: float = 16.0

    def to_dict(self) -> dict:
        return asdict(self)


PAPER_SPEC = UNetSpec(base_channels=32, depth=2, convs=2, up="transpose", up_kernel=3, conv_bias=True)


class CSFStem(nn.Module):
    """A ConvSparseFactorization layer (Koch & Corso, Section 4.2; :mod:`bgsub.models.sparse`) in place of a
    3x3 convolution: replicate padding keeps the size, so (B, C, H, W) -> (B, atoms, H, W). Keeps its last input
    and output (``last``) for the layer's own unsupervised loss (Eq. 12, :func:`bgsub.losses.sparse_layer_loss`)."""

    def __init__(self, cin: int, cout: int, lam1: float, lam2: float):
        super().__init__()
        from bgsub.models.sparse import ConvSparseFactorization

        self.csf = ConvSparseFactorization(cin, cout, 3, lam1=lam1, lam2=lam2)
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp = F.pad(x.float(), (1, 1, 1, 1), mode="replicate")
        with torch.autocast(device_type=x.device.type, enabled=False):  # the solver's tolerance needs fp32
            out = self.csf(xp)
        self.last = (xp, out) if torch.is_grad_enabled() else None
        return out


def _block(cin: int, cout: int, n: int, bias: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=bias), nn.BatchNorm2d(cout),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """x: (B, C_in, H, W) frames in [0, 1] -> S: (B, C_out, H, W), the signed sparse (foreground) part.

    Example::

        net = UNet(UNetSpec(base_channels=8, depth=3))
        S = net(torch.rand(2, 1, 240, 320))   # (2, 1, 240, 320)
    """

    def __init__(self, spec: UNetSpec = UNetSpec()):
        super().__init__()
        if spec.up not in UP_MODES:
            raise ValueError(f"up must be one of {UP_MODES}, got {spec.up!r}")
        if spec.depth < 0 or spec.base_channels < 1 or spec.convs < 1 or spec.up_kernel not in (2, 3, 4):
            raise ValueError(f"invalid U-Net spec {spec}")
        if spec.stem not in ("conv", "csf"):
            raise ValueError(f"stem must be conv or csf, got {spec.stem!r}")
        if spec.skip not in SKIP_MODES or (spec.skip == "add" and spec.up != "transpose"):
            raise ValueError(f"skip must be one of {SKIP_MODES} (add needs up=transpose), got {spec.skip!r}")
        self.spec = spec
        ch = [spec.base_channels * 2**i for i in range(spec.depth + 1)]
        self.down = nn.ModuleList([_block(spec.in_channels, ch[0], spec.convs, spec.conv_bias)])
        if spec.stem == "csf":
            self.down[0][0] = CSFStem(spec.in_channels, ch[0], spec.stem_lam1, spec.stem_lam2)
        for i in range(1, spec.depth + 1):
            self.down.append(_block(ch[i - 1], ch[i], spec.convs, spec.conv_bias))
        self.ups = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(spec.depth, 0, -1):
            if spec.up == "transpose":
                k = spec.up_kernel  # output exactly 2x the input for k = 2, 3, 4
                self.ups.append(nn.ConvTranspose2d(ch[i], ch[i - 1], k, stride=2, padding=(k - 1) // 2,
                                                   output_padding=k % 2))
                cin = ch[i - 1] if spec.skip == "add" else 2 * ch[i - 1]
                self.dec.append(_block(cin, ch[i - 1], spec.convs, spec.conv_bias))
            else:
                self.ups.append(nn.Upsample(scale_factor=2, mode=spec.up))
                self.dec.append(_block(ch[i] + ch[i - 1], ch[i - 1], spec.convs, spec.conv_bias))
        self.head = nn.Conv2d(ch[0], spec.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.unary_k > 0:
            return self._forward(x) + unary_logits(x, self.spec.unary_k, self.spec.unary_cap).to(x.dtype)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        k = 2**self.spec.depth
        ph, pw = (-h) % k, (-w) % k
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, block in zip(self.ups, self.dec):
            if self.spec.skip == "add":
                x = block(up(x).add_(skips.pop()))
            else:
                x = block(torch.cat([up(x), skips.pop()], dim=1))
        s = self.head(x)
        if ph or pw:
            s = s[..., :h, :w]
        return s


def unary_logits(x: torch.Tensor, k: float, cap: float) -> torch.Tensor:
    """The support energy's per-pixel decision as log-odds, from the network's input x = log(1 + z) (B, C, H, W):
    log r with r = min((max_c z_c / k)^2, cap) the cost of calling the pixel background (calling it foreground
    costs 1, :func:`bgsub.losses.support_energy`), floored at e^-4. Positive where the data term alone says
    foreground (z > k), zero at the boundary, and bounded (-4 .. log cap), so the sigmoid keeps a gradient and the
    network can overrule it either way. (B, 1, H, W), float32."""
    z = torch.expm1(x.float()).amax(dim=1, keepdim=True)
    return torch.log((z / k).square().clamp(min=math.exp(-4.0), max=cap))


def fuse_for_inference(model: UNet) -> UNet:
    """An eval-mode copy of ``model`` with every batch norm folded into the convolution before it (same outputs up
    to rounding, about a quarter less time per forward pass on the CPU). The original is untouched."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(model).eval()
    for block in list(fused.down) + list(fused.dec):
        layers = list(block)
        out: list[nn.Module] = []
        i = 0
        while i < len(layers):
            if i + 1 < len(layers) and isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                out.append(fuse_conv_bn_eval(layers[i], layers[i + 1]))
                i += 2
            else:
                out.append(layers[i])
                i += 1
        block._modules.clear()
        for j, layer in enumerate(out):
            block.add_module(str(j), layer)
    return fused


def stem_layer(model: nn.Module) -> "CSFStem | None":
    """The csf stem of ``model`` (None for the plain convolution)."""
    first = model.down[0][0] if isinstance(model, UNet) else None
    return first if isinstance(first, CSFStem) else None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
