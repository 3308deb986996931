"""Dropout that draws only the dropped positions: torch's masks in distribution, at a fraction of the cost on a CPU.

torch's CPU dropout draws one random number per element; at p = 0.1 on the attention weights of the emoji
transformer (32 x 8 x 256 x 256 per layer) that was half of a training step (docs/benchmarks.md). In a row of
independent Bernoulli(p) trials the gaps between successive dropped positions are independent Geometric(p)
variables, so drawing the gaps (about p * n uniforms, each turned into a gap by the inverse CDF) gives exactly
the same distribution of masks with 1/p times fewer random numbers. On a GPU torch's own kernel is used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def dropped_positions(n: int, p: float, *, device: torch.device | str = "cpu") -> Tensor:
    """Flat indices in [0, n), each included independently with probability p, ascending. (K,) int64.

    Random numbers come from torch's global generator (the training loop seeds it every step).
    """
    if p <= 0.0 or n == 0:
        return torch.empty(0, dtype=torch.int64, device=device)
    if p >= 1.0:
        return torch.arange(n, device=device)
    log_keep = math.log1p(-p)
    expected = n * p
    chunk = int(expected + 6.0 * math.sqrt(expected * (1.0 - p))) + 16  # enough gaps to pass n nearly always
    exact = torch.float64 if n > 2**24 else torch.float32  # cumulative sums stay exact integers below 2**24
    parts, last = [], -1.0  # last: the previous dropped position
    while last < n - 1:
        # float32 uniforms (24 random bits, as torch's own float Bernoulli draws), in place: 2x faster than float64
        gaps = torch.rand(chunk, device=device)  # [0, 1)
        gaps.neg_().log1p_().mul_(1.0 / log_keep).floor_().add_(1.0)  # Geometric(p) on {1, 2, ...}: inverse CDF
        positions = gaps.cumsum(0, dtype=exact).add_(last)
        parts.append(positions)
        last = float(positions[-1])
    positions = torch.cat(parts) if len(parts) > 1 else parts[0]
    return positions[: int(torch.searchsorted(positions, float(n)))].long()  # ascending: those below n


class _SparseDropout(torch.autograd.Function):
    """x * scale with the given flat positions zeroed; the backward zeroes the same positions of the gradient."""

    @staticmethod
    def forward(ctx, x: Tensor, positions: Tensor, scale: float) -> Tensor:
        out = x.contiguous().view(-1) * scale  # a new tensor, so filling it in place costs autograd nothing
        out.index_fill_(0, positions, 0.0)
        ctx.save_for_backward(positions)
        ctx.scale = scale
        return out.view(x.shape)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (positions,) = ctx.saved_tensors
        grad_x = grad.contiguous().view(-1) * ctx.scale
        grad_x.index_fill_(0, positions, 0.0)
        return grad_x.view(grad.shape), None, None


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), as F.dropout does."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, training=True)
    # The scale stays a Python float, so it is exact whatever x's dtype (a bf16 1 / 0.9 is off by 0.2%).
    return _SparseDropout.apply(x, dropped_positions(x.numel(), p, device=x.device), 1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """nn.Dropout with the sampler above (same masks in distribution; same state dict and repr)."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)
