"""Fashion-MNIST from IDX files: Debian's `dataset-fashion-mnist` package or any folder holding them (MIT).

train = the first 55,000 training images, val = the last 5,000, test = the 10,000 t10k images.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from maskgit.data.images import ImageSet
from maskgit.errors import DataError

DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
VAL_IMAGES = 5000


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DataError(f"cannot read IDX file {path} ({error})") from error
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DataError(f"{path} is not a uint8 IDX file")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: {body.size} values for shape {shape}")
    return body.reshape(shape)


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(
        f"no {stem}[.gz] in {root}: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
        "or name the dataset fashion-mnist:FOLDER for a folder with the four IDX files"
    )


def load_fashion_mnist(split: str, root: Path | None = None) -> ImageSet:
    root = Path(root) if root is not None else DEBIAN_ROOT
    prefix = "t10k" if split == "test" else "train"
    images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(f"{root}: {len(images)} {prefix} images but {len(labels)} labels")
    indices = np.arange(len(images))
    if split == "train":
        indices = indices[:-VAL_IMAGES]
    elif split == "val":
        indices = indices[-VAL_IMAGES:]
    names = [f"{prefix}_{i:05d}" for i in indices]
    images, labels = images[indices], labels[indices]
    return ImageSet(images[..., None], names, labels, list(CLASS_NAMES))
