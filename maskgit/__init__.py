"""maskgit: masked generative image modeling (MaskGIT), centred on inpainting.

from maskgit import MaskGIT, DecodeConfig
model = MaskGIT.from_preset("tiny").eval()
result = model.inpaint(images, pixel_mask, DecodeConfig(total_steps=8, schedule="linear"))
"""

from maskgit.checkpoint import LoadedCheckpoint, load_checkpoint, save_checkpoint
from maskgit.decoding import DecodeConfig, decode_tokens, per_image_generators, pixel_mask_to_token_mask
from maskgit.errors import CheckpointError, ConfigError, InputError, MaskGitError
from maskgit.masking import SCHEDULES, gamma, mask_tokens, mvtm_loss
from maskgit.pipeline import GenerateResult, InpaintResult, MaskGIT
from maskgit.tokenizer import VQGAN, TokenizerConfig
from maskgit.transformer import BidirectionalTransformer, TransformerConfig

__version__ = "0.1.0"

__all__ = [
    "SCHEDULES",
    "VQGAN",
    "BidirectionalTransformer",
    "CheckpointError",
    "ConfigError",
    "DecodeConfig",
    "GenerateResult",
    "InpaintResult",
    "InputError",
    "LoadedCheckpoint",
    "MaskGIT",
    "MaskGitError",
    "TokenizerConfig",
    "TransformerConfig",
    "decode_tokens",
    "gamma",
    "load_checkpoint",
    "mask_tokens",
    "mvtm_loss",
    "per_image_generators",
    "pixel_mask_to_token_mask",
    "save_checkpoint",
]
