"""The `maskgit` command line. Library errors become one-line messages (exit 2), never tracebacks."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import torch

from maskgit import __version__
from maskgit.checkpoint import read_checkpoint
from maskgit.data.masks import BENCHMARKS, MASK_KINDS
from maskgit.errors import InputError, MaskGitError
from maskgit.tokenizer.config import TOKENIZER_PRESETS, TokenizerConfig
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.transformer.config import TRANSFORMER_PRESETS, TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer


def _millions(module: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f} M"


def cmd_presets(args: argparse.Namespace) -> None:
    """Print every named preset with its size (models are built on the meta device: no memory used)."""
    print(f"{'tokenizer':<10} {'image':>10} {'tokens':>7} {'codes':>6} {'params':>9}")
    for name in TOKENIZER_PRESETS:
        c = TokenizerConfig.preset(name)
        with torch.device("meta"):
            size = _millions(VQGAN(c))
        image = f"{c.image_channels}x{c.resolution}x{c.resolution}"
        print(f"{name:<10} {image:>10} {c.grid_size:>4}x{c.grid_size:<2} {c.codebook_size:>6} {size:>9}")
    print()
    print(
        f"{'transformer':<12} {'norm':>5} {'dim':>5} {'depth':>5} {'heads':>5} {'tokens':>6} {'codes':>6} {'params':>9}"
    )
    for name in TRANSFORMER_PRESETS:
        c = TransformerConfig.preset(name)
        with torch.device("meta"):
            size = _millions(BidirectionalTransformer(c))
        print(
            f"{name:<12} {c.norm:>5} {c.dim:>5} {c.depth:>5} {c.heads:>5} {c.num_tokens:>6} "
            f"{c.output_classes:>6} {size:>9}"
        )


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print a checkpoint's format version, models, configs and tensor summary."""
    header, tensors = read_checkpoint(args.checkpoint)
    print(f"{args.checkpoint}: maskgit checkpoint, format {header['format_version']}")
    for name, config in header["models"].items():
        own = [t for k, t in tensors.items() if k.startswith(f"{name}.")]
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in own})
        print(f"  {name}: {len(own)} tensors, {sum(t.numel() for t in own) / 1e6:.2f} M values ({', '.join(dtypes)})")
        for key, value in config.items():
            print(f"    {key} = {value}")
    for key, value in header.get("extra", {}).items():
        print(f"  {key}: {value}")


def cmd_data_list(args: argparse.Namespace) -> None:
    from maskgit.data import DATASETS
    from maskgit.data.emoji import emoji_cache_path

    for name, description in DATASETS.items():
        print(f"{name:<24} {description}")
    state = "cached at " + str(emoji_cache_path()) if emoji_cache_path().is_file() else "not fetched yet"
    print(f"\nemoji: {state}")


def cmd_data_fetch(args: argparse.Namespace) -> None:
    from maskgit.data import fetch_emoji, load_images

    name, _, argument = args.name.partition(":")
    if name == "emoji":
        from maskgit.data.emoji import emoji_styles

        styles = emoji_styles(argument)
        if args.tarball and len(styles) > 1:
            raise InputError("--tarball holds one style: fetch the styles one at a time")
        for style in styles:
            path = fetch_emoji(force=args.force, tarball=args.tarball, style=style)
            print(f"emoji ({style}) ready at {path}")
        return
    counts = {split: len(load_images(args.name, split)) for split in ("train", "val", "test")}
    print(f"{args.name}: nothing to fetch; found " + ", ".join(f"{n} {s}" for s, n in counts.items()))


def cmd_data_show(args: argparse.Namespace) -> None:
    from pathlib import Path

    import numpy as np

    from maskgit.data import image_grid, load_images, save_png

    splits = {
        split: load_images(args.name, split, args.resolution, strict=args.strict) for split in ("train", "val", "test")
    }
    for split, images in splits.items():
        line = f"{split:<5} {len(images):>6} images, {images.resolution}x{images.resolution}x{images.channels}"
        if images.labels is not None and images.class_names:
            counts = np.bincount(images.labels, minlength=len(images.class_names))
            line += "; " + ", ".join(f"{c} {n}" for c, n in zip(images.class_names, counts, strict=True))
        print(line)
    train = splits["train"]
    pick = np.random.default_rng(0).choice(len(train), size=min(args.count, len(train)), replace=False)
    out = Path(args.out or f"{args.name.replace(':', '_').replace('/', '_')}-samples.png")
    save_png(image_grid(train.images[np.sort(pick)], columns=8), out)
    print(f"sample grid: {out}")


def cmd_data_masks(args: argparse.Namespace) -> None:
    from pathlib import Path

    from maskgit.data import benchmark_masks, make_masks, write_masks

    if args.benchmark:
        masks = benchmark_masks(args.count, args.resolution, args.benchmark)
    else:
        masks = make_masks(args.kind, args.count, args.resolution, args.seed)
    paths = write_masks(masks, Path(args.out))
    print(f"{len(paths)} masks in {args.out} (white = known, black = missing), {masks.mean():.1%} of pixels missing")


def cmd_train(args: argparse.Namespace) -> None:
    """Both stages: `maskgit train` (transformer) and `maskgit train-tokenizer`."""
    from maskgit.training.config import TokenizerTrainConfig, TransformerTrainConfig, load_train_config
    from maskgit.training.runtime import stop_runtime

    if args.command == "train-tokenizer":
        from maskgit.training.tokenizer_trainer import TokenizerTrainer as Trainer

        config = load_train_config(TokenizerTrainConfig, args.config, args.set)
    else:
        from maskgit.training.transformer_trainer import TransformerTrainer as Trainer  # type: ignore[assignment]

        config = load_train_config(TransformerTrainConfig, args.config, args.set)  # type: ignore[assignment]
    try:
        trainer = Trainer(config, resume=args.resume, progress=not args.no_progress)  # type: ignore[arg-type]
        path = trainer.fit()
        if trainer.runtime.is_main:
            print(f"trained {trainer.step} steps; model: {path}")
    finally:
        stop_runtime()


def cmd_tokenizer_metrics(args: argparse.Namespace) -> None:
    """Reconstruction L1 / PSNR / codebook use of a tokenizer on a dataset split."""
    import json

    from maskgit.checkpoint import load_checkpoint
    from maskgit.data import load_images
    from maskgit.tokenizer.metrics import reconstruction_metrics

    tokenizer = load_checkpoint(args.model).tokenizer
    if tokenizer is None:
        raise InputError(f"{args.model} holds no tokenizer")
    c = tokenizer.config
    images = load_images(args.data, args.split, c.resolution, c.image_channels)
    metrics = reconstruction_metrics(tokenizer, images.tensors())
    print(
        f"{args.data} {args.split} ({len(images)} images): L1 {metrics['l1']:.4f} (0-1 scale), "
        f"PSNR {metrics['psnr']:.2f} dB, codes used {metrics['code_usage']:.1%}, perplexity {metrics['perplexity']:.0f}"
    )
    print(json.dumps({"data": args.data, "split": args.split, "images": len(images), **metrics}))


def _add_training_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="a YAML file from configs/ (or your own)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--resume", action="store_true", help="continue the run in out_dir from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskgit", description="Masked generative image modeling (MaskGIT).")
    parser.add_argument("--version", action="version", version=f"maskgit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("presets", help="list the named model presets and their sizes")
    p.set_defaults(run=cmd_presets)
    p = sub.add_parser("inspect", help="show what a checkpoint holds")
    p.add_argument("checkpoint", help="a .safetensors checkpoint written by maskgit")
    p.set_defaults(run=cmd_inspect)

    p = sub.add_parser("train-tokenizer", help="train the VQGAN tokenizer (stage 1); torchrun-ready")
    _add_training_arguments(p)
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("train", help="train the transformer (stage 2) on a tokenizer's tokens; torchrun-ready")
    _add_training_arguments(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("tokenizer-metrics", help="a tokenizer's reconstruction L1, PSNR and codebook use")
    p.add_argument("--model", required=True, help="a checkpoint holding a tokenizer")
    p.add_argument("--data", default="emoji")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.set_defaults(run=cmd_tokenizer_metrics)

    from maskgit.evaluation.cli import add_commands

    add_commands(sub)

    data = sub.add_parser("data", help="datasets and inpainting masks").add_subparsers(
        dest="data_command", required=True, metavar="ACTION"
    )
    p = data.add_parser("list", help="the dataset names")
    p.set_defaults(run=cmd_data_list)
    p = data.add_parser("fetch", help="download and check a dataset (emoji: with npm, once)")
    p.add_argument("name", help="emoji, emoji:twitter, emoji:google,twitter, fashion-mnist, ...")
    p.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.add_argument("--tarball", help="build the emoji cache from this already downloaded npm tarball (offline)")
    p.set_defaults(run=cmd_data_fetch)
    p = data.add_parser("show", help="split sizes, class counts and a grid of training samples")
    p.add_argument("name", help="emoji, fashion-mnist, folder:PATH or lab:PATH")
    p.add_argument("--resolution", type=int, default=None, help="resize to this side (default: the data's own)")
    p.add_argument("--count", type=int, default=32, help="images in the grid (default 32)")
    p.add_argument("--out", help="grid PNG path (default NAME-samples.png)")
    p.add_argument("--strict", action="store_true", help="refuse unreadable image files instead of skipping them")
    p.set_defaults(run=cmd_data_show)
    p = data.add_parser("masks", help="write a deterministic set of inpainting masks as PNGs")
    p.add_argument("--kind", default="strokes", choices=list(MASK_KINDS))
    p.add_argument("--count", type=int, default=747)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--benchmark",
        nargs="?",
        const="strokes",
        choices=list(BENCHMARKS),
        help="a fixed benchmark set instead: strokes (the default) or large (fixed seed)",
    )
    p.add_argument("--out", required=True, help="folder for mask_000.png, ...")
    p.set_defaults(run=cmd_data_masks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MaskGitError as error:
        print(f"maskgit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter from failing at exit
        return 0
    except KeyboardInterrupt:
        print("maskgit: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # a file the user named cannot be read or written
        if error.filename is None:
            raise
        print(f"maskgit: error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
