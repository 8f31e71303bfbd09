"""The unrolled ML-ISTA network (Sulam et al.; the IPAM 2019 slides, "Generalizing recurrent CNNs").

L convolutional dictionaries D_i (weights W_i of shape (n_i, n_{i-1}, k_i, k_i), stride s_i): D_i^T is
``conv2d(., W_i, stride=s_i)`` and D_i is its adjoint ``conv_transpose2d(., W_i, stride=s_i)``. The soft
threshold is the non-negative one, ``ReLU(x + b_i)`` (b_i = -threshold, learned per channel). Iteration 1 is the
feed-forward pass (layered thresholding):

    g_i^(1) = ReLU(c_i D_i^T g_{i-1}^(1) + b_i),            g_0 = y,

and every further iteration k >= 2 is one ML-ISTA step (the slides' algorithm box, steps c_i learned):

    g_hat_i = D_(i+1,L) g_L^(k-1)                           (i = L-1 .. 1, going down the layers)
    g_i^(k) = ReLU(g_hat_i - c_i D_i^T (D_i g_hat_i - g_{i-1}^(k)) + b_i)      (i = 1 .. L, going up)

So ``MLISTANet(..., unroll=1)`` is exactly the plain CNN conv -> ReLU -> ... -> linear classifier, and
``unroll=K`` runs K iterations with the *same* parameters (no new weights): the slides' "same number of
parameters". The classifier is a linear layer on the flattened g_L.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLISTANet"]


class MLISTANet(nn.Module):
    """Unrolled ML-ISTA classifier.

    in_channels, image_size: the input (B, in_channels, image_size, image_size). layers: one
    ``(channels, kernel, stride)`` per dictionary. classes: outputs of the final linear layer. unroll: K >= 1
    iterations (K = 1: the feed-forward CNN). forward returns logits (B, classes); ``codes(x)`` returns
    [g_1, ..., g_L] after K iterations.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28,
                 layers: Sequence[tuple[int, int, int]] = ((16, 6, 2), (32, 6, 2), (64, 4, 1)),
                 classes: int = 10, unroll: int = 1):
        super().__init__()
        if unroll < 1:
            raise ValueError(f"unroll must be >= 1, got {unroll}")
        self.unroll = int(unroll)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.steps = nn.ParameterList()
        self.strides: list[int] = []
        self.sizes = [image_size]
        prev, size = in_channels, image_size
        for ch, k, s in layers:
            w = torch.randn(ch, prev, k, k) * (2.0 / (prev * k * k)) ** 0.5
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(1, ch, 1, 1)))
            self.strides.append(s)
            size = (size - k) // s + 1
            if size < 1:
                raise ValueError(f"layers {list(layers)} shrink a {image_size}-pixel image to nothing")
            self.sizes.append(size)
            prev = ch
        self.classifier = nn.Linear(prev * size * size, classes)
        # steps c_i = 1 / ||D_i||^2 at initialisation (power iteration), so that the recurrent updates start as
        # stable gradient steps; they are learned afterwards
        with torch.no_grad():
            gen = torch.Generator().manual_seed(0)
            for i in range(len(self.weights)):
                self.steps.append(nn.Parameter(torch.ones(())))
                v = torch.randn(1, in_channels if i == 0 else layers[i - 1][0], self.sizes[i], self.sizes[i],
                                generator=gen)
                for _ in range(30):
                    v = self._D(i, self._Dt(i, v))
                    norm2 = v.norm()
                    v = v / norm2
                self.steps[i].fill_(1.0 / float(norm2))

    def _Dt(self, i: int, x: torch.Tensor) -> torch.Tensor:  # D_i^T x: the analysis (conv) operator
        return F.conv2d(x, self.weights[i], stride=self.strides[i])

    def _D(self, i: int, g: torch.Tensor) -> torch.Tensor:  # D_i g: the synthesis (transposed conv) operator
        W, s = self.weights[i], self.strides[i]
        out = (g.shape[-1] - 1) * s + W.shape[-1]
        pad = self.sizes[i] - out
        return F.conv_transpose2d(g, W, stride=s, output_padding=pad)

    def codes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (B, C, H, W) -> [g_1, ..., g_L] after ``unroll`` iterations."""
        L = len(self.weights)
        g = []
        prev = x
        for i in range(L):  # iteration 1: the feed-forward pass
            prev = F.relu(self.steps[i] * self._Dt(i, prev) + self.biases[i])
            g.append(prev)
        for _ in range(self.unroll - 1):
            hats = [None] * L
            hats[L - 1] = g[L - 1]
            for i in range(L - 1, 0, -1):
                hats[i - 1] = self._D(i, hats[i])
            prev = x
            new = []
            for i in range(L):
                r = self._D(i, hats[i]) - prev
                prev = F.relu(hats[i] - self.steps[i] * self._Dt(i, r) + self.biases[i])
                new.append(prev)
            g = new
        return g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.codes(x)[-1].flatten(1))
