"""Multi-head self-attention, written out as in the seeds, with a fused fast path."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    """Q, K, V projections -> split into heads -> softmax(Q K^T / sqrt(d_k)) V -> merge heads -> output.

    `fused=True` (default) computes the attention with torch's scaled_dot_product_attention; `fused=False`
    runs the explicit math of the seeds, kept as the reference the fused path is tested against.
    Attention dropout applies to the attention weights while training, on either path.

    One exception, measured (docs/benchmarks.md): under bf16 autocast on a CPU the explicit math is about
    10% faster than torch's CPU flash-attention kernel for these short sequences, so it is used there.
    """

    def __init__(self, dim: int, heads: int, attn_dropout: float = 0.0, fused: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.attn_dropout = attn_dropout
        self.fused = fused

    def split_heads(self, x: Tensor) -> Tensor:  # (B, L, D) -> (B, H, L, D/H)
        b, length, _ = x.shape
        return x.view(b, length, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D) -> (B, L, D)
        b, length, dim = x.shape
        q, k, v = self.split_heads(self.q_proj(x)), self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))
        dropout = self.attn_dropout if self.training else 0.0
        if self.fused and not cpu_bf16_autocast(x):
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)  # (B, H, L, D/H)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, L, L)
            weights = F.dropout(torch.softmax(scores, dim=-1), p=dropout)
            out = weights @ v  # (B, H, L, D/H)
        out = out.transpose(1, 2).reshape(b, length, dim)  # merge heads
        return self.out_proj(out)


def cpu_bf16_autocast(x: Tensor) -> bool:
    """Whether `x` is on a CPU under bf16 autocast (where the explicit attention math is the faster path)."""
    return (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )
