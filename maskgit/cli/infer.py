"""Using a model: `maskgit inpaint` and `maskgit generate`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from maskgit.cli.common import (
    COUNT,
    INDEX,
    NON_NEGATIVE,
    decode_config,
    decoding_arguments,
    editing_arguments,
    fill_argument,
    load_model,
    resolve_model,
    runtime_arguments,
    strict_argument,
)
from maskgit.config import field_default
from maskgit.data.masks import BENCHMARKS
from maskgit.decoding.config import GUIDANCE_SCHEDULES, DecodeConfig
from maskgit.errors import InputError
from maskgit.experiments.inpainting import InpaintingSet


def read_inpainting_inputs(args: argparse.Namespace, resolution: int, channels: int):
    """(inputs uint8, masks bool, truth uint8 or None, input names) from --data or --images/--masks."""
    from maskgit.data.benchmarks import load_benchmark
    from maskgit.data.folder import image_files, read_folder
    from maskgit.data.images import set_channels
    from maskgit.data.masks import read_masks

    if args.data:
        if args.images:
            raise InputError("give either --data (with --masks strokes|large) or --images with --masks DIR, not both")
        if args.masks and args.masks not in BENCHMARKS:
            raise InputError(f"with --data, --masks names the benchmark masks: {' or '.join(BENCHMARKS)}")
        bench = load_benchmark(args.data, resolution, channels, limit=args.limit, masks=args.masks or "strokes")
        return bench.inputs, bench.masks, bench.truth, bench.names
    if not (args.images and args.masks):
        raise InputError("give --images DIR and --masks DIR (paired by sorted file name), or --data emoji|lab:PATH")
    image_root = Path(args.images)
    image_paths, mask_paths = image_files(image_root), image_files(Path(args.masks))
    if len(mask_paths) != len(image_paths):
        raise InputError(
            f"{len(image_paths)} images in {args.images} but {len(mask_paths)} masks in {args.masks}: "
            "give one mask per image (they pair by sorted file name)"
        )
    images = read_folder(image_root, resolution, strict=args.strict)  # unreadable files: skipped with a warning
    read_names = set(images.names)
    pairs = [i for i, p in enumerate(image_paths) if str(p.relative_to(image_root)) in read_names]
    masks, kept = read_masks([mask_paths[i] for i in pairs], resolution, strict=args.strict)  # pairs skipped alike
    pixels = set_channels(images.images, channels)[kept]
    names = [images.names[k] for k in kept]
    n = min(args.limit, len(names)) if args.limit else len(names)
    return pixels[:n], masks[:n], None, names[:n]


def numbered_files(prefix: str, count: int) -> list[str]:
    """PREFIX_000.png ... like the lab's outputs (more digits when count needs them)."""
    width = max(3, len(str(count - 1)))
    return [f"{prefix}_{i:0{width}d}.png" for i in range(count)]


def input_folders(args: argparse.Namespace) -> list[Path]:
    """The folders `maskgit inpaint` reads, which its --out must stay out of."""
    folders = [Path(p) for p in (args.images, args.masks) if p and Path(p).is_dir()]
    if args.data and args.data.startswith(("lab:", "folder:")):
        folders.append(Path(args.data.partition(":")[2]))
    return folders


# Only the results (and manifest.json) at the top of an inpainting folder: a grader that reads every PNG
# there (the lab's FID script) sees exactly them. The rest lives in sub-folders.
PREVIEW = "preview/grid.png"


def cmd_inpaint(args: argparse.Namespace) -> None:
    from maskgit.data.images import save_png
    from maskgit.experiments.pictures import comparison_grid, save_trace
    from maskgit.fileio import MANIFEST, check_replaceable, check_separate, write_folder

    out = Path(args.out)
    check_separate(out, input_folders(args))
    check_replaceable(out)
    model = load_model(args.model, args.device)
    c = model.tokenizer.config
    inputs, masks, truth, names = read_inpainting_inputs(args, c.resolution, c.image_channels)
    config = decode_config(args)
    started = time.perf_counter()
    images = InpaintingSet(model, inputs, masks, args.batch_size, fill=args.fill)
    traced = list(range(len(images))) if args.trace else None
    result = images.decode(
        config,
        seed=args.seed,
        trace_indices=traced,
        precision=args.precision,
        progress=f"inpainting {len(images)} images",
    )
    decoded = result.by_sweet_spot[config.steps_to_run]
    files = numbered_files("image", len(images))
    shown = list(range(min(8, len(images))))
    preview = comparison_grid(
        inputs[shown],
        [decoded.images[shown]],
        truth[shown] if truth is not None else decoded.reconstruction[shown],
        masks[shown],
    )
    manifest = {
        "model": str(resolve_model(args.model)),
        "decode": vars(config),
        "fill": args.fill,
        "seed": args.seed,
        "inputs": names,
        "outputs": files,  # the results: what `maskgit fid` scores in this folder
        "seconds": round(time.perf_counter() - started, 2),
        "still_masked_fraction": float(decoded.remaining.mean()),
    }

    def write(folder: Path) -> None:
        for image, name in zip(decoded.images, files, strict=True):
            save_png(image, folder / name)
        for image, name in zip(decoded.reconstruction, files, strict=True):
            save_png(image, folder / "reconstruction" / name)
        save_png(preview, folder / PREVIEW)
        if result.trace is not None:
            save_trace(result.trace, folder / "trace", files)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))

    write_folder(out, write)
    rate = len(images) / max(manifest["seconds"], 1e-9)
    print(f"inpainted {len(images)} images in {manifest['seconds']:.1f} s ({rate:.1f} images/s): {out}/image_*.png")
    last = "ground truth" if truth is not None else "raw reconstruction"
    print(f"preview (masked input | result | {last}): {out / PREVIEW}")
    if result.trace is not None:
        print(f"decoding traces (masks and predictions per step, GIFs): {out / 'trace'}")


def cmd_generate(args: argparse.Namespace) -> None:
    from maskgit.data.images import image_grid, save_png, to_uint8
    from maskgit.decoding.parallel_decode import per_image_generators
    from maskgit.fileio import MANIFEST, check_replaceable, write_folder

    check_replaceable(Path(args.out))
    model = load_model(args.model, args.device)
    config = decode_config(args)
    if args.class_id is not None and model.classes is None:
        raise InputError(f"{args.model} is unconditional: drop --class-id (and --cfg-scale)")
    class_id = None if args.class_id is None else model.classes.class_id(args.class_id)  # type: ignore[union-attr]
    out = Path(args.out)
    chosen = []
    pictures = []
    started = time.perf_counter()
    from tqdm.auto import tqdm

    for start in tqdm(range(0, args.count, args.batch_size), desc="generating", unit="batch"):
        n = min(args.batch_size, args.count - start)
        seeds = range(args.seed + start, args.seed + start + n)
        class_ids = model.sample_classes(seeds, class_id)  # without --class-id: drawn as often as in training
        chosen += [] if class_ids is None else class_ids.tolist()
        generators = per_image_generators(seeds, model.device)
        result = model.generate(n, config, class_ids=class_ids, generator=generators, precision=args.precision)
        pictures.append(to_uint8(result.images))
    images = np.concatenate(pictures)
    seconds = time.perf_counter() - started
    files = numbered_files("sample", len(images))
    manifest = {
        "model": str(resolve_model(args.model)),
        "decode": vars(config),
        "seed": args.seed,
        "class_id": class_id,
        "class_ids": chosen,  # each sample's class (a class-conditional model)
        "outputs": files,  # the results: what `maskgit fid` scores in this folder
        "seconds": round(seconds, 2),
    }

    def write(folder: Path) -> None:
        for image, name in zip(images, files, strict=True):
            save_png(image, folder / name)
        save_png(image_grid(images, columns=8), folder / "grid.png")
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))

    write_folder(out, write)
    print(f"generated {len(images)} images in {seconds:.1f} s: {out}/sample_*.png, grid {out / 'grid.png'}")
    if args.score:
        from maskgit.cli.evaluate import score_samples

        score_samples(
            images,
            args.score,
            args.device,
            class_id=class_id,
            classes=model.classes,
            copies_of=args.copies_of,
            sample_classes=np.array(chosen) if chosen else None,
        )


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inpaint",
        help="fill the masked regions of a set of images",
        description="Inpaint images (--images/--masks, or a benchmark set with --data). Outputs are "
        "named image_000.png ... like the lab's; masks are white = known, black = missing. Images "
        "must be at the model's resolution (they are not rescaled).",
    )
    p.add_argument("--model", required=True, help="a run folder or a .safetensors checkpoint")
    p.add_argument("--images", help="folder of images at the model's resolution")
    p.add_argument(
        "--masks",
        help="with --images: a folder of masks, paired by sorted file name; with --data emoji: the benchmark "
        "masks, strokes (default) or large",
    )
    p.add_argument("--data", help="emoji (test split + benchmark masks) or lab:PATH (masked_image + mask64)")
    p.add_argument("--limit", type=INDEX, default=0, help="only the first N images (0: all)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--trace", action="store_true", help="also write per-step mask and prediction strips and a GIF")
    fill_argument(p)
    strict_argument(p)
    decoding_arguments(p, "inpaint")
    editing_arguments(p, "inpaint")
    runtime_arguments(p, field_default(InpaintingSet, "batch_size"))
    p.set_defaults(run=cmd_inpaint)

    p = sub.add_parser("generate", help="sample images from scratch (all tokens masked)")
    p.add_argument("--model", required=True, help="a run folder or a .safetensors checkpoint")
    p.add_argument("--count", type=COUNT, default=16, help="images to sample (default 16)")
    p.add_argument(
        "--class-id",
        metavar="ID_OR_NAME",
        help="class to sample, by id or name (class-conditional models; `maskgit inspect` lists them); "
        "without it each sample's class is drawn as often as in training",
    )
    guidance = DecodeConfig.preset("generate")
    p.add_argument(
        "--cfg-scale",
        type=NON_NEGATIVE,
        help=f"classifier-free guidance scale; class-conditional models only (generate: {guidance.cfg_scale})",
    )
    p.add_argument(
        "--cfg-schedule",
        choices=GUIDANCE_SCHEDULES,
        help="guidance over the steps: constant, or linear from 1 up to --cfg-scale "
        f"(generate: {guidance.cfg_schedule})",
    )
    p.add_argument("--out", required=True, help="output folder (sample_000.png ..., grid.png)")
    p.add_argument(
        "--score",
        metavar="DATASET",
        help="also score the samples: FID against DATASET's test split, share of near-copies of its train split",
    )
    p.add_argument(
        "--copies-of",
        metavar="DATASET",
        help="with --score: count near-copies of this dataset's train split instead (name every style the model "
        "was trained on, e.g. emoji:google,twitter,google3,fluent)",
    )
    decoding_arguments(p, "generate")
    runtime_arguments(p, field_default(InpaintingSet, "batch_size"))
    p.set_defaults(run=cmd_generate)
