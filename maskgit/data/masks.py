"""Pixel masks for inpainting benchmarks: free-form strokes (like the lab's), boxes, and outpainting.

Every generator is deterministic from its seed (numpy's PCG64 stream, the same on every machine).
Masks are bool (N, H, W) with True = missing; as PNG files they are white = known, black = missing,
the lab's convention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from maskgit.data.images import read_each, read_image, save_png
from maskgit.errors import DataError, InputError

MASK_KINDS = ("strokes", "boxes", "outpaint", "large")
BENCHMARK_SEED = 2024  # every fixed benchmark mask set: its kind, this seed, one mask per test image
BENCHMARKS = {  # benchmark name -> mask kind; the README and MODEL_CARD report both
    "strokes": "strokes",  # thin free-form holes (the lab's kind of mask): classical inpainting does well
    "large": "large",  # big boxes and missing sides: what a generative model is for
}


def stroke_mask(rng: np.random.Generator, resolution: int) -> np.ndarray:
    """1-3 thick free-form brush strokes: about 20% of the image on average (2-48% seen over 200 masks)."""
    canvas = Image.new("L", (resolution, resolution), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(1, 4)):
        x, y = rng.uniform(0, resolution, size=2)
        width = int(rng.integers(resolution // 10, resolution // 5 + 1))
        points = [(x, y)]
        for _ in range(rng.integers(3, 7)):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(resolution / 8, resolution / 3)
            x = float(np.clip(x + length * np.cos(angle), 0, resolution - 1))
            y = float(np.clip(y + length * np.sin(angle), 0, resolution - 1))
            points.append((x, y))
        draw.line(points, fill=255, width=width, joint="curve")
        for px, py in points:  # round caps
            draw.ellipse([px - width / 2, py - width / 2, px + width / 2, py + width / 2], fill=255)
    return np.asarray(canvas) > 127


def box_mask(rng: np.random.Generator, resolution: int) -> np.ndarray:
    """One axis-aligned rectangle, each side 25-60% of the image."""
    h, w = rng.integers(resolution // 4, int(resolution * 0.6) + 1, size=2)
    top, left = rng.integers(0, resolution - h + 1), rng.integers(0, resolution - w + 1)
    mask = np.zeros((resolution, resolution), dtype=bool)
    mask[top : top + h, left : left + w] = True
    return mask


SIDES = ("top", "bottom", "left", "right")


def side_mask(resolution: int, side: str, depth: int) -> np.ndarray:
    """One side of the image missing to `depth` pixels (outpainting)."""
    if side not in SIDES or not 1 <= depth <= resolution:
        raise DataError(f"an outpainting mask needs a side ({', '.join(SIDES)}) and a depth in 1..{resolution}")
    mask = np.zeros((resolution, resolution), dtype=bool)
    view = mask if side in ("top", "bottom") else mask.T
    if side in ("top", "left"):
        view[:depth] = True
    else:
        view[-depth:] = True
    return mask


def outpaint_mask(rng: np.random.Generator, resolution: int) -> np.ndarray:
    """One side missing (25-50% of the image), or a border of 1/8 of the side all round."""
    side = int(rng.integers(0, 5))
    if side == 4:
        border = resolution // 8
        mask = np.ones((resolution, resolution), dtype=bool)
        mask[border:-border, border:-border] = False
        return mask
    return side_mask(resolution, SIDES[side], int(rng.integers(resolution // 4, resolution // 2 + 1)))


def large_mask(rng: np.random.Generator, resolution: int) -> np.ndarray:
    """A large hole: half of the masks are one box covering 25-50% of the image (aspect ratio 1:2 to 2:1),
    half are one whole side missing to a depth of 25-50% (outpainting)."""
    mask = np.zeros((resolution, resolution), dtype=bool)
    area = rng.uniform(0.25, 0.5) * resolution * resolution
    if rng.integers(0, 2) == 0:
        aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # width / height
        h = int(np.clip(round(np.sqrt(area / aspect)), 1, resolution))
        w = int(np.clip(round(area / h), 1, resolution))
        top, left = rng.integers(0, resolution - h + 1), rng.integers(0, resolution - w + 1)
        mask[top : top + h, left : left + w] = True
        return mask
    depth = round(area / resolution)
    return side_mask(resolution, SIDES[int(rng.integers(0, 4))], depth)


GENERATORS = {"strokes": stroke_mask, "boxes": box_mask, "outpaint": outpaint_mask, "large": large_mask}


def make_masks(kind: str, count: int, resolution: int, *, seed: int = 0) -> np.ndarray:
    """(count, resolution, resolution) bool masks of one kind, True = missing."""
    if kind not in GENERATORS:
        raise DataError(f"unknown mask kind {kind!r}: choose one of {', '.join(MASK_KINDS)}")
    if count < 1 or resolution < 8:
        raise DataError(f"need at least 1 mask of at least 8x8 pixels, got {count} of {resolution}x{resolution}")
    rng = np.random.Generator(np.random.PCG64(seed))
    return np.stack([GENERATORS[kind](rng, resolution) for _ in range(count)])


def check_benchmark(name: str) -> str:
    if name not in BENCHMARKS:
        raise DataError(f"unknown benchmark masks {name!r}: choose one of {', '.join(BENCHMARKS)}")
    return name


def benchmark_masks(count: int, resolution: int, benchmark: str = "strokes") -> np.ndarray:
    """A fixed benchmark mask set (`strokes` or `large`) from BENCHMARK_SEED; fewer masks are a prefix of more."""
    return make_masks(BENCHMARKS[check_benchmark(benchmark)], count, resolution, seed=BENCHMARK_SEED)


def write_masks(masks: np.ndarray, folder: Path) -> list[Path]:
    """Save masks as mask_000.png ... (white = known, black = missing)."""
    paths = []
    for i, mask in enumerate(masks):
        path = Path(folder) / f"mask_{i:03d}.png"
        save_png(np.where(mask, 0, 255).astype(np.uint8)[..., None], path)
        paths.append(path)
    return paths


def read_mask(path: Path, resolution: int | None = None) -> np.ndarray:
    """A mask image as bool (H, W), True = missing: dark pixels (< 128 in luma) are missing. Every image mode
    is read by its bit depth (read_image), so a 16-bit mask is not all known."""
    grey = np.asarray(Image.fromarray(read_image(path)).convert("L"))
    if resolution is not None and grey.shape != (resolution, resolution):
        raise InputError(f"mask {path} is {grey.shape[1]}x{grey.shape[0]}, expected {resolution}x{resolution}")
    return grey < 128


def read_masks(paths: list[Path], resolution: int | None = None, strict: bool = True) -> tuple[np.ndarray, list[int]]:
    """Masks (N, H, W) bool and the indices of the files read. Unreadable files follow read_each's rule; the
    default refuses them, since masks pair with images by position."""
    masks: list[np.ndarray] = []
    kept = read_each(paths, lambda p: masks.append(read_mask(p, resolution)), strict, "mask")
    return np.stack(masks), kept
