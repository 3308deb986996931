"""Iterative parallel decoding: from a partly masked token grid to a full one."""

from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.parallel_decode import (
    KNOWN_CONFIDENCE,
    DecodeResult,
    DecodeStep,
    choose_tokens,
    decode_tokens,
    guided_logits,
    masked_count_after_step,
    per_image_generators,
)
from maskgit.decoding.token_mask import composite, pixel_mask_to_token_mask

__all__ = [
    "KNOWN_CONFIDENCE",
    "DecodeConfig",
    "DecodeResult",
    "DecodeStep",
    "choose_tokens",
    "composite",
    "decode_tokens",
    "guided_logits",
    "masked_count_after_step",
    "per_image_generators",
    "pixel_mask_to_token_mask",
]
