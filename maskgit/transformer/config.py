"""Bidirectional transformer configuration and its named presets, defined once here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from maskgit.config import lookup_preset, require, typed_fields

Norm = Literal["pre", "post"]
FILL_DEPTHS = 8  # fill hints tell apart depths 0..7 into a hole (maskgit.decoding.token_mask.fill_depth)


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the bidirectional transformer that predicts masked tokens.

    `codebook_size` and `num_tokens` must match the tokenizer it is paired with; the mask token id is
    codebook_size (one extra embedding row). With `num_classes` > 0 a class token is prepended to the
    sequence; class id num_classes is the null class used for classifier-free guidance. With `fill_hint` the
    model also reads, at masked positions, what a classical fill put there: the token the tokenizer saw in the
    filled hole and how deep in the hole it lies (BidirectionalTransformer.forward's `hint`).
    """

    codebook_size: int = 1024
    num_tokens: int = 256  # sequence length: the tokenizer's grid_size ** 2
    dim: int = 512
    depth: int = 12
    heads: int = 8
    mlp_hidden: int = 2048
    norm: Norm = "pre"  # "pre": x = x + f(LN(x)), trains more stably; "post": x = LN(x + f(x)) as in the seeds
    layer_norm_eps: float = 1e-6
    dropout: float = 0.1
    attn_dropout: float = 0.1
    predict_mask_class: bool = False  # True: logits over codebook_size + 1 classes (the seeds' 1025)
    num_classes: int = 0
    fill_hint: bool = False  # masked positions also embed the fill's token and its depth in the hole (inpainting)

    def __post_init__(self) -> None:
        typed_fields(self)
        require(self.dim % self.heads == 0, f"dim {self.dim} must be divisible by heads {self.heads}")
        require(self.norm in ("pre", "post"), f"norm must be 'pre' or 'post', got {self.norm!r}")
        require(self.codebook_size >= 2, f"codebook_size must be at least 2, got {self.codebook_size}")
        require(self.num_tokens >= 1 and self.depth >= 1, "num_tokens and depth must be positive")
        require(0.0 <= self.dropout < 1.0 and 0.0 <= self.attn_dropout < 1.0, "dropout rates must be in [0, 1)")
        require(self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}")

    @property
    def mask_token_id(self) -> int:
        return self.codebook_size

    @property
    def output_classes(self) -> int:
        return self.codebook_size + 1 if self.predict_mask_class else self.codebook_size

    @property
    def null_class_id(self) -> int:
        return self.num_classes

    @classmethod
    def preset(cls, name: str) -> TransformerConfig:
        return lookup_preset("transformer", TRANSFORMER_PRESETS, name)


def lab() -> TransformerConfig:
    """The seeds' transformer: post-LN, dim 768, 15 layers, 16 heads, 1025 output classes (73 M parameters)."""
    return TransformerConfig(
        dim=768, depth=15, heads=16, mlp_hidden=1536, norm="post", layer_norm_eps=1e-12, predict_mask_class=True
    )


def base() -> TransformerConfig:
    """The pre-LN default at the seeds' token grid (16x16 tokens, 1024 codes), for a GPU (39 M)."""
    return TransformerConfig()


def emoji() -> TransformerConfig:
    """For the `emoji` tokenizer (16x16 tokens, 512 codes), sized for 2 CPU cores (3.6 M)."""
    return TransformerConfig(codebook_size=512, dim=256, depth=4, mlp_hidden=1024)


def grey32() -> TransformerConfig:
    """For the `grey32` tokenizer (8x8 tokens, 256 codes), for 2 CPU cores (1.9 M)."""
    return TransformerConfig(codebook_size=256, num_tokens=64, dim=192, depth=4, heads=6, mlp_hidden=768)


def tiny() -> TransformerConfig:
    """For tests, paired with the `tiny` tokenizer (4x4 tokens, 32 codes); no dropout."""
    return TransformerConfig(
        codebook_size=32, num_tokens=16, dim=32, depth=2, heads=4, mlp_hidden=64, dropout=0.0, attn_dropout=0.0
    )


TRANSFORMER_PRESETS = {"lab": lab, "base": base, "emoji": emoji, "grey32": grey32, "tiny": tiny}
