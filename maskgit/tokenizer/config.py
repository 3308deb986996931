"""Tokenizer (VQGAN) configuration and its named presets, defined once here."""

from __future__ import annotations

from dataclasses import dataclass

from maskgit.config import lookup_preset, require, typed_fields


@dataclass(frozen=True)
class TokenizerConfig:
    """Sizes of a VQGAN: encoder -> vector quantizer -> decoder.

    The encoder has len(encoder_channels) - 1 stages; stage i maps encoder_channels[i] to
    encoder_channels[i + 1] with `encoder_res_blocks` residual blocks and halves the resolution after
    it if i is in `downsample_after`. The decoder has len(decoder_channels) stages and doubles the
    resolution after each stage in `upsample_after`. Non-local (self-attention) blocks follow every
    residual block whose feature map has a side in `attn_resolutions`.

    Images enter and leave as [-1, 1] whatever the config. A tokenizer trained on images normalized by
    per-channel statistics (the lab's: (x - mean) / std on 0..1 pixels) carries them as `pixel_mean` and
    `pixel_std`; the VQGAN converts [-1, 1] images into that space before encoding and back after
    decoding. None means the network itself works in [-1, 1].
    """

    image_channels: int = 3
    resolution: int = 64  # side of the square input image, pixels
    latent_dim: int = 256  # dimension of a code vector
    codebook_size: int = 1024
    encoder_channels: tuple[int, ...] = (128, 128, 128, 256, 256, 512)
    encoder_res_blocks: int = 2
    downsample_after: tuple[int, ...] = (1, 3)  # 0-based encoder stages
    decoder_channels: tuple[int, ...] = (512, 256, 256, 128, 128)
    decoder_res_blocks: int = 3
    upsample_after: tuple[int, ...] = (1, 3)  # 0-based decoder stages
    attn_resolutions: tuple[int, ...] = (16,)
    decoder_out_activation: bool = True  # Swish between the decoder's last GroupNorm and its output conv
    pixel_mean: tuple[float, ...] | None = None  # per channel, of 0..1 pixels (see the class docstring)
    pixel_std: tuple[float, ...] | None = None
    beta: float = 0.25  # commitment-loss weight
    codebook_ema: bool = False  # update codes by EMA of their assignments instead of by gradient
    ema_decay: float = 0.99

    def __post_init__(self) -> None:
        typed_fields(self)
        require(self.image_channels in (1, 3), f"image_channels must be 1 or 3, got {self.image_channels}")
        require(self.codebook_size >= 2, f"codebook_size must be at least 2, got {self.codebook_size}")
        require(len(self.encoder_channels) >= 2, "encoder_channels needs at least 2 entries")
        require(len(self.decoder_channels) >= 1, "decoder_channels needs at least 1 entry")
        require(
            len(self.downsample_after) == len(self.upsample_after),
            f"downsample_after {self.downsample_after} and upsample_after {self.upsample_after} must have "
            "the same length (the decoder undoes every downsampling)",
        )
        stages = len(self.encoder_channels) - 1
        require(
            all(0 <= i < stages for i in self.downsample_after),
            f"downsample_after {self.downsample_after} must name encoder stages 0..{stages - 1}",
        )
        require(
            all(0 <= i < len(self.decoder_channels) for i in self.upsample_after),
            f"upsample_after {self.upsample_after} must name decoder stages 0..{len(self.decoder_channels) - 1}",
        )
        require(
            self.resolution % self.downsample_factor == 0,
            f"resolution {self.resolution} is not divisible by the downsample factor {self.downsample_factor}",
        )
        require(0.0 < self.ema_decay < 1.0, f"ema_decay must be in (0, 1), got {self.ema_decay}")
        require(
            (self.pixel_mean is None) == (self.pixel_std is None),
            "pixel_mean and pixel_std go together: give both or neither",
        )
        if self.pixel_mean is not None and self.pixel_std is not None:
            require(
                len(self.pixel_mean) == len(self.pixel_std) == self.image_channels,
                f"pixel_mean and pixel_std need {self.image_channels} value(s) each, one per channel",
            )
            require(all(s > 0 for s in self.pixel_std), f"pixel_std must be positive, got {self.pixel_std}")

    @property
    def downsample_factor(self) -> int:
        return 2 ** len(self.downsample_after)

    @property
    def grid_size(self) -> int:
        """Side of the token grid: a resolution x resolution image becomes grid_size**2 tokens."""
        return self.resolution // self.downsample_factor

    @property
    def num_tokens(self) -> int:
        return self.grid_size**2

    @classmethod
    def preset(cls, name: str) -> TokenizerConfig:
        return lookup_preset("tokenizer", TOKENIZER_PRESETS, name)


LAB_PIXEL_MEAN = (0.4816, 0.4324, 0.3845)  # the lab's training-set statistics (its utils.py Normalize)
LAB_PIXEL_STD = (0.2602, 0.2518, 0.2537)


def lab() -> TokenizerConfig:
    """The lab's VQGAN exactly (its models/VQGAN template): 64x64 RGB -> 16x16 tokens of a 1024-code book
    (dim 256). Down-samples after encoder stages 2 and 4, up-samples after decoder stages 0 and 2 (non-local
    blocks after the three residual blocks at 16x16), no Swish before the decoder's output conv, and images
    normalized by the lab's training statistics (maskgit.convert.lab imports its checkpoints)."""
    return TokenizerConfig(
        downsample_after=(2, 4),
        upsample_after=(0, 2),
        decoder_out_activation=False,
        pixel_mean=LAB_PIXEL_MEAN,
        pixel_std=LAB_PIXEL_STD,
    )


def emoji() -> TokenizerConfig:
    """64x64 RGB -> 16x16 tokens, sized to train on 2 CPU cores (3.3 M parameters)."""
    return TokenizerConfig(
        latent_dim=64,
        codebook_size=512,
        encoder_channels=(32, 64, 64, 128, 128),
        encoder_res_blocks=1,
        downsample_after=(1, 3),
        decoder_channels=(128, 128, 64, 64),
        decoder_res_blocks=1,
        upsample_after=(1, 2),
        attn_resolutions=(),
    )


def grey32() -> TokenizerConfig:
    """32x32 grey (Fashion-MNIST, MNIST) -> 8x8 tokens of a 256-code book, for 2 CPU cores."""
    return TokenizerConfig(
        image_channels=1,
        resolution=32,
        latent_dim=32,
        codebook_size=256,
        encoder_channels=(32, 32, 64, 64),
        encoder_res_blocks=1,
        downsample_after=(0, 2),
        decoder_channels=(64, 64, 32),
        decoder_res_blocks=1,
        upsample_after=(0, 1),
        attn_resolutions=(),
    )


def tiny() -> TokenizerConfig:
    """16x16 RGB -> 4x4 tokens of a 32-code book, with a non-local block: for tests."""
    return TokenizerConfig(
        resolution=16,
        latent_dim=8,
        codebook_size=32,
        encoder_channels=(8, 8, 16),
        encoder_res_blocks=1,
        downsample_after=(0, 1),
        decoder_channels=(16, 8),
        decoder_res_blocks=1,
        upsample_after=(0, 1),
        attn_resolutions=(4,),
    )


TOKENIZER_PRESETS = {"lab": lab, "emoji": emoji, "grey32": grey32, "tiny": tiny}
