"""Stage 1: the VQGAN tokenizer that turns images into grids of codebook ids and back."""

from maskgit.tokenizer.config import TOKENIZER_PRESETS, TokenizerConfig
from maskgit.tokenizer.quantizer import QuantizerOutput, VectorQuantizer
from maskgit.tokenizer.vqgan import VQGAN, VQGANOutput

__all__ = ["TOKENIZER_PRESETS", "VQGAN", "QuantizerOutput", "TokenizerConfig", "VQGANOutput", "VectorQuantizer"]
