"""VQGAN tokenizer: images in [-1, 1] <-> a grid of codebook token ids."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from maskgit.batching import in_micro_batches
from maskgit.errors import InputError
from maskgit.tokenizer.config import TokenizerConfig
from maskgit.tokenizer.layers import Downsample, NonLocalBlock, ResidualBlock, Upsample, group_norm
from maskgit.tokenizer.quantizer import VectorQuantizer


@dataclass
class VQGANOutput:
    reconstruction: Tensor  # (B, C, H, W), roughly in [-1, 1]
    tokens: Tensor  # (B, h, w) int64
    quantizer_loss: Tensor  # scalar
    perplexity: Tensor  # scalar


def _output_head(channels: int, out_channels: int, activation: bool = True) -> list[nn.Module]:
    """GroupNorm -> Swish (unless activation=False) -> 3x3 conv."""
    return [group_norm(channels), *([nn.SiLU()] if activation else []), nn.Conv2d(channels, out_channels, 3, padding=1)]


class Encoder(nn.Module):
    """(B, C, H, W) image -> (B, latent_dim, h, w) continuous latents."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        channels = config.encoder_channels
        layers: list[nn.Module] = [nn.Conv2d(config.image_channels, channels[0], 3, padding=1)]
        resolution = config.resolution
        for stage in range(len(channels) - 1):
            c_in = channels[stage]
            for _ in range(config.encoder_res_blocks):
                layers.append(ResidualBlock(c_in, channels[stage + 1]))
                c_in = channels[stage + 1]
                if resolution in config.attn_resolutions:
                    layers.append(NonLocalBlock(c_in))
            if stage in config.downsample_after:
                layers.append(Downsample(c_in))
                resolution //= 2
        c = channels[-1]
        layers += [ResidualBlock(c, c), NonLocalBlock(c), ResidualBlock(c, c)]
        layers += _output_head(c, config.latent_dim)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    """(B, latent_dim, h, w) quantized latents -> (B, C, H, W) image."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        channels = config.decoder_channels
        c_in = channels[0]
        layers: list[nn.Module] = [
            nn.Conv2d(config.latent_dim, c_in, 3, padding=1),
            ResidualBlock(c_in, c_in),
            NonLocalBlock(c_in),
            ResidualBlock(c_in, c_in),
        ]
        resolution = config.grid_size
        for stage, c_out in enumerate(channels):
            for _ in range(config.decoder_res_blocks):
                layers.append(ResidualBlock(c_in, c_out))
                c_in = c_out
                if resolution in config.attn_resolutions:
                    layers.append(NonLocalBlock(c_in))
            if stage in config.upsample_after:
                layers.append(Upsample(c_in))
                resolution *= 2
        layers += _output_head(c_in, config.image_channels, config.decoder_out_activation)
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


def pixel_affine(config: TokenizerConfig) -> tuple[Tensor, Tensor]:
    """(scale, shift), each (1, C, 1, 1), that take [-1, 1] images to the config's normalized space:
    ((x + 1) / 2 - mean) / std = x / (2 std) + (0.5 - mean) / std."""
    c = config.image_channels
    mean = torch.tensor(config.pixel_mean or (0.5,) * c).view(1, c, 1, 1)
    std = torch.tensor(config.pixel_std or (0.5,) * c).view(1, c, 1, 1)
    return 1.0 / (2.0 * std), (0.5 - mean) / std


class VQGAN(nn.Module):
    """Encoder -> 1x1 conv -> vector quantizer -> 1x1 conv -> decoder.

    Images are (B, C, H, W) floats in [-1, 1] with C = image_channels and H = W = resolution;
    tokens are (B, h, w) int64 ids in [0, codebook_size) with h = w = grid_size.
    """

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quant_conv = nn.Conv2d(config.latent_dim, config.latent_dim, 1)
        self.quantizer = VectorQuantizer(
            config.codebook_size, config.latent_dim, config.beta, config.codebook_ema, config.ema_decay
        )
        self.post_quant_conv = nn.Conv2d(config.latent_dim, config.latent_dim, 1)
        self.decoder = Decoder(config)
        # [-1, 1] images -> the network's input space: x * scale + shift (identity without pixel statistics);
        # its output goes back by the inverse. Buffers, not weights: they follow the model's device.
        scale, shift = pixel_affine(config)
        self.register_buffer("pixel_scale", scale, persistent=False)  # (1, C, 1, 1)
        self.register_buffer("pixel_shift", shift, persistent=False)

    def check_images(self, images: Tensor) -> None:
        """Raise InputError unless `images` is (B, image_channels, resolution, resolution) of the weights' dtype."""
        c, r = self.config.image_channels, self.config.resolution
        if images.dim() != 4 or images.shape[1:] != (c, r, r) or not images.is_floating_point():
            raise InputError(
                f"expected float images of shape (B, {c}, {r}, {r}) in [-1, 1], got {tuple(images.shape)} "
                f"{images.dtype}: resize the images to {r}x{r} with {c} channel(s)"
            )
        dtype = self.quant_conv.weight.dtype
        if images.dtype != dtype:
            name = str(dtype).removeprefix("torch.")
            raise InputError(
                f"expected {name} images (the model's weights are {name}), got {images.dtype}: "
                f"convert them with images.to(torch.{name})"
            )

    def check_pixel_values(self, images: Tensor) -> None:
        """Raise InputError unless every value is finite and in [-1, 1]: checked once where images enter the
        API (MaskGIT.tokenize_known), not on every encode."""
        self.check_images(images)
        if images.numel() == 0 or images.device.type == "meta":
            return
        low, high = float(images.min()), float(images.max())
        if not (low >= -1.0 - 1e-3 and high <= 1.0 + 1e-3):  # NaN fails both comparisons
            hint = ": divide 0..255 pixels by 127.5 and subtract 1" if 2 < high < float("inf") else ""
            raise InputError(f"images must hold finite values in [-1, 1], got values in [{low:g}, {high:g}]{hint}")

    def check_tokens(self, tokens: Tensor) -> None:
        g, k = self.config.grid_size, self.config.codebook_size
        if tokens.dim() != 3 or tokens.shape[1:] != (g, g) or tokens.dtype != torch.int64:
            raise InputError(f"expected int64 tokens of shape (B, {g}, {g}), got {tuple(tokens.shape)} {tokens.dtype}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= k):
            raise InputError(f"token ids must lie in [0, {k}); got ids in [{int(tokens.min())}, {int(tokens.max())}]")

    @property
    def encode_path(self) -> tuple[nn.Module, ...]:
        """The parts that map images to token ids; the rest (post_quant_conv, decoder) only draws ids as pixels."""
        return (self.encoder, self.quant_conv, self.quantizer)

    def encode_latents(self, images: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, latent_dim, h, w) latents before quantization."""
        self.check_images(images)
        if self.config.pixel_mean is not None:
            images = images * self.pixel_scale + self.pixel_shift
        return self.quant_conv(self.encoder(images))

    def encode(self, images: Tensor) -> Tensor:
        """(B, C, H, W) images in [-1, 1] -> (B, h, w) int64 token ids."""
        latents = self.encode_latents(images)
        b, d, h, w = latents.shape
        flat = latents.permute(0, 2, 3, 1).reshape(-1, d)
        return self.quantizer.nearest_codes(flat).view(b, h, w)

    def codebook_lookup(self, tokens: Tensor) -> Tensor:
        """(B, h, w) int64 ids -> (B, latent_dim, h, w) code vectors."""
        self.check_tokens(tokens)
        return self.quantizer.lookup(tokens)

    def decode_latents(self, quantized: Tensor) -> Tensor:
        """(B, latent_dim, h, w) code vectors -> (B, C, H, W) images in [-1, 1] space."""
        out = self.decoder(self.post_quant_conv(quantized))
        if self.config.pixel_mean is not None:
            out = (out - self.pixel_shift) / self.pixel_scale
        return out

    def decode(self, tokens: Tensor) -> Tensor:
        """(B, h, w) int64 token ids -> (B, C, H, W) images, roughly in [-1, 1] (not clamped)."""
        return self.decode_latents(self.codebook_lookup(tokens))

    def decode_images(self, tokens: Tensor, micro_batch: int | None = None) -> Tensor:
        """(B, h, w) token ids -> (B, C, H, W) images clamped to [-1, 1], in micro-batches (maskgit.batching)."""
        return in_micro_batches(self.decode, tokens, size=micro_batch).clamp(-1, 1)

    def reconstruct(self, images: Tensor, micro_batch: int | None = None) -> tuple[Tensor, Tensor]:
        """Encode then decode, in micro-batches: the one encode-then-decode loop.

        (B, C, H, W) in [-1, 1] -> (reconstruction (B, C, H, W) clamped to [-1, 1], tokens (B, h, w)).
        """
        tokens = in_micro_batches(self.encode, images, size=micro_batch)
        return self.decode_images(tokens, micro_batch), tokens

    def forward(self, images: Tensor) -> VQGANOutput:
        quant = self.quantizer(self.encode_latents(images))
        return VQGANOutput(
            reconstruction=self.decode_latents(quant.quantized),
            tokens=quant.tokens,
            quantizer_loss=quant.loss,
            perplexity=quant.perplexity,
        )
