"""Pictures of decoding (seed 002's figures) and of results: strips, GIFs, comparison grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from maskgit.data.images import image_grid, save_png
from maskgit.experiments.inpainting import Trace
from maskgit.fileio import atomic_write


def mask_picture(token_mask: np.ndarray, initial: np.ndarray, size: int) -> np.ndarray:
    """A (h, w) token mask as a uint8 (size, size, 3) image: white = known from the start, grey = decoded,
    black = still masked."""
    picture = np.where(token_mask, 0, np.where(initial, 160, 255)).astype(np.uint8)
    factor = size // picture.shape[0]
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)[..., None].repeat(3, axis=2)


def as_rgb(images: np.ndarray) -> np.ndarray:
    return images.repeat(3, axis=-1) if images.shape[-1] == 1 else images


def trace_pictures(trace: Trace, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Image k of a trace as two strips (one row each): the token mask and the predicted image per step."""
    predictions = as_rgb(trace.predictions[k])  # (S, H, W, 3)
    size = predictions.shape[1]
    masks = np.stack([mask_picture(m, trace.initial_mask[k], size) for m in trace.token_masks[k]])
    initial = mask_picture(trace.initial_mask[k], trace.initial_mask[k], size)
    columns = len(masks) + 1
    mask_strip = image_grid(np.concatenate([initial[None], masks]), columns=columns)
    blank = np.full_like(predictions[:1], 255)
    image_strip = image_grid(np.concatenate([blank, predictions]), columns=columns)
    return mask_strip, image_strip


def save_gif(frames: np.ndarray, path: Path, *, scale: int = 3, ms_per_frame: int = 400) -> None:
    """uint8 (S, H, W, C) frames -> a looping GIF, upscaled (nearest) so small images stay visible; the last
    frame is held three times as long."""
    pictures = [
        Image.fromarray(as_rgb(f)).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames
    ]

    def write(tmp: Path) -> None:
        durations = [ms_per_frame] * (len(pictures) - 1) + [3 * ms_per_frame]
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)

    atomic_write(path, write)


def save_trace(trace: Trace, folder: Path, names: list[str]) -> list[Path]:
    """Per traced image: NAME_masks.png, NAME_steps.png (one column per step) and NAME.gif."""
    written = []
    for k, name in enumerate(names):
        mask_strip, image_strip = trace_pictures(trace, k)
        stem = Path(name).stem
        save_png(mask_strip, folder / f"{stem}_masks.png")
        save_png(image_strip, folder / f"{stem}_steps.png")
        frames = np.concatenate([as_rgb(trace.predictions[k]), as_rgb(trace.predictions[k][-1:])])
        both = np.concatenate(
            [
                np.stack(
                    [
                        mask_picture(m, trace.initial_mask[k], frames.shape[1])
                        for m in [*trace.token_masks[k], trace.token_masks[k][-1]]
                    ]
                ),
                frames,
            ],
            axis=2,
        )
        save_gif(both, folder / f"{stem}.gif")
        written += [folder / f"{stem}_masks.png", folder / f"{stem}_steps.png", folder / f"{stem}.gif"]
    return written


def masked_input(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images with their missing pixels shown in grey, as a user sees the input."""
    return np.where(masks[..., None], np.uint8(128), images)


def comparison_grid(
    inputs: np.ndarray,
    outputs: list[np.ndarray],
    truth: np.ndarray,
    masks: np.ndarray,
    *,
    labels: list[str] | None = None,
    scale: int = 1,
) -> np.ndarray:
    """Rows of [masked input | output 1 | ... | ground truth] (seed 000's table), one row per image.

    labels: one name per output; with them, a header row names every column. scale: nearest-neighbour
    upscaling of the tiles (the labels stay readable at any scale).
    """
    columns = [masked_input(inputs, masks), *outputs, truth]
    tiles = np.stack([as_rgb(c[i]) for i in range(len(truth)) for c in columns])
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    grid = image_grid(tiles, columns=len(columns))
    if labels is None:
        return grid
    return np.concatenate([column_header(["masked input", *labels, "ground truth"], tiles.shape[2]), grid])


def column_header(labels: list[str], tile: int, *, pad: int = 2, height: int = 18) -> np.ndarray:
    """A white strip with one centred label over each column of an image_grid of `tile`-wide images."""
    strip = Image.new("RGB", (len(labels) * (tile + pad) + pad, height), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=11)
    for i, label in enumerate(labels):
        width = draw.textlength(label, font=font)
        x = pad + i * (tile + pad) + max(0.0, (tile - width) / 2)
        draw.text((x, 3), label, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def labelled_rows(rows: list[np.ndarray], labels: list[str], *, scale: int = 2, label_width: int = 130) -> np.ndarray:
    """Image rows (uint8, each as wide as the others) stacked and upscaled `scale` times (nearest), with each row's
    label on a white margin `label_width` wide at its left: the README's grids by class and by style."""
    grid = np.concatenate(rows, axis=0)
    picture = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    canvas = Image.new("RGB", (picture.width + label_width, picture.height), "white")
    canvas.paste(picture, (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = picture.height / len(labels)
    for row, label in enumerate(labels):
        draw.text((6, row * row_height + row_height / 2 - 6), label, fill="black")
    return np.asarray(canvas)
