"""Inpainting benchmarks: a dataset's test images, fixed masks and ground truth, ready to score.

`emoji` (or any dataset): its test split with a fixed mask set, `strokes` or `large` (maskgit.data.masks).
`lab:PATH`: the lab's masked test images and masks, with the ground truth from test_gt.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskgit.data.folder import image_files, read_images
from maskgit.data.images import ImageSet, set_channels
from maskgit.data.masks import benchmark_masks, check_benchmark, read_masks
from maskgit.data.registry import load_images
from maskgit.errors import DataError, InputError


@dataclass
class Benchmark:
    inputs: np.ndarray  # uint8 (N, H, W, C) what the model gets (missing pixels hidden anyway)
    masks: np.ndarray  # bool (N, H, W), True = missing
    truth: np.ndarray  # uint8 (N, H, W, C) ground truth
    names: list[str]


def load_benchmark(spec: str, resolution: int, channels: int, *, limit: int = 0, masks: str = "strokes") -> Benchmark:
    """A dataset's inpainting benchmark: test images, fixed masks, ground truth (see load_inpainting_set)."""
    inputs, masks = load_inpainting_set(spec, resolution, channels, benchmark=masks)
    truth = inputs.images if not spec.startswith("lab:") else load_images(spec, "test", resolution, channels).images
    if len(truth) != len(inputs):
        raise InputError(f"{spec}: {len(inputs)} masked test images but {len(truth)} ground-truth images")
    n = min(limit, len(inputs)) if limit else len(inputs)
    return Benchmark(inputs.images[:n], masks[:n], truth[:n], inputs.names[:n])


def load_inpainting_set(
    spec: str, resolution: int, channels: int = 3, *, benchmark: str = "strokes"
) -> tuple[ImageSet, np.ndarray]:
    """Test images and their masks (bool (N, H, W), True = missing) for an inpainting benchmark.

    `lab:PATH`: the lab's masked test images (cat_face/masked_image) and mask64/ masks, paired by sorted
    file name (the lab's own masks: `benchmark` must be "strokes"). Any other dataset: its test split with
    the fixed `benchmark` masks ("strokes" or "large", maskgit.data.masks.BENCHMARKS).
    """
    name, _, argument = spec.partition(":")
    check_benchmark(benchmark)
    if name != "lab":
        images = load_images(spec, "test", resolution, channels)
        return images, benchmark_masks(len(images), resolution, benchmark)
    if benchmark != "strokes":
        raise DataError(f"{spec} brings its own masks (mask64/): drop --masks {benchmark}, or score another dataset")
    root = Path(argument)
    image_paths = image_files(root / "cat_face" / "masked_image")
    mask_paths = image_files(root / "mask64")
    if len(image_paths) != len(mask_paths):
        raise DataError(
            f"{root}: {len(image_paths)} masked images but {len(mask_paths)} masks: they pair by sorted file name"
        )
    if not image_paths:
        raise DataError(f"{root}: no masked images in cat_face/masked_image")
    pixels, kept = read_images(image_paths, resolution, strict=True)
    masks, _ = read_masks(mask_paths, resolution)
    images = ImageSet(set_channels(pixels, channels), [p.name for p in kept])
    return images, masks
