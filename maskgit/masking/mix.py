"""What training masks look like: MaskGIT's uniform masks, mixed with token masks shaped like inpainting's holes.

MaskGIT trains on masks uniform over positions with ratios from the schedule; inpainting asks for contiguous holes
(the strokes benchmark masks about 28% of the tokens, the large one 42%). A training config's `mask_mix` gives
the share of samples of each kind (ICT and PUT train their token inpainters on such masks; generation still needs
the uniform part):

- "uniform": maskgit.masking.mvtm.mask_tokens (ratio r ~ U(0, 1) through the schedule, positions uniform);
- "strokes", "boxes", "outpaint", "large": a pixel mask from the generators of maskgit.data.masks, drawn from
  the step's own random stream (never the fixed benchmark sets' seed); the trainer fills the hole and tokenizes
  the image as decoding does (MaskGIT.tokenize_known: a token is unknown if any pixel of its patch is missing,
  the known tokens are those of the filled image), so it trains on exactly the inputs inpainting will see.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from maskgit.data.masks import BENCHMARK_SEED, GENERATORS
from maskgit.errors import ConfigError

MASK_KINDS = ("uniform", *GENERATORS)


def check_mask_mix(mix: dict[str, float]) -> None:
    """A ConfigError unless `mix` maps mask kinds to shares >= 0 that add up to more than 0."""
    unknown = sorted(set(mix) - set(MASK_KINDS))
    if unknown:
        raise ConfigError(f"mask_mix: unknown mask kind(s) {', '.join(unknown)}: choose from {', '.join(MASK_KINDS)}")
    shares = list(mix.values())
    if not shares or any(not isinstance(s, int | float) or isinstance(s, bool) or s < 0 for s in shares):
        raise ConfigError(f"mask_mix: shares must be numbers >= 0, got {mix}")
    if sum(shares) <= 0:
        raise ConfigError(f"mask_mix: the shares must add up to more than 0, got {mix}")


def is_uniform_only(mix: dict[str, float]) -> bool:
    """Whether every sample gets MaskGIT's uniform masks (then training draws exactly what it always drew)."""
    return all(share == 0 or kind == "uniform" for kind, share in mix.items())


def draw_kinds(mix: dict[str, float], batch: int, generator: torch.Generator | None = None) -> list[str]:
    """A mask kind per sample, in the proportions of `mix`."""
    kinds = [k for k in MASK_KINDS if mix.get(k, 0) > 0]
    weights = torch.tensor([float(mix[k]) for k in kinds], dtype=torch.float64)
    picks = torch.multinomial(weights, batch, replacement=True, generator=generator)
    return [kinds[i] for i in picks.tolist()]


def shaped_pixel_masks(kinds: list[str], resolution: int, seed: int) -> Tensor:
    """(B, resolution, resolution) bool, True = missing: a hole of each kind ("uniform" rows hold none: their
    masks are drawn on tokens, by mask_tokens). Decoding's rule (pixel_mask_to_token_mask) makes the token masks.

    seed: the step's own seed for the hole generators (the fixed benchmark seed is never used).
    """
    rng = np.random.Generator(np.random.PCG64(seed + 1 if seed == BENCHMARK_SEED else seed))
    pixels = np.zeros((len(kinds), resolution, resolution), dtype=bool)
    for row, kind in enumerate(kinds):
        if kind != "uniform":
            pixels[row] = GENERATORS[kind](rng, resolution)
    return torch.from_numpy(pixels)
