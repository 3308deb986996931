"""Dataset names -> ImageSets at a model's resolution and channel count.

Names: `emoji` (or `emoji:STYLE,...`), `fashion-mnist` (or `fashion-mnist:FOLDER`), `folder:PATH`, `lab:PATH`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maskgit.data.emoji import emoji_styles, load_emoji
from maskgit.data.fashion_mnist import load_fashion_mnist
from maskgit.data.folder import image_files, load_folder, load_lab, read_images
from maskgit.data.images import ImageSet, fit_to_square, set_channels
from maskgit.data.masks import benchmark_masks, check_benchmark, read_mask
from maskgit.data.splits import SPLIT_IDS
from maskgit.errors import DataError

DATASETS = {
    "emoji": "Noto Emoji, 64x64 RGB on white; 2,849 train / 190 val / 747 test, split by base emoji; 10 categories",
    "emoji:STYLE[,STYLE]": "emoji in other open styles (google = Noto, twitter = Twemoji), with Noto's split",
    "fashion-mnist[:FOLDER]": "Fashion-MNIST, 28x28 grey; 55,000 / 5,000 / 10,000; 10 classes (Debian or IDX folder)",
    "folder:PATH": "any folder of png/jpg/webp/bmp images (recursive); train/val/test sub-folders, else 85/5/10",
    "lab:PATH": "the seeds' lab layout: cat_face/train, cat_face/val, test ground truth from test_gt.csv",
}


def load_images(
    spec: str, split: str = "train", resolution: int | None = None, channels: int | None = None, strict: bool = False
) -> ImageSet:
    """Load one split of a named dataset, center-cropped and resized to `resolution`, with `channels` channels.

    resolution None keeps the dataset's own size (folders: 64); channels None keeps its own channels.
    """
    if split not in SPLIT_IDS:
        raise DataError(f"unknown split {split!r}: choose train, val or test")
    name, _, argument = spec.partition(":")
    if name == "emoji":
        images = load_emoji(split, emoji_styles(argument))
    elif name == "fashion-mnist":
        images = load_fashion_mnist(split, Path(argument) if argument else None)
    elif name == "folder" and argument:
        images = load_folder(Path(argument), split, resolution or 64, strict)
    elif name == "lab" and argument:
        images = load_lab(Path(argument), split, resolution or 64, strict)
    else:
        raise DataError(f"unknown dataset {spec!r}: choose one of {', '.join(DATASETS)}")
    if resolution is not None and images.resolution != resolution:
        images.images = fit_to_square(images.images, resolution)
    if channels is not None and images.channels != channels:
        images.images = set_channels(images.images, channels)
    return images


def load_inpainting_set(
    spec: str, resolution: int, channels: int = 3, benchmark: str = "strokes"
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
    masks = np.stack([read_mask(p, resolution) for p in mask_paths])
    images = ImageSet(set_channels(pixels, channels), [p.name for p in kept])
    return images, masks
