"""Running a big batch as micro-batches: same results, cache-sized work.

On a CPU, per-image cost is lowest at about 8 images a forward pass (measured on 2 cores: transformer
16.5 ms/image at 8 vs 21.5 at 1 and about 22 at 64; the tokenizer likewise), because larger
activations fall out of cache. On a GPU, bigger is better, so there the whole batch runs at once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

CPU_MICRO_BATCH = 8


def default_micro_batch(device: torch.device) -> int | None:
    """The micro-batch size used when none is given: CPU_MICRO_BATCH on a CPU, the whole batch elsewhere."""
    return CPU_MICRO_BATCH if device.type == "cpu" else None


def in_micro_batches(fn: Callable[..., Tensor], *inputs: Tensor | None, size: int | None) -> Tensor:
    """fn(*inputs) computed on slices of `size` rows along dim 0 and concatenated (None inputs pass through).

    size None picks default_micro_batch for the inputs' device; a size >= the batch (or a GPU's default)
    runs fn once on the whole batch.
    """
    first = next(t for t in inputs if t is not None)
    batch = first.shape[0]
    size = size or default_micro_batch(first.device)
    if size is None or size >= batch:
        return fn(*inputs)
    if size < 1:
        raise ValueError(f"micro-batch size must be at least 1, got {size}")
    return torch.cat([fn(*(t[i : i + size] if t is not None else None for t in inputs)) for i in range(0, batch, size)])
