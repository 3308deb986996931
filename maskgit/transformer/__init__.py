"""Stage 2: the bidirectional transformer that predicts masked tokens."""

from maskgit.transformer.attention import MultiHeadAttention
from maskgit.transformer.config import TRANSFORMER_PRESETS, TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer

__all__ = ["TRANSFORMER_PRESETS", "BidirectionalTransformer", "MultiHeadAttention", "TransformerConfig"]
