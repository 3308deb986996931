"""Inputs of the test that pins how a model without the new inputs decodes: the first shipped model, kept as
legs/emoji-v1.safetensors when a class-conditional model with the fill hint replaced it (tests/data/shipped_decode.json
was written by `python -m tests.pinned` before the transformer took any new input): synthetic images, so no dataset
is needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from maskgit import MaskGIT
from maskgit.data.masks import benchmark_masks
from maskgit.decoding.config import DecodeConfig

PINNED = Path(__file__).parent / "data" / "shipped_decode.json"
PINNED_MODEL = Path(__file__).parents[1] / "legs" / "emoji-v1.safetensors"  # unconditional, no fill hint
# every option spelled out, so that the pin holds whatever the defaults become
CONFIG = DecodeConfig(
    total_steps=6,
    schedule="square",
    choice_temperature=4.5,
    confidence="greedy",
    order="confidence",
    refine_steps=0,
    grow=0,
    blend=0.0,
)


def pinned_images(count: int = 4, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """count emoji-like pictures (a coloured disc with two eyes on white) in [-1, 1] and the strokes masks."""
    y, x = np.mgrid[:size, :size] / size
    images = np.ones((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        disc = (x - 0.5) ** 2 + (y - 0.5) ** 2 < (0.3 + 0.03 * i) ** 2
        eyes = ((x - 0.38) ** 2 + (y - 0.42) ** 2 < 0.003) | ((x - 0.62) ** 2 + (y - 0.42) ** 2 < 0.003)
        colour = np.array([1.0, 0.8 - 0.2 * i, 0.1 + 0.25 * i], dtype=np.float32)
        images[i][:, disc] = colour[:, None]
        images[i][:, eyes] = 0.1
    masks = torch.from_numpy(benchmark_masks(count, size))
    return torch.from_numpy(images) * 2 - 1, masks


def pinned_decode() -> dict[str, list]:
    model = MaskGIT.load(PINNED_MODEL).eval()
    images, masks = pinned_images()
    generator = torch.Generator().manual_seed(0)
    result = model.inpaint(images, masks, CONFIG, generator=generator, precision="fp32")
    logits = model.transformer(result.tokens.flatten(1)[:1])[0, :4, :8]  # a corner of the logits
    return {"tokens": result.tokens.flatten(1).tolist(), "logits": logits.tolist()}


if __name__ == "__main__":
    with torch.no_grad():
        PINNED.write_text(json.dumps(pinned_decode()) + "\n")
