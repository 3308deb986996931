"""A fixed, low-discrepancy order over the token grid (Halton-MaskGIT's alternative to confidence ordering).

The 2D Halton sequence (van der Corput radical inverses in bases 2 and 3) spreads points evenly over the unit
square; mapping each point to the grid cell it falls in, and keeping each cell the first time it is hit, orders
the cells so that every prefix of the order covers the grid about evenly. Decoding with `order="halton"` fixes
the masked tokens in this order (the schedule still says how many per step), so tokens decoded at the same step
lie far apart and depend little on each other.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor


def radical_inverse(index: int, base: int) -> float:
    """The van der Corput radical inverse of `index` in `base`: its digits mirrored about the point."""
    result, scale = 0.0, 1.0 / base
    while index > 0:
        index, digit = divmod(index, base)
        result += digit * scale
        scale /= base
    return result


@cache
def halton_rank(grid_size: int) -> tuple[int, ...]:
    """rank[p]: the place of row-major grid position p in the Halton order (0 comes first)."""
    cells = grid_size * grid_size
    order: dict[int, None] = {}
    index = 1
    while len(order) < cells:
        x, y = radical_inverse(index, 2), radical_inverse(index, 3)
        order.setdefault(int(y * grid_size) * grid_size + int(x * grid_size), None)
        index += 1
    rank = [0] * cells
    for place, position in enumerate(order):
        rank[position] = place
    return tuple(rank)


def halton_priority(num_tokens: int, device: torch.device) -> Tensor:
    """(N,) float32 priority of each position for decoding: higher = fixed earlier (minus the Halton rank)."""
    grid = round(num_tokens**0.5)
    if grid * grid != num_tokens:
        raise ValueError(f"Halton ordering needs a square token grid, got {num_tokens} tokens")
    return -torch.tensor(halton_rank(grid), dtype=torch.float32, device=device)
