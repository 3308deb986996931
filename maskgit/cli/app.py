"""`maskgit app`: the inpainting page, served locally (maskgit.app; the optional extra `.[app]`)."""

from __future__ import annotations

import argparse

from maskgit.cli.common import COUNT, INDEX, load_model, precision_argument, resolve_model
from maskgit.errors import InputError, MaskGitError

EXAMPLES = 8  # test images offered on the page


def cmd_app(args: argparse.Namespace) -> None:
    try:
        from maskgit.app.page import PageSetup, launch
    except ImportError as error:
        raise InputError(f"the page needs Gradio ({error.name} is missing): pip install -e '.[app]'") from error
    from maskgit.experiments.demo import shipped_model

    path = resolve_model(args.model) if args.model else shipped_model()
    model = load_model(str(path), args.device)
    c = model.tokenizer.config
    images, names, note = model_sized_examples(args, c.resolution, c.image_channels)
    setup = PageSetup(model, path.name, images, names, note, args.precision)
    print(f"maskgit app: {path.name} on http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    try:
        launch(setup, host=args.host, port=args.port)
    except OSError as error:  # Gradio: the port is taken, or the address is not this machine's
        raise InputError(f"cannot serve on {args.host}:{args.port} ({error}): pick another --port or --host") from error


def model_sized_examples(args: argparse.Namespace, resolution: int, channels: int):
    """(images, names, note): the first --examples test images of --data, or none and why."""
    import numpy as np

    from maskgit.data.registry import load_images

    if args.examples == 0:
        return np.zeros((0, resolution, resolution, channels), np.uint8), [], "Upload an image to start."
    try:
        test = load_images(args.data, "test", resolution, channels)
    except MaskGitError as error:
        return np.zeros((0, resolution, resolution, channels), np.uint8), [], f"No test images ({error}): upload one."
    chosen = np.linspace(0, len(test) - 1, min(args.examples, len(test))).round().astype(int)
    return test.images[chosen], [test.names[i] for i in chosen], ""


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app",
        help="a local web page: draw a mask, watch MaskGIT fill it step by step, generate",
        description="Serve the inpainting page on this machine (needs the optional extra: pip install -e '.[app]').",
    )
    p.add_argument("--model", help="a run folder or a .safetensors checkpoint (default: the shipped emoji model)")
    p.add_argument("--data", default="emoji", help="where the page's test images come from (default emoji)")
    p.add_argument("--examples", type=INDEX, default=EXAMPLES, help=f"test images offered (default {EXAMPLES})")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=COUNT, default=7860, help="port (default 7860)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    precision_argument(p)
    p.set_defaults(run=cmd_app)
