"""In-memory image sets (uint8, HWC) and the conversions every dataset shares."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from maskgit.errors import DataError, InputError
from maskgit.fileio import atomic_write


@dataclass
class ImageSet:
    """Images of one split, kept as uint8 (N, H, W, C) so that a whole dataset stays small in memory."""

    images: np.ndarray  # (N, H, W, C) uint8
    names: list[str]
    labels: np.ndarray | None = None  # (N,) int64 class ids, if the dataset has classes
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            shape = f"{self.images.dtype} {self.images.shape}"
            raise DataError(f"ImageSet needs uint8 images shaped (N, H, W, C), got {shape}")
        if len(self.names) != len(self.images):
            raise DataError(f"{len(self.names)} names for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    def tensors(self, index: slice | list[int] | np.ndarray | None = None) -> Tensor:
        """Images as float (B, C, H, W) in [-1, 1]."""
        chosen = self.images if index is None else self.images[index]
        return to_tensor(chosen)

    def subset(self, index: np.ndarray | list[int]) -> ImageSet:
        index = np.asarray(index, dtype=np.int64)
        labels = self.labels[index] if self.labels is not None else None
        return ImageSet(self.images[index], [self.names[i] for i in index], labels, self.class_names)


def to_tensor(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1], contiguous (not channels-last: see Encoder)."""
    return torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()


def to_uint8(images: Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C) (values outside are clipped)."""
    scaled = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).numpy()


def fit_to_square(images: np.ndarray, resolution: int) -> np.ndarray:
    """Center-crop uint8 (N, H, W, C) images to a square and resize to resolution (antialiased bilinear)."""
    h, w = images.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    cropped = images[:, top : top + side, left : left + side]
    if side == resolution:
        return np.ascontiguousarray(cropped)
    x = torch.from_numpy(np.array(cropped)).permute(0, 3, 1, 2).float()  # a writable copy
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def set_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, H, W, C) to 1 (luma) or 3 channels."""
    have = images.shape[3]
    if have == channels:
        return images
    if channels == 3 and have == 1:
        return np.repeat(images, 3, axis=3)
    if channels == 1 and have == 3:
        luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return luma.round().clip(0, 255).astype(np.uint8)[..., None]
    raise DataError(f"cannot convert {have}-channel images to {channels} channels")


SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")  # 16-bit greyscale (PNG)
ALPHA_MODES = ("RGBA", "LA", "P", "PA", "La", "RGBa")  # transparency, composited on a background


def read_image(path: Path, background: int = 255) -> np.ndarray:
    """A file as uint8 (H, W, 3); transparency is composited on a white (background) canvas."""
    with Image.open(path) as image:
        image.load()
        return as_rgb8(image, background)


def as_rgb8(image: Image.Image, background: int = 255) -> np.ndarray:
    """Any Pillow image mode as uint8 (H, W, 3), scaled by its bit depth: 16-bit greyscale is divided by 257
    (Pillow's own conversion would clip it to white); palettes and alpha are composited on `background`;
    CMYK and the rest go through Pillow. 32-bit integer or float images are refused (their range is unknown)."""
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES:
        grey = ((np.asarray(image).astype(np.uint32) + 128) // 257).astype(np.uint8)  # 0..65535 -> 0..255
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in ("I", "F"):
        raise DataError(f"a 32-bit {'integer' if mode == 'I' else 'float'} image: save it as an 8- or 16-bit PNG")
    if mode in ALPHA_MODES:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (background, background, background, 255))
        return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def save_png(image: np.ndarray, path: Path) -> None:
    """Save one uint8 (H, W, C) image as PNG, atomically."""
    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))


def image_grid(images: np.ndarray, *, columns: int = 8, pad: int = 2, background: int = 255) -> np.ndarray:
    """uint8 (N, H, W, C) -> one uint8 grid image, `columns` images a row."""
    n, h, w, c = images.shape
    rows = (n + columns - 1) // columns
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), background, dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = image
    return grid


def row_groups_grid(rows: list[np.ndarray], columns: int = 8) -> np.ndarray:
    """Images shown as groups of rows: rows[k] uint8 (N, H, W, C) (e.g. input, output, truth), `columns`
    images wide; each group of columns shows the same images in every row."""
    n = len(rows[0])
    columns = min(columns, n)
    grids = [image_grid(row[i : i + columns], columns=columns) for i in range(0, n, columns) for row in rows]
    return np.concatenate(grids, axis=0)


UNREADABLE = (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError)


def read_each(paths: list[Path], read: Callable[[Path], np.ndarray], strict: bool, what: str) -> list[int]:
    """The one rule for unreadable files, everywhere (inpaint, fid, data, training): read each path with `read`
    (results appended to read.results); unreadable files are skipped with one warning that names them, or,
    if strict, refused. Returns the indices of the files read."""
    kept, bad = [], []
    for i, path in enumerate(paths):
        try:
            read(path)
            kept.append(i)
        except InputError:  # readable but unusable (another size): not a skip
            raise
        except DataError as error:  # a mode maskgit refuses, with the reason
            bad.append(f"{path.name} ({error})")
        except UNREADABLE as error:
            bad.append(f"{path.name} ({error.__class__.__name__})")
    if bad:
        listed = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        message = f"{len(bad)} unreadable {what} file(s) skipped: {listed}"
        if strict:
            raise DataError(message.replace("skipped", "found") + ": remove or fix them, or drop --strict")
        warnings.warn(message, stacklevel=3)
    if not kept:
        raise DataError(f"no readable {what} among {len(paths)} file(s) in {paths[0].parent if paths else '?'}")
    return kept
