"""MaskGIT: a tokenizer and a transformer together, with inpainting and generation for batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from maskgit.batching import in_micro_batches
from maskgit.classes import ClassVocabulary
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.fill import DEFAULT_FILL, fill_missing
from maskgit.decoding.parallel_decode import DecodeStep, Generators, decode_tokens
from maskgit.decoding.token_mask import as_pixel_mask, composite, fill_depth, pixel_mask_to_token_mask
from maskgit.errors import ConfigError, InputError
from maskgit.tokenizer.config import TokenizerConfig
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.transformer.config import FILL_DEPTHS, TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer


@dataclass
class InpaintResult:
    images: Tensor  # (B, C, H, W) in [-1, 1]: composited (known pixels from the input) unless composite=False
    reconstruction: Tensor  # (B, C, H, W) in [-1, 1]: the decoder's whole image, as the seeds save it
    tokens: Tensor  # (B, h, w) int64 decoded token ids
    token_mask: Tensor  # (B, h, w) bool: the tokens that were unknown at the start
    remaining_mask: Tensor  # (B, h, w) bool: still masked at the sweet spot (all False when S = T)
    trace: list[DecodeStep] = field(default_factory=list)


@dataclass
class GenerateResult:
    images: Tensor  # (B, C, H, W) in [-1, 1]
    tokens: Tensor  # (B, h, w) int64
    trace: list[DecodeStep] = field(default_factory=list)


class MaskGIT(nn.Module):
    """The pair of models, checked to fit each other (same codebook size, grid and token count)."""

    def __init__(
        self, tokenizer: VQGAN, transformer: BidirectionalTransformer, classes: ClassVocabulary | None = None
    ) -> None:
        super().__init__()
        t, b = tokenizer.config, transformer.config
        if t.codebook_size != b.codebook_size or t.num_tokens != b.num_tokens:
            raise ConfigError(
                f"tokenizer ({t.codebook_size} codes, {t.num_tokens} tokens) and transformer "
                f"({b.codebook_size} codes, {b.num_tokens} tokens) do not fit: build the transformer with "
                "the tokenizer's codebook_size and num_tokens"
            )
        self.tokenizer = tokenizer
        self.transformer = transformer
        if classes is not None and len(classes) != b.num_classes:
            raise ConfigError(f"{len(classes)} class names for a transformer with {b.num_classes} classes")
        # what a class-conditional transformer's class ids mean (numbered where unnamed; None: unconditional)
        self.classes = classes or ClassVocabulary.from_extra({}, b.num_classes)

    @classmethod
    def from_configs(cls, tokenizer: TokenizerConfig, transformer: TransformerConfig) -> MaskGIT:
        return cls(VQGAN(tokenizer), BidirectionalTransformer(transformer))

    @classmethod
    def from_preset(cls, name: str, transformer: str | None = None) -> MaskGIT:
        """Randomly initialised models of the named presets (the transformer preset defaults to `name`)."""
        return cls.from_configs(TokenizerConfig.preset(name), TransformerConfig.preset(transformer or name))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> MaskGIT:
        """Load a checkpoint that holds both models (see maskgit.checkpoint)."""
        from maskgit.checkpoint import load_checkpoint

        loaded = load_checkpoint(path, device=device)
        if loaded.tokenizer is None or loaded.transformer is None:
            raise InputError(
                f"{path} holds only {', '.join(loaded.models)}: inpainting needs a tokenizer and a transformer"
            )
        classes = ClassVocabulary.from_extra(loaded.metadata.get("extra", {}), loaded.transformer.config.num_classes)
        return cls(loaded.tokenizer, loaded.transformer, classes).eval()

    def save(self, path: str | Path, dtype: torch.dtype | None = None) -> None:
        from maskgit.checkpoint import save_checkpoint

        extra = self.classes.to_extra() if self.classes else {}
        save_checkpoint(path, tokenizer=self.tokenizer, transformer=self.transformer, extra=extra, dtype=dtype)

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @torch.no_grad()
    def inpaint(
        self,
        images: Tensor,
        pixel_mask: Tensor,
        config: DecodeConfig = DecodeConfig(),
        *,
        generator: Generators = None,
        fill: str = DEFAULT_FILL,
        coverage_threshold: float = 0.0,
        composite_known: bool = True,
        return_trace: bool = False,
        precision: str = "auto",
        micro_batch: int | None = None,
    ) -> InpaintResult:
        """Fill the missing pixels of a batch of images.

        The images are tokenized once, with missing pixels filled from the known ones (`fill`, see
        maskgit.decoding.fill); a token is unknown if its patch has missing pixels (beyond
        `coverage_threshold`, see pixel_mask_to_token_mask); the unknown tokens are decoded iteratively
        (decode_tokens) and the tokens decoded back to pixels.

        Args:
            images: (B, C, H, W) in [-1, 1] at the tokenizer's resolution; missing pixels may hold anything
                (they are never seen).
            pixel_mask: (B, H, W) or (B, 1, H, W) bool, True where a pixel is missing.
            config: decoding options (steps, sweet spot, schedule, temperature, confidence rule).
            generator: a torch.Generator or one per image (see per_image_generators).
            fill: what the tokenizer sees in place of missing pixels: "telea" (default), "navier-stokes"
                or "grey" (the seeds').
            composite_known: take known pixels from `images` in the result (else the decoder's output).
            return_trace: keep each step's mask, predictions and confidences.
            precision: "auto" (default; bf16 autocast where the hardware does bf16 natively, else fp32),
                "fp32" or "bf16" for the transformer: the default of `maskgit inpaint --precision` too.
            micro_batch: images per forward pass (None: the device's default, see maskgit.batching).
        """
        tokens, token_mask = self.tokenize_known(
            images, pixel_mask, fill=fill, coverage_threshold=coverage_threshold, micro_batch=micro_batch
        )  # (B, N) each; checks the images and the mask
        mask = as_pixel_mask(pixel_mask, images).to(images.device)  # (B, 1, H, W)
        result = decode_tokens(
            self.transformer,
            tokens,
            token_mask,
            config,
            generator=generator,
            hint=self.fill_hint(tokens, mask),
            return_trace=return_trace,
            precision=precision,
            micro_batch=micro_batch,
        )
        grid = self.tokenizer.config.grid_size
        shape = (images.shape[0], grid, grid)
        composited, decoded = self.render(result.tokens, images, mask, blend=config.blend, micro_batch=micro_batch)
        return InpaintResult(
            images=composited if composite_known else decoded,
            reconstruction=decoded,
            tokens=result.tokens.view(shape),
            token_mask=token_mask.view(shape),
            remaining_mask=result.token_mask.view(shape),
            trace=result.trace,
        )

    def sample_classes(self, seeds: Sequence[int], class_id: int | str | None = None) -> Tensor | None:
        """(len(seeds),) int64 class ids for samples seeded `seeds`: `class_id` (an id or a class name) for all, or,
        for a class-conditional model without one, each drawn in proportion to the training classes with the
        sample's seed. None for an unconditional model (where a class is an InputError)."""
        if self.classes is None:
            if class_id is not None:
                raise InputError("this model is unconditional: it has no classes to pick")
            return None
        if class_id is None:
            return self.classes.draw(seeds).to(self.device)
        return torch.full((len(seeds),), self.classes.class_id(class_id), device=self.device)

    @torch.no_grad()
    def generate(
        self,
        num_images: int,
        config: DecodeConfig = DecodeConfig(),
        *,
        class_ids: Tensor | None = None,
        generator: Generators = None,
        return_trace: bool = False,
        precision: str = "auto",
        micro_batch: int | None = None,
    ) -> GenerateResult:
        """Sample images from scratch: every token starts masked. Class-conditional when class_ids is given."""
        if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
            raise InputError(f"num_images must be a whole number of at least 1, got {num_images!r}")
        n = self.transformer.config.num_tokens
        tokens = torch.zeros(num_images, n, dtype=torch.int64, device=self.device)
        token_mask = torch.ones(num_images, n, dtype=torch.bool, device=self.device)
        result = decode_tokens(
            self.transformer,
            tokens,
            token_mask,
            config,
            generator=generator,
            class_ids=class_ids,
            return_trace=return_trace,
            precision=precision,
            micro_batch=micro_batch,
        )
        grid = self.tokenizer.config.grid_size
        tokens = result.tokens.view(num_images, grid, grid)
        images = self.decode_tokens_to_images(tokens, micro_batch)
        return GenerateResult(images=images, tokens=tokens, trace=result.trace)

    # ---- the inpainting path: tokenize_known -> decode_tokens -> render ---------------------------------------

    @torch.no_grad()
    def tokenize_known(
        self,
        images: Tensor,
        pixel_mask: Tensor,
        *,
        fill: str = DEFAULT_FILL,
        coverage_threshold: float = 0.0,
        micro_batch: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Tokenize the known part of each image: (tokens (B, N) int64, token_mask (B, N) bool, True = unknown).

        Missing pixels are filled from the known ones first (fill_missing), so no token sees their values; a
        token is unknown if its patch has missing pixels beyond `coverage_threshold` (pixel_mask_to_token_mask).
        images: (B, C, H, W) in [-1, 1]; pixel_mask: (B, H, W) or (B, 1, H, W) bool, True = missing.
        """
        self.tokenizer.check_pixel_values(images)
        mask = as_pixel_mask(pixel_mask, images).to(images.device)
        tokens = in_micro_batches(self.tokenizer.encode, fill_missing(images, mask, fill), size=micro_batch).flatten(1)
        return tokens, pixel_mask_to_token_mask(mask, self.tokenizer.config.grid_size, coverage_threshold)

    def fill_hint(self, tokens: Tensor, pixel_mask: Tensor) -> Tensor | None:
        """What the transformer reads at masked positions besides the mask token, if it was trained to (fill_hint):
        (B, N, 2) int64, the tokens of the filled image (tokenize_known's) and each token's depth in the hole
        (fill_depth). None for a transformer without it. pixel_mask: (B, H, W) or (B, 1, H, W) bool."""
        if not self.transformer.config.fill_hint:
            return None
        depth = fill_depth(pixel_mask.to(tokens.device), self.tokenizer.config.grid_size, FILL_DEPTHS)  # (B, N)
        return torch.stack([tokens, depth], dim=-1)

    @torch.no_grad()
    def render(
        self,
        tokens: Tensor,
        images: Tensor,
        pixel_mask: Tensor,
        *,
        blend: float = DecodeConfig.blend,
        micro_batch: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Decoded tokens back to pixels: (composited, decoded), both (B, C, H, W) in [-1, 1].

        decoded is the VQ decoder's whole image; composited takes the known pixels from `images` and the
        missing ones from decoded (blend > 0: through the mask blurred, see DecodeConfig). tokens: (B, N) or
        (B, h, w); pixel_mask as in tokenize_known.
        """
        decoded = self.decode_tokens_to_images(tokens, micro_batch)
        mask = as_pixel_mask(pixel_mask, images).to(decoded.device)
        return composite(decoded, images, mask, blend), decoded

    @torch.no_grad()
    def trace_images(self, trace: list[DecodeStep], index: int) -> Tensor:
        """Image `index` of a decode after each traced step (its predicted tokens decoded): (S, C, H, W) in [-1, 1]."""
        return self.decode_tokens_to_images(torch.stack([step.predicted[index] for step in trace]))

    @torch.no_grad()
    def decode_tokens_to_images(self, tokens: Tensor, micro_batch: int | None = None) -> Tensor:
        """(B, N) or (B, h, w) token ids -> (B, C, H, W) images clamped to [-1, 1], in micro-batches."""
        grid = self.tokenizer.config.grid_size
        return self.tokenizer.decode_images(tokens.reshape(-1, grid, grid).to(self.device), micro_batch)
