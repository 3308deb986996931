"""`maskgit data`: the datasets, fetching them, looking at them, and inpainting masks."""

from __future__ import annotations

import argparse

from maskgit.cli.common import COUNT, INDEX, strict_argument
from maskgit.data.emoji import TEST_IMAGES
from maskgit.data.masks import BENCHMARKS, MASK_KINDS
from maskgit.errors import InputError


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
        masks = make_masks(args.kind, args.count, args.resolution, seed=args.seed)
    paths = write_masks(masks, Path(args.out))
    print(f"{len(paths)} masks in {args.out} (white = known, black = missing), {masks.mean():.1%} of pixels missing")


def add_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="datasets and inpainting masks").add_subparsers(
        dest="data_command", required=True, metavar="ACTION"
    )
    p = data.add_parser("list", help="the dataset names")
    p.set_defaults(run=cmd_data_list)
    p = data.add_parser("fetch", help="download and check a dataset (emoji: with npm, once)")
    p.add_argument("name", help="emoji, emoji:twitter, emoji:google,twitter, emoji:all, fashion-mnist, ...")
    p.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.add_argument("--tarball", help="build the emoji cache from this already downloaded npm tarball (offline)")
    p.set_defaults(run=cmd_data_fetch)
    p = data.add_parser("show", help="split sizes, class counts and a grid of training samples")
    p.add_argument("name", help="emoji, fashion-mnist, folder:PATH or lab:PATH")
    p.add_argument("--resolution", type=COUNT, default=None, help="resize to this side (default: the data's own)")
    p.add_argument("--count", type=COUNT, default=32, help="images in the grid (default 32)")
    p.add_argument("--out", help="grid PNG path (default NAME-samples.png)")
    strict_argument(p)
    p.set_defaults(run=cmd_data_show)
    p = data.add_parser("masks", help="write a deterministic set of inpainting masks as PNGs")
    p.add_argument("--kind", default="strokes", choices=list(MASK_KINDS))
    p.add_argument("--count", type=COUNT, default=TEST_IMAGES, help=f"masks to write (default {TEST_IMAGES})")
    p.add_argument("--resolution", type=COUNT, default=64)
    p.add_argument("--seed", type=INDEX, default=0)
    p.add_argument(
        "--benchmark",
        nargs="?",
        const="strokes",
        choices=list(BENCHMARKS),
        help="a fixed benchmark set instead: strokes (the default) or large (fixed seed)",
    )
    p.add_argument("--out", required=True, help="folder for mask_000.png, ...")
    p.set_defaults(run=cmd_data_masks)
