"""From a pixel mask to a token mask, and compositing decoded pixels back into the input."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from maskgit.errors import InputError


def as_pixel_mask(pixel_mask: Tensor, images: Tensor | None = None) -> Tensor:
    """Normalise a pixel mask to (B, 1, H, W) bool (True = missing), checking it against `images`."""
    if not isinstance(pixel_mask, Tensor) or pixel_mask.dtype != torch.bool:
        kind = pixel_mask.dtype if isinstance(pixel_mask, Tensor) else type(pixel_mask).__name__
        raise InputError(
            f"pixel_mask must be a bool tensor (True = missing), got {kind}: for a mask image that is white where "
            "known, pass mask < 128"
        )
    if pixel_mask.dim() == 3:
        pixel_mask = pixel_mask[:, None]
    if pixel_mask.dim() != 4 or pixel_mask.shape[1] != 1:
        raise InputError(f"pixel_mask must be (B, H, W) or (B, 1, H, W), got {tuple(pixel_mask.shape)}")
    if images is not None and (pixel_mask.shape[0] != images.shape[0] or pixel_mask.shape[2:] != images.shape[2:]):
        raise InputError(
            f"pixel_mask {tuple(pixel_mask.shape)} does not match images {tuple(images.shape)}: "
            "give one mask of the images' height and width per image"
        )
    return pixel_mask


def pixel_mask_to_token_mask(pixel_mask: Tensor, grid_size: int, coverage_threshold: float = 0.0) -> Tensor:
    """Which tokens are unknown, given which pixels are missing.

    Each token covers a (H / grid_size) x (W / grid_size) patch. A token is unknown when the fraction of
    its patch's pixels that are missing exceeds `coverage_threshold`; the default 0.0 marks a token
    unknown if any pixel of its patch is missing (the seeds' rule).

    Args:
        pixel_mask: (B, H, W) or (B, 1, H, W) bool, True where the pixel is missing.
        grid_size: side of the token grid.
        coverage_threshold: in [0, 1).
    Returns:
        (B, grid_size * grid_size) bool token mask, row-major like the tokenizer's token grid.
    """
    if not 0.0 <= coverage_threshold < 1.0:
        raise InputError(f"coverage_threshold must be in [0, 1), got {coverage_threshold}")
    return (missing_share(pixel_mask, grid_size) > coverage_threshold).flatten(1)


def missing_share(pixel_mask: Tensor, grid_size: int) -> Tensor:
    """(B, 1, g, g) float: the share of each token's patch that is missing."""
    mask = as_pixel_mask(pixel_mask)
    height, width = mask.shape[2:]
    if height % grid_size or width % grid_size:
        raise InputError(f"a {height}x{width} mask does not split into a {grid_size}x{grid_size} token grid")
    return F.avg_pool2d(mask.float(), kernel_size=(height // grid_size, width // grid_size))


def fill_depth(pixel_mask: Tensor, grid_size: int, levels: int) -> Tensor:
    """How far each token lies from the known pixels, in tokens: how much a classical fill there can be trusted.

    0: the token's patch is wholly known; 1: it has known and missing pixels; d >= 2: its patch is wholly missing
    and the nearest patch with a known pixel is d - 1 tokens away (Chebyshev distance on the token grid); depths
    beyond levels - 1 read levels - 1 (deep inside a big hole the fill is a smear whatever the depth).

    pixel_mask: (B, H, W) or (B, 1, H, W) bool, True = missing. Returns (B, grid_size**2) int64 in [0, levels).
    """
    if levels < 3:
        raise InputError(f"fill_depth needs at least 3 levels (known, partly, wholly missing), got {levels}")
    coverage = missing_share(pixel_mask, grid_size)  # (B, 1, g, g)
    depth = (coverage > 0).long() + (coverage >= 1).long()  # 0 known, 1 partly missing, 2 wholly missing
    reach = coverage < 1  # patches with a known pixel
    for _ in range(3, levels):
        grown = F.max_pool2d(reach.float(), kernel_size=3, stride=1, padding=1) > 0  # one token further out
        depth = depth + (~grown).long()
        reach = grown
    return depth.flatten(1)


def grow_token_mask(token_mask: Tensor, rings: int) -> Tensor:
    """(B, N) bool token mask, N = g * g, grown by `rings` rings of neighbours (8-connected) on the token grid."""
    if rings == 0:
        return token_mask
    grid = math.isqrt(token_mask.shape[1])
    if grid * grid != token_mask.shape[1]:
        raise InputError(f"a token mask of {token_mask.shape[1]} tokens is no square grid to grow on")
    grown = F.max_pool2d(token_mask.view(-1, 1, grid, grid).float(), 2 * rings + 1, stride=1, padding=rings)
    return grown.flatten(1) > 0


def blurred(pixel_mask: Tensor, sigma: float) -> Tensor:
    """(B, 1, H, W) float in [0, 1]: 1 at missing pixels, falling off with a Gaussian of `sigma` pixels outside."""
    mask = pixel_mask.float()
    if sigma == 0:
        return mask
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=mask.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    soft = F.pad(mask, (radius, radius, radius, radius), mode="replicate")
    soft = F.conv2d(soft, kernel.view(1, 1, 1, -1))  # along W
    soft = F.conv2d(soft, kernel.view(1, 1, -1, 1))  # along H
    return torch.maximum(mask, soft)


def composite(decoded: Tensor, images: Tensor, pixel_mask: Tensor, blend: float = 0.0) -> Tensor:
    """Known pixels from `images`, missing ones from `decoded`; with blend > 0 (a blur sigma in pixels), known
    pixels near a hole mix in the decoded ones (blurred). All (B, C, H, W); mask (B, 1, H, W) bool."""
    if blend == 0:
        return decoded.where(pixel_mask, images)
    weight = blurred(pixel_mask, blend).to(decoded.dtype)  # (B, 1, H, W)
    return weight * decoded + (1 - weight) * images
