"""Multi-head self-attention, written out as in the seeds, with a fused fast path."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskgit.transformer.dropout import dropout

ATTENTION_CHUNK = 8  # images per pass of the explicit attention math (cache-sized, like maskgit.batching)


class MultiHeadAttention(nn.Module):
    """Q, K, V projection (one fused matrix) -> split into heads -> softmax(Q K^T / sqrt(d_k)) V -> merge heads
    -> output.

    `fused=True` (default) computes the attention with torch's scaled_dot_product_attention; `fused=False`
    runs the explicit math of the seeds, kept as the reference the fused path is tested against.
    Attention dropout applies to the attention weights while training, on either path.

    Two exceptions take the explicit math on a CPU, both measured (docs/benchmarks.md): training with
    attention dropout (torch's kernels then fall back to their own math and draw a random number per
    weight; maskgit's dropout draws only the dropped ones, which made the emoji transformer's training step
    about 2x faster), and bf16 autocast (the explicit math was about 10% faster than torch's CPU flash
    kernel for these short sequences). The explicit math runs ATTENTION_CHUNK images at a time, so that each
    chunk's (b, H, L, L) weights stay in cache (the training step 1.2-1.4x faster in bf16).
    """

    def __init__(self, dim: int, heads: int, attn_dropout: float = 0.0, fused: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv_proj = nn.Linear(dim, 3 * dim)  # rows: Q, then K, then V (one matrix multiply for all three)
        self.out_proj = nn.Linear(dim, dim)
        self.attn_dropout = attn_dropout
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D) -> (B, L, D)
        b, length, dim = x.shape
        qkv = self.qkv_proj(x).view(b, length, 3, self.heads, self.head_dim)  # (B, L, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, L, D/H) each
        p = self.attn_dropout if self.training else 0.0
        if self.fused and not (x.device.type == "cpu" and (p > 0.0 or cpu_bf16_autocast(x))):
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, H, L, D/H)
        else:  # a few images at a time: each chunk's (b, H, L, L) weights stay in cache through softmax and dropout
            chunks = [
                self._explicit(*qkv, p) for qkv in zip(*(t.split(ATTENTION_CHUNK) for t in (q, k, v)), strict=True)
            ]
            out = chunks[0] if len(chunks) == 1 else torch.cat(chunks)  # (B, H, L, D/H)
        out = out.transpose(1, 2).reshape(b, length, dim)  # merge heads
        return self.out_proj(out)

    def _explicit(self, q: Tensor, k: Tensor, v: Tensor, p: float) -> Tensor:
        """softmax(Q K^T / sqrt(d_k)) V with dropout p on the weights: (b, H, L, D/H) each -> (b, H, L, D/H)."""
        scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)  # (b, H, L, L)
        return dropout(torch.softmax(scores, dim=-1), p) @ v

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        fuse_qkv(state_dict, prefix)  # state dicts saved before the projections were fused
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def fuse_qkv(state: dict[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    """Replace separate `q_proj`, `k_proj`, `v_proj` tensors (maskgit before checkpoint format 2) by the fused
    `qkv_proj` one, in place, for every attention layer under `prefix`; returns `state`."""
    for key in [k for k in state if k.startswith(prefix) and k.endswith("q_proj.weight")]:
        layer = key[: -len("q_proj.weight")]  # "" or "blocks.0.attention."
        if layer and not layer.endswith("."):
            continue
        for kind in ("weight", "bias"):
            parts = [state.pop(f"{layer}{name}.{kind}", None) for name in ("q_proj", "k_proj", "v_proj")]
            if all(p is not None for p in parts):
                state[f"{layer}qkv_proj.{kind}"] = torch.cat(parts)
    return state


def cpu_bf16_autocast(x: Tensor) -> bool:
    """Whether `x` is on a CPU under bf16 autocast (where the explicit attention math is the faster path)."""
    return (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )
