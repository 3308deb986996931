"""The inpainting page (`maskgit app`): Gradio components wired to maskgit.app.actions.

Gradio is the field's convention for model demos: a brush-and-eraser image editor, galleries, a request
queue and progress bars come with it, and the page runs locally with no build step. It is an optional
extra (`pip install -e ".[app]"`); nothing else in maskgit imports it.

One request runs at a time (the queue holds up to QUEUE_SIZE more and shows each its place); library
errors (bad uploads, bad settings) appear on the page as messages.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local page: no calls home

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np

from maskgit.app import actions
from maskgit.data.images import save_png
from maskgit.decoding.config import CONFIDENCE_RULES, DecodeConfig
from maskgit.errors import MaskGitError
from maskgit.masking.schedules import SCHEDULES
from maskgit.pipeline import MaskGIT

QUEUE_SIZE = 16
MAX_STEPS = 32
MAX_SAMPLES = 16


@dataclass
class PageSetup:
    model: MaskGIT
    model_name: str
    examples: np.ndarray  # uint8 (K, R, R, C) test images to start from (may be empty)
    example_names: list[str] = field(default_factory=list)
    examples_note: str = ""  # why there are none, when there are none
    precision: str = "auto"  # as --precision


def shown(fn: Callable) -> Callable:
    """Library errors from a callback become a message on the page instead of a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MaskGitError as error:
            raise gr.Error(str(error), print_exception=False) from error

    return wrapper


def decode_config(
    preset: str, schedule: str, steps: float, sweet_spot: float, temperature: float, rule: str, cfg=1.0
) -> DecodeConfig:
    """The decoding controls over the named preset's other fields (sweet spot 0 means T; its checks raise
    ConfigError), so the page decodes as the command line does."""
    return replace(
        DecodeConfig.preset(preset),
        total_steps=int(steps),
        sweet_spot=int(sweet_spot) or None,
        schedule=schedule,
        choice_temperature=float(temperature),
        confidence=rule,
        cfg_scale=float(cfg),
    )


def decoding_controls(preset: str, prefix: str) -> list[gr.components.Component]:
    """Schedule, T, sweet spot, temperature and confidence rule, starting at the named DecodeConfig preset."""
    d = DecodeConfig.preset(preset)
    return [
        gr.Dropdown(list(SCHEDULES), value=d.schedule, label="schedule", elem_id=f"{prefix}schedule"),
        gr.Slider(1, MAX_STEPS, value=d.total_steps, step=1, label="steps T", elem_id=f"{prefix}steps"),
        gr.Slider(
            0,
            MAX_STEPS,
            value=d.sweet_spot or 0,
            step=1,
            label="sweet spot S (stop after S steps; 0: T)",
            elem_id=f"{prefix}sweet-spot",
        ),
        gr.Slider(0, 10, value=d.choice_temperature, step=0.1, label="temperature t0", elem_id=f"{prefix}temperature"),
        gr.Radio(list(CONFIDENCE_RULES), value=d.confidence, label="confidence rule", elem_id=f"{prefix}confidence"),
    ]


def editor_value(image: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """What the editor shows: the image enlarged, a chosen mask (if any) tinted in, and an empty drawing layer."""
    factor = actions.display_factor(image.shape[0])
    background = actions.enlarge(image, factor) if mask is None else actions.tinted(image, mask, factor)
    return {"background": background, "layers": [], "composite": None}


def saved(folder: Path, images: dict[str, np.ndarray]) -> list[str]:
    paths = []
    for name, image in images.items():
        save_png(image, folder / name)
        paths.append(str(folder / name))
    return paths


def build_page(setup: PageSetup) -> gr.Blocks:
    model = setup.model
    c = model.tokenizer.config
    factor = actions.display_factor(c.resolution)
    blank = np.full((c.resolution, c.resolution, c.image_channels), 255, dtype=np.uint8)
    first = setup.examples[0] if len(setup.examples) else blank
    downloads = Path(tempfile.mkdtemp(prefix="maskgit-app-"))  # Gradio serves files from the temp folder
    atexit.register(shutil.rmtree, downloads, ignore_errors=True)  # the page's files go when the server does
    classes = model.transformer.config.num_classes
    named = list(enumerate(model.classes.names)) if model.classes else []

    def big(image: np.ndarray) -> np.ndarray:
        return actions.enlarge(image, factor)

    with gr.Blocks(title="MaskGIT inpainting") as page:
        gr.Markdown(
            f"## MaskGIT inpainting\nModel **{setup.model_name}**: {c.resolution}x{c.resolution} images, "
            f"{c.grid_size}x{c.grid_size} tokens from {c.codebook_size} codes. Paint the missing region with "
            "the brush (the eraser takes it back) or pick a mask, then watch the transformer fill it step by step."
        )
        image_state = gr.State(first)
        with gr.Tab("Inpaint"), gr.Row():
            with gr.Column(scale=1):
                editor = gr.ImageEditor(
                    value=editor_value(first),
                    type="numpy",
                    image_mode="RGBA",
                    sources=(),  # uploads go through the upload button, where they are checked
                    brush=gr.Brush(
                        colors=["#{:02x}{:02x}{:02x}".format(*actions.MASK_RGB)],
                        color_mode="fixed",
                        default_size=max(2, factor * 2),
                    ),
                    eraser=gr.Eraser(default_size=max(2, factor * 2)),
                    layers=False,
                    transforms=(),
                    format="png",
                    label="image and mask (red: missing)",
                    elem_id="editor",
                )
                note = gr.Markdown(
                    setup.examples_note or f"Test image {setup.example_names[0] if setup.example_names else ''}",
                    elem_id="note",
                )
                upload = gr.UploadButton("Upload an image", file_types=["image"], elem_id="upload")
                examples = gr.Gallery(
                    [(big(x), n) for x, n in zip(setup.examples, setup.example_names, strict=True)],
                    label="test images (click one)",
                    columns=8,
                    height=110,
                    allow_preview=False,
                    format="png",
                    elem_id="examples",
                    visible=len(setup.examples) > 0,
                )
                with gr.Row():
                    mask_choice = gr.Dropdown(
                        list(actions.MASK_CHOICES), value="drawn", label="mask", elem_id="mask-choice"
                    )
                    mask_index = gr.Number(
                        0,
                        precision=0,
                        minimum=0,
                        maximum=actions.BENCHMARK_COUNT - 1,
                        label="benchmark mask number",
                        elem_id="mask-index",
                    )
                with gr.Accordion("decoding", open=True):
                    controls = decoding_controls("inpaint", "")
                    seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="seed")
                run = gr.Button("Inpaint", variant="primary", elem_id="inpaint-btn")
            with gr.Column(scale=1):
                status = gr.Markdown("", elem_id="status")
                with gr.Row():
                    masked_view = gr.Image(
                        label="masked input", format="png", interactive=False, elem_id="masked-input"
                    )
                    result_view = gr.Image(label="MaskGIT", format="png", interactive=False, elem_id="result")
                    telea_view = gr.Image(label="OpenCV Telea", format="png", interactive=False, elem_id="telea")
                steps_view = gr.Gallery(
                    label="decoding step by step (token mask: black = still masked, grey = decoded; image)",
                    columns=4,
                    format="png",
                    elem_id="steps",
                    allow_preview=True,
                )
                files = gr.File(label="download: result, mask, input", file_count="multiple", elem_id="download")

        def with_mask(image: np.ndarray, choice: str, index: float) -> dict:
            """The editor showing `image` with the chosen mask (a new image keeps the mask choice)."""
            mask = None if choice == "drawn" else actions.chosen_mask(choice, int(index or 0), c.resolution)
            return editor_value(image, mask)

        @shown
        def take_upload(file, choice: str, index: float) -> tuple:
            path = file if isinstance(file, str) else file.name
            image, text = actions.read_upload(path, c.resolution, c.image_channels)
            return image, with_mask(image, choice, index), f"Uploaded image, {text}"

        @shown
        def take_example(choice: str, index: float, evt: gr.SelectData) -> tuple:
            image = setup.examples[evt.index]
            return image, with_mask(image, choice, index), f"Test image {setup.example_names[evt.index]}"

        @shown
        def take_mask(image: np.ndarray, choice: str, index: float) -> tuple:
            if choice == "drawn":
                return with_mask(image, choice, index), "Mask: what you draw with the brush."
            number = f" #{int(index or 0)}" if "benchmark" in choice else ""
            return with_mask(image, choice, index), f"Mask: {choice}{number}, plus what you draw with the brush."

        @shown
        def do_inpaint(
            image, value, choice, index, schedule, steps, sweet, temperature, rule, seed_value, progress=gr.Progress()
        ):
            config = decode_config("inpaint", schedule, steps, sweet, temperature, rule)
            mask = actions.page_mask(choice, int(index or 0), (value or {}).get("layers") or [], c.resolution)
            progress(0.0, desc=f"decoding, {config.steps_to_run} steps")
            done = actions.inpaint(model, image, mask, config, seed=int(seed_value or 0), precision=setup.precision)
            folder = Path(tempfile.mkdtemp(dir=downloads))
            masked = np.where(mask[..., None], np.uint8(128), image)
            white_known = np.where(mask, 0, 255).astype(np.uint8)[..., None]  # the lab's convention
            paths = saved(folder, {"result.png": done.result, "mask.png": white_known, "input.png": image})
            text = (
                f"Inpainted in {done.seconds:.2f} s: {done.unknown_tokens} unknown tokens decoded in "
                f"{config.steps_to_run} of {config.total_steps} steps ({config.schedule}, "
                f"t0 = {config.choice_temperature:g}, {config.confidence}, seed {int(seed_value or 0)})."
            )
            frames = [(frame.picture, frame.caption) for frame in done.steps]
            return text, big(masked), big(done.result), big(done.telea), frames, paths

        upload.upload(take_upload, [upload, mask_choice, mask_index], [image_state, editor, note])
        examples.select(take_example, [mask_choice, mask_index], [image_state, editor, note])
        mask_choice.change(take_mask, [image_state, mask_choice, mask_index], [editor, note])
        mask_index.change(take_mask, [image_state, mask_choice, mask_index], [editor, note])
        run.click(
            do_inpaint,
            [image_state, editor, mask_choice, mask_index, *controls, seed],
            [status, masked_view, result_view, telea_view, steps_view, files],
            concurrency_limit=1,
            api_name="inpaint",
        )

        with gr.Tab("Generate"), gr.Row():
            with gr.Column(scale=1):
                count = gr.Slider(1, MAX_SAMPLES, value=8, step=1, label="samples", elem_id="count")
                class_id = gr.Dropdown(
                    [("any (drawn as often as in training)", -1)] + [(f"{k}: {name}", k) for k, name in named],
                    value=-1,
                    label="class",
                    visible=classes > 0,
                    elem_id="class",
                )
                generate_controls = decoding_controls("generate", "generate-")
                cfg = gr.Slider(
                    1,
                    8,
                    value=DecodeConfig.preset("generate").cfg_scale,
                    step=0.5,
                    label="guidance scale",
                    visible=classes > 0,
                    elem_id="cfg",
                )
                generate_seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="generate-seed")
                generate_run = gr.Button("Generate", variant="primary", elem_id="generate-btn")
            with gr.Column(scale=1):
                samples = gr.Gallery(label="samples", columns=4, format="png", elem_id="samples")
                generate_steps = gr.Gallery(
                    label="the first sample, step by step", columns=4, format="png", elem_id="generate-steps"
                )

        @shown
        def do_generate(
            n, klass, schedule, steps, sweet, temperature, rule, guidance, seed_value, progress=gr.Progress()
        ):
            config = decode_config("generate", schedule, steps, sweet, temperature, rule, guidance)
            progress(0.0, desc=f"generating {int(n)} samples, {config.steps_to_run} steps")
            chosen = None if klass is None or int(klass) < 0 else int(klass)
            images, frames = actions.generate(
                model, int(n), config, seed=int(seed_value or 0), class_id=chosen, precision=setup.precision
            )
            return [big(x) for x in images], [(frame.picture, frame.caption) for frame in frames]

        generate_run.click(
            do_generate,
            [count, class_id, *generate_controls, cfg, generate_seed],
            [samples, generate_steps],
            concurrency_limit=1,
            api_name="generate",
        )
    page.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return page


def launch(setup: PageSetup, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    """Serve the page on host:port (Gradio's server); block=False returns while it serves (tests)."""
    page = build_page(setup)
    page.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        quiet=True,
        ssr_mode=False,
        prevent_thread_lock=not block,
        show_error=True,
    )
    return page
