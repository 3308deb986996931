"""Any folder of images (searched recursively), and the seeds' lab layout."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from maskgit.data.images import ImageSet, fit_to_square, read_each, read_image
from maskgit.data.splits import SPLIT_IDS, split_by_group
from maskgit.errors import DataError, InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
TEST_FRACTION, VAL_FRACTION = 0.10, 0.05


def image_files(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_images(paths: list[Path], resolution: int, strict: bool = False) -> tuple[np.ndarray, list[Path]]:
    """Read, crop and resize image files; unreadable ones are skipped with one warning (or a DataError if strict)."""
    images: list[np.ndarray] = []
    kept = read_each(paths, lambda p: images.append(fit_to_square(read_image(p)[None], resolution)[0]), strict, "image")
    return np.stack(images), [paths[i] for i in kept]


def read_folder(
    root: Path, resolution: int | None = None, *, names: list[str] | None = None, strict: bool = False
) -> ImageSet:
    """Every image under `root` (sorted by path), or the files `names` (relative to root) in that order, at
    their own size, which must be `resolution` (default: the first image's) for all; transparency is
    composited on white. Nothing is resized or cropped. Unreadable files: skipped with a warning, or refused
    if strict (read_each)."""
    root = Path(root)
    if names is None:
        paths = image_files(root)
    else:
        paths = [root / name for name in names]
        missing = [name for name, path in zip(names, paths, strict=True) if not path.is_file()]
        if missing:
            raise DataError(f"{root}: {len(missing)} listed file(s) missing, e.g. {missing[0]}")
    if not paths:
        raise DataError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {root}")
    images: list[np.ndarray] = []

    def read(path: Path) -> None:
        image = read_image(path)
        side = resolution or (images[0].shape[0] if images else image.shape[0])
        if image.shape[:2] != (side, side):
            raise InputError(
                f"{path} is {image.shape[1]}x{image.shape[0]} but {side}x{side} is needed: resize the images first "
                "(maskgit does not silently rescale inputs)"
            )
        images.append(image)

    kept = read_each(paths, read, strict, "image")
    return ImageSet(np.stack(images), [str(paths[i].relative_to(root)) for i in kept])


def load_folder(root: Path, split: str, resolution: int, strict: bool = False) -> ImageSet:
    """Images under `root`. Sub-folders train/, val/, test/ are used as the splits when present; otherwise a
    fixed split by file path (10% test, 5% val) that is the same on every machine."""
    root = Path(root)
    if (root / "train").is_dir():
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"{root} has a train/ folder but no {split}/ folder")
        paths = image_files(folder)
    else:
        paths = image_files(root)
        if paths:
            names = [str(p.relative_to(root)) for p in paths]
            test, val = round(len(paths) * TEST_FRACTION), round(len(paths) * VAL_FRACTION)
            keep = split_by_group(names, test, val) == SPLIT_IDS[split]
            paths = [p for p, k in zip(paths, keep, strict=True) if k]
    if not paths:
        raise DataError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) for split {split!r} under {root}")
    images, kept = read_images(paths, resolution, strict)
    return ImageSet(images, [str(p.relative_to(root)) for p in kept])


def find_lab_file(root: Path, name: str) -> Path:
    found = sorted(root.rglob(name))
    if not found:
        raise DataError(f"no {name} under {root}: the lab layout needs it")
    return found[0]


def read_lab_ground_truth(path: Path, resolution: int = 64) -> np.ndarray:
    """test_gt.csv: a header row, then one row of resolution*resolution*3 uint8 values (HWC) per image."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    size = resolution * resolution * 3
    try:
        values = np.array([[int(v) for v in row] for row in rows if row], dtype=np.int64)
    except ValueError as error:
        raise DataError(f"{path}: a value is not an integer ({error})") from error
    if values.ndim != 2 or values.shape[1] != size or values.min() < 0 or values.max() > 255:
        raise DataError(f"{path}: expected rows of {size} values in 0..255 ({resolution}x{resolution}x3 HWC)")
    return values.astype(np.uint8).reshape(-1, resolution, resolution, 3)


def load_lab(root: Path, split: str, resolution: int = 64, strict: bool = False) -> ImageSet:
    """The seeds' layout: cat_face/train, cat_face/val, and the test ground truth in test_gt.csv."""
    root = Path(root)
    if split == "test":
        images = read_lab_ground_truth(find_lab_file(root, "test_gt.csv"))
        return ImageSet(fit_to_square(images, resolution), [f"image_{i:03d}.png" for i in range(len(images))])
    folder = root / "cat_face" / split
    if not folder.is_dir():
        raise DataError(
            f"{folder} is missing: a lab folder holds cat_face/train, cat_face/val and cat_face/masked_image"
        )
    images, kept = read_images(image_files(folder), resolution, strict)
    return ImageSet(images, [p.name for p in kept])
