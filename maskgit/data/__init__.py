"""Datasets (emoji, Fashion-MNIST, folders, the lab layout) and inpainting mask generators."""

from maskgit.data.benchmarks import Benchmark, load_benchmark, load_inpainting_set
from maskgit.data.emoji import fetch_emoji, load_emoji
from maskgit.data.images import ImageSet, image_grid, save_png, to_tensor, to_uint8
from maskgit.data.masks import MASK_KINDS, benchmark_masks, make_masks, read_mask, write_masks
from maskgit.data.registry import DATASETS, load_images

__all__ = [
    "DATASETS",
    "MASK_KINDS",
    "Benchmark",
    "ImageSet",
    "benchmark_masks",
    "fetch_emoji",
    "image_grid",
    "load_benchmark",
    "load_emoji",
    "load_images",
    "load_inpainting_set",
    "make_masks",
    "read_mask",
    "save_png",
    "to_tensor",
    "to_uint8",
    "write_masks",
]
