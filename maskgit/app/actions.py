"""What the inpainting page does, without the page: uploads checked and fitted to the model, masks drawn or
chosen, inpainting and generation with every decoding step kept, OpenCV Telea beside the result.

Everything here works on uint8 arrays at the model's resolution and raises InputError for bad input, so
it is tested without a browser (tests/test_app.py); maskgit.app.page wires it to Gradio components.
The page shows images enlarged by an integer factor (nearest neighbour, `display_factor`): the user draws
on exactly the pixels the model sees, and a drawn block marks its one model pixel missing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from maskgit.data.images import as_rgb8, fit_to_square, set_channels, to_uint8
from maskgit.data.masks import BENCHMARKS, SIDES, benchmark_masks, side_mask
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.fill import opencv_inpaint
from maskgit.decoding.parallel_decode import per_image_generators
from maskgit.errors import InputError
from maskgit.experiments.inpainting import InpaintingSet
from maskgit.experiments.pictures import as_rgb, mask_picture
from maskgit.pipeline import MaskGIT

DISPLAY_SIZE = 256  # about this many pixels a side on the page
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_UPLOAD_PIXELS = 40_000_000  # larger images are refused before they are decoded (decompression bombs)
MASK_RGB = (255, 0, 0)  # the brush colour: drawn pixels are this colour, fully opaque, in the mask layer
BENCHMARK_COUNT = 747  # masks per fixed benchmark set: one per emoji test image
MASK_CHOICES = ("drawn", *(f"{name} benchmark" for name in BENCHMARKS), *(f"outpaint {side}" for side in SIDES))


def display_factor(resolution: int) -> int:
    return max(1, DISPLAY_SIZE // resolution)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (H, W, C) -> (H * factor, W * factor, 3), nearest neighbour (grey images become RGB)."""
    return np.repeat(np.repeat(as_rgb(image), factor, axis=0), factor, axis=1)


def read_upload(path: str | Path, resolution: int, channels: int) -> tuple[np.ndarray, str]:
    """An uploaded file as a uint8 (resolution, resolution, channels) image, and a note on what was done to it.

    Refused with an InputError: a file that is not an image, one over MAX_UPLOAD_BYTES or MAX_UPLOAD_PIXELS,
    and animations. Transparency is composited on white; other sizes are center-cropped and resized.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"{path.name} is {size / 2**20:.0f} MB: upload an image under {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise InputError(f"{path.name} is {width}x{height} pixels: upload an image under 40 megapixels")
            if getattr(image, "n_frames", 1) > 1:
                raise InputError(f"{path.name} is animated ({image.n_frames} frames): upload a still image")
            image.load()
            pixels = as_rgb8(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        raise InputError(f"{path.name} is not an image this page can read (PNG, JPEG, WebP, ...): {error}") from error
    fitted = set_channels(fit_to_square(pixels[None], resolution), channels)[0]
    if (width, height) == (resolution, resolution):
        return fitted, f"{width}x{height}: the model's resolution."
    side = min(width, height)
    cropped = f"center-cropped to {side}x{side} and " if width != height else ""
    return fitted, f"{width}x{height}, {cropped}resized to {resolution}x{resolution}, the model's resolution."


def chosen_mask(choice: str, index: int, resolution: int) -> np.ndarray:
    """(R, R) bool, True = missing: one of the fixed benchmark masks (`index` of BENCHMARK_COUNT) or one side
    missing to half the image. `choice` is one of MASK_CHOICES except "drawn"."""
    if choice.endswith(" benchmark") and choice.removesuffix(" benchmark") in BENCHMARKS:
        if not 0 <= index < BENCHMARK_COUNT:
            raise InputError(f"benchmark masks are numbered 0 to {BENCHMARK_COUNT - 1}, got {index}")
        return benchmark_masks(index + 1, resolution, choice.removesuffix(" benchmark"))[index]
    if choice.startswith("outpaint ") and choice.removeprefix("outpaint ") in SIDES:
        return side_mask(resolution, choice.removeprefix("outpaint "), resolution // 2)
    raise InputError(f"unknown mask {choice!r}: choose one of {', '.join(MASK_CHOICES[1:])}")


def tinted(image: np.ndarray, mask: np.ndarray, factor: int) -> np.ndarray:
    """The image enlarged for the editor, with a chosen mask shown in the brush colour (the drawing layer stays
    the user's: the page adds what is drawn to the chosen mask)."""
    big = enlarge(image, factor)
    where = np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)[..., None]
    return np.where(where, (0.35 * big + 0.65 * np.array(MASK_RGB)).astype(np.uint8), big)


def page_mask(choice: str, index: int, layers: list[np.ndarray | None], resolution: int) -> np.ndarray:
    """The mask the page inpaints: the chosen mask (none for "drawn") plus everything drawn with the brush."""
    drawn = mask_from_layers(layers, resolution)
    return drawn if choice == "drawn" else drawn | chosen_mask(choice, index, resolution)


def mask_from_layers(layers: list[np.ndarray | None], resolution: int) -> np.ndarray:
    """The editor's drawn RGBA layers (display size) -> (R, R) bool: a model pixel is missing if any display
    pixel of its block was drawn."""
    mask = np.zeros((resolution, resolution), dtype=bool)
    for layer in layers:
        if layer is None:
            continue
        if layer.ndim != 3 or layer.shape[0] % resolution or layer.shape[0] != layer.shape[1]:
            raise InputError(f"the drawn mask is {layer.shape[1]}x{layer.shape[0]}: reload the page")
        drawn = layer[..., 3] > 0 if layer.shape[2] == 4 else layer.max(axis=2) > 0
        f = layer.shape[0] // resolution
        mask |= drawn.reshape(resolution, f, resolution, f).any(axis=(1, 3))
    return mask


@dataclass
class Frame:
    picture: np.ndarray  # uint8 (H, 2W + gap, 3): the token mask and the image after one step, side by side
    caption: str


@dataclass
class Inpainted:
    image: np.ndarray  # uint8 (R, R, C) the input
    mask: np.ndarray  # (R, R) bool, True = missing
    result: np.ndarray  # uint8 (R, R, C): the rest decoded, known pixels the input's (blended beside the hole)
    telea: np.ndarray  # uint8 (R, R, C): OpenCV Telea on the same hole
    unknown_tokens: int  # tokens whose patch has missing pixels: what the transformer decodes
    steps: list[Frame]
    seconds: float


def step_frames(token_masks: np.ndarray, initial: np.ndarray, pictures: np.ndarray) -> list[Frame]:
    """One Frame per decoding step. token_masks: (S, h, w) bool still masked after each step; initial: (h, w)
    unknown at the start; pictures: uint8 (S, H, W, C) the image after each step."""
    frames = []
    unknown = int(initial.sum())
    for s, (masked, picture) in enumerate(zip(token_masks, pictures, strict=True)):
        tokens = mask_picture(masked, initial, picture.shape[0])
        gap = np.full((picture.shape[0], 4, 3), 255, dtype=np.uint8)
        caption = f"step {s + 1}/{len(pictures)}: {int(masked.sum())}/{unknown} masked"
        frames.append(Frame(np.concatenate([tokens, gap, as_rgb(picture)], axis=1), caption))
    return frames


def inpaint(
    model: MaskGIT, image: np.ndarray, mask: np.ndarray, config: DecodeConfig, *, seed: int = 0, precision: str = "auto"
) -> Inpainted:
    """Inpaint one image along the library's one path (InpaintingSet: tokenize_known -> decode_tokens -> render),
    keeping every step; each step's picture is composited with the input as the result is."""
    if not mask.any():
        raise InputError("nothing is missing: draw a mask with the brush, or pick one under 'Mask'")
    started = time.perf_counter()
    images = InpaintingSet(model, image[None], mask[None], batch_size=1)
    decoded = images.decode(config, seed=seed, trace_indices=[0], precision=precision)
    trace = decoded.trace
    return Inpainted(
        image=image,
        mask=mask,
        result=decoded.by_sweet_spot[config.steps_to_run].images[0],
        telea=opencv_inpaint(image[None], mask[None], "telea")[0],
        unknown_tokens=int(trace.initial_mask[0].sum()),
        steps=step_frames(trace.token_masks[0], trace.initial_mask[0], trace.composited[0]),
        seconds=time.perf_counter() - started,
    )


@torch.no_grad()
def generate(
    model: MaskGIT,
    count: int,
    config: DecodeConfig,
    *,
    seed: int = 0,
    class_id: int | None = None,
    precision: str = "auto",
) -> tuple[np.ndarray, list[Frame]]:
    """`count` samples from scratch (sample i seeded seed + i, as `maskgit generate`), and the steps of the first.
    class_id: None draws each sample's class as `maskgit generate` does (MaskGIT.sample_classes)."""
    device = model.device
    seeds = range(seed, seed + count)
    class_ids = model.sample_classes(seeds, class_id)
    generators = per_image_generators(seeds, device)
    result = model.generate(
        count, config, class_ids=class_ids, generator=generators, return_trace=True, precision=precision
    )
    grid = model.tokenizer.config.grid_size
    pictures = to_uint8(model.trace_images(result.trace, 0).cpu())  # sample 0 after each step
    masks = torch.stack([step.token_mask[0] for step in result.trace]).view(-1, grid, grid).cpu().numpy()
    return to_uint8(result.images.cpu()), step_frames(masks, np.ones((grid, grid), dtype=bool), pictures)
