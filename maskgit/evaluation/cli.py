"""The evaluation commands: inpaint, generate, fid, sweep, report (registered by maskgit.cli)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from maskgit.data.masks import BENCHMARKS
from maskgit.decoding.config import CONFIDENCE_RULES, DECODE_PRESETS, DecodeConfig
from maskgit.errors import InputError

DEFAULT_SCHEDULES, DEFAULT_STEPS = "cosine,linear,square", "1,2,4,8,12"


def resolve_model(path: str) -> Path:
    """A checkpoint file, or a run folder: its best.safetensors (lowest validation loss), else model.safetensors."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.safetensors", "model.safetensors"):
            if (p / name).is_file():
                return p / name
        raise InputError(f"{p} holds no best.safetensors or model.safetensors: is it a `maskgit train` run folder?")
    if not p.is_file():
        raise InputError(f"no model at {p}: give a run folder or a .safetensors checkpoint")
    return p


def load_model(path: str, device: str | None):
    from maskgit.pipeline import MaskGIT

    return MaskGIT.load(resolve_model(path), device=pick_device(device))


def pick_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise InputError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from error


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        raise InputError(f"expected comma-separated integers, got {text!r}") from error
    if not values:
        raise InputError("expected at least one integer")
    return values


def decode_config(args: argparse.Namespace) -> DecodeConfig:
    """The --decoding preset, with every decoding flag the user gave put over it."""
    from dataclasses import replace

    flags = {
        "total_steps": args.steps,
        "sweet_spot": args.sweet_spot,
        "schedule": args.schedule,
        "choice_temperature": args.temperature,
        "confidence": args.confidence,
        "cfg_scale": getattr(args, "cfg_scale", None),
    }
    return replace(DecodeConfig.preset(args.decoding), **{k: v for k, v in flags.items() if v is not None})


def amp(args: argparse.Namespace, device: torch.device) -> torch.dtype | None:
    """Decoding precision. "auto" stays fp32 on every CPU, so CPU figures are the same on every machine."""
    from maskgit.training.runtime import autocast_dtype

    if args.precision == "auto" and device.type == "cpu":
        return None
    return autocast_dtype(args.precision, device)


def read_inpainting_inputs(args: argparse.Namespace, resolution: int, channels: int):
    """(inputs uint8, masks bool, truth uint8 or None, input names) from --data or --images/--masks."""
    from maskgit.data.folder import image_files, read_folder
    from maskgit.data.images import set_channels
    from maskgit.data.masks import read_mask
    from maskgit.evaluation.sweep import load_benchmark

    if args.data:
        if args.images:
            raise InputError("give either --data (with --masks strokes|large) or --images with --masks DIR, not both")
        if args.masks and args.masks not in BENCHMARKS:
            raise InputError(f"with --data, --masks names the benchmark masks: {' or '.join(BENCHMARKS)}")
        bench = load_benchmark(args.data, resolution, channels, args.limit, args.masks or "strokes")
        return bench.inputs, bench.masks, bench.truth, bench.names
    if not (args.images and args.masks):
        raise InputError("give --images DIR and --masks DIR (paired by sorted file name), or --data emoji|lab:PATH")
    images = read_folder(Path(args.images), resolution)
    mask_paths = image_files(Path(args.masks))
    if len(mask_paths) != len(images):
        raise InputError(
            f"{len(images)} images in {args.images} but {len(mask_paths)} masks in {args.masks}: "
            "give one mask per image (they pair by sorted file name)"
        )
    masks = np.stack([read_mask(p, resolution) for p in mask_paths])
    n = min(args.limit, len(images)) if args.limit else len(images)
    return set_channels(images.images, channels)[:n], masks[:n], None, images.names[:n]


def cmd_inpaint(args: argparse.Namespace) -> None:
    from maskgit.data.images import save_png
    from maskgit.evaluation.inpainting import InpaintingSet
    from maskgit.evaluation.pictures import comparison_grid, save_trace
    from maskgit.fileio import atomic_write

    model = load_model(args.model, args.device)
    c = model.tokenizer.config
    inputs, masks, truth, names = read_inpainting_inputs(args, c.resolution, c.image_channels)
    config = decode_config(args)
    out = Path(args.out)
    started = time.perf_counter()
    images = InpaintingSet(model, inputs, masks, args.batch_size)
    traced = list(range(len(images))) if args.trace else None
    result = images.decode(
        config,
        seed=args.seed,
        trace_indices=traced,
        amp_dtype=amp(args, model.device),
        progress=f"inpainting {len(images)} images",
    )
    decoded = result.by_sweet_spot[config.steps_to_run]
    width = max(3, len(str(len(images) - 1)))
    files = [f"image_{i:0{width}d}.png" for i in range(len(images))]
    for image, name in zip(decoded.images, files, strict=True):
        save_png(image, out / name)
    for image, name in zip(decoded.reconstruction, files, strict=True):
        save_png(image, out / "reconstruction" / name)
    shown = list(range(min(8, len(images))))
    grid = comparison_grid(
        inputs[shown],
        [decoded.images[shown]],
        truth[shown] if truth is not None else decoded.reconstruction[shown],
        masks[shown],
    )
    save_png(grid, out / "preview.png")
    if result.trace is not None:
        save_trace(result.trace, out / "trace", files)
    manifest = {
        "model": str(resolve_model(args.model)),
        "decode": vars(config),
        "seed": args.seed,
        "inputs": names,
        "outputs": files,
        "seconds": round(time.perf_counter() - started, 2),
        "still_masked_fraction": float(decoded.remaining.mean()),
    }
    body = json.dumps(manifest, indent=2)
    atomic_write(out / "manifest.json", lambda tmp: tmp.write_text(body))
    rate = len(images) / max(manifest["seconds"], 1e-9)
    print(f"inpainted {len(images)} images in {manifest['seconds']:.1f} s ({rate:.1f} images/s): {out}/image_*.png")
    last = "ground truth" if truth is not None else "raw reconstruction"
    print(f"preview (masked input | result | {last}): {out / 'preview.png'}")
    if result.trace is not None:
        print(f"decoding traces (masks and predictions per step, GIFs): {out / 'trace'}")


def cmd_generate(args: argparse.Namespace) -> None:
    from maskgit.data.images import image_grid, save_png, to_uint8
    from maskgit.decoding.parallel_decode import per_image_generators

    model = load_model(args.model, args.device)
    config = decode_config(args)
    classes = model.transformer.config.num_classes
    if args.class_id is not None and not classes:
        raise InputError(f"{args.model} is unconditional: drop --class-id (and --cfg-scale)")
    if args.class_id is not None and not 0 <= args.class_id < classes:
        raise InputError(f"--class-id must be in 0..{classes - 1} for this model")
    out = Path(args.out)
    pictures = []
    started = time.perf_counter()
    from tqdm.auto import tqdm

    for start in tqdm(range(0, args.count, args.batch_size), desc="generating", unit="batch"):
        n = min(args.batch_size, args.count - start)
        generators = per_image_generators(range(args.seed + start, args.seed + start + n), model.device)
        class_ids = None if args.class_id is None else torch.full((n,), args.class_id, device=model.device)
        result = model.generate(n, config, class_ids, generators, amp_dtype=amp(args, model.device))
        pictures.append(to_uint8(result.images))
    images = np.concatenate(pictures)
    for i, image in enumerate(images):
        save_png(image, out / f"sample_{i:03d}.png")
    save_png(image_grid(images, columns=8), out / "grid.png")
    seconds = time.perf_counter() - started
    print(f"generated {len(images)} images in {seconds:.1f} s: {out}/sample_*.png, grid {out / 'grid.png'}")
    if args.score:
        score_samples(images, args.score, args.device)


def score_samples(images: np.ndarray, data: str, device: str | None) -> None:
    """Print FID/KID against `data`'s test split and the share of near-duplicates of its training split."""
    from maskgit.data.registry import load_images
    from maskgit.evaluation.fid import cached_features, score_features
    from maskgit.evaluation.generation import NEAR_DUPLICATE_L1, near_duplicate_share
    from maskgit.evaluation.inception import InceptionFeatures

    size, channels = images.shape[1], images.shape[3]
    test = load_images(data, "test", size, channels).images
    train = load_images(data, "train", size, channels).images
    if len(images) < 2:
        raise InputError("--score needs at least 2 samples: raise --count")
    extractor = InceptionFeatures(device=pick_device(device))
    reference = cached_features(test, extractor, progress="Inception: test split")
    scores = score_features(extractor(images, progress="Inception: samples"), reference).as_dict()
    scores["near_duplicates"] = near_duplicate_share(images, train)
    print(
        f"FID {scores['fid']:.2f} against {len(test)} {data} test images, KID {scores['kid']:.4f}; "
        f"{scores['near_duplicates']:.1%} of samples nearly duplicate a training image "
        f"(mean |difference| < {NEAR_DUPLICATE_L1})"
    )
    print(json.dumps({"data": data, **scores}))


def load_fid_images(spec: str, split: str) -> np.ndarray:
    """A folder, a lab test_gt.csv, or a dataset name (its `split`), as uint8 (N, H, W, C)."""
    from maskgit.data.folder import read_folder, read_lab_ground_truth
    from maskgit.data.registry import load_images

    path = Path(spec)
    if path.is_dir():
        return read_folder(path).images
    if path.suffix == ".csv":
        if not path.is_file():
            raise InputError(f"no file {path}")
        return read_lab_ground_truth(path)
    return load_images(spec, split).images


def cmd_fid(args: argparse.Namespace) -> None:
    from maskgit.data.folder import image_files
    from maskgit.data.masks import benchmark_masks, read_mask
    from maskgit.evaluation.fid import cached_features, score_features
    from maskgit.evaluation.inception import InceptionFeatures
    from maskgit.evaluation.masked import masked_region_metrics

    generated = load_fid_images(args.generated, args.split)
    reference = load_fid_images(args.reference, args.split)
    for name, images in (("generated", generated), ("reference", reference)):
        if len(images) < 2:
            raise InputError(f"the {name} set has {len(images)} image(s): FID needs at least 2")
    device = pick_device(args.device)
    extractor = InceptionFeatures(device=device, batch_size=args.batch_size)
    started = time.perf_counter()
    ref_features = cached_features(reference, extractor, progress="Inception: reference")
    gen_features = extractor(generated, progress="Inception: generated")
    scores = score_features(gen_features, ref_features).as_dict()
    if args.masks:
        if generated.shape != reference.shape:
            raise InputError(f"masked metrics pair images one to one: {generated.shape} vs {reference.shape}")
        side = generated.shape[1]
        if args.masks in BENCHMARKS:
            masks = benchmark_masks(len(generated), side, args.masks)
        else:
            masks = np.stack([read_mask(p, side) for p in image_files(Path(args.masks))])
        if len(masks) != len(generated):
            raise InputError(f"{len(masks)} masks for {len(generated)} images")
        scores.update(masked_region_metrics(generated, reference, masks))
    scores["seconds"] = round(time.perf_counter() - started, 2)
    line = f"FID {scores['fid']:.3f}  KID {scores['kid']:.5f} ± {scores['kid_std']:.5f}"
    line += f"  ({len(generated)} vs {len(reference)} images)"
    if "masked_psnr" in scores:
        line += f"  masked L1 {scores['masked_l1']:.4f}  masked PSNR {scores['masked_psnr']:.2f} dB"
    print(line)
    print(json.dumps({"generated": args.generated, "reference": args.reference, **scores}))


def cmd_sweep(args: argparse.Namespace) -> None:
    from maskgit.evaluation.sweep import BASELINES, Sweep, SweepConfig
    from maskgit.evaluation.tables import best_decode

    config = SweepConfig(
        model=str(resolve_model(args.model)),
        data=args.data,
        schedules=[s.strip() for s in args.schedules.split(",")],
        steps=int_list(args.steps),
        sweet_spots=int_list(args.sweet_spots) if args.sweet_spots else [],
        temperature=args.temperature,
        confidence=args.confidence,
        seed=args.seed,
        batch_size=args.batch_size,
        limit=args.limit,
        masks=args.masks,
        baselines=[] if args.no_baselines else list(BASELINES),
    )
    started = time.perf_counter()
    model = load_model(args.model, args.device)
    sweep = Sweep(config, Path(args.out), model=model, amp_dtype=amp(args, model.device))
    rows = sweep.run()
    seconds = time.perf_counter() - started
    print((Path(args.out) / "results.md").read_text())
    best = best_decode(rows)
    if best:
        print(f"best: {best['schedule']} T={best['steps']} S={best['sweet_spot']} FID {best['fid']:.2f}")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in sweep.timings.items()) + f"; total {seconds:.0f} s")
    print(f"sweep folder: {args.out} (results.csv, results.md, fid_vs_steps.png, masked_fraction.png)")


def cmd_report(args: argparse.Namespace) -> None:
    from maskgit.evaluation.report import write_report

    html, markdown = write_report(Path(args.folder), Path(args.out) if args.out else None, run=args.run_folder)
    print(f"report: {html}\nmarkdown twin: {markdown}")


def cmd_demo(args: argparse.Namespace) -> None:
    from maskgit.evaluation.demo import run_demo

    result = run_demo(Path(args.out), quick=args.quick, model=Path(args.model) if args.model else None)
    benchmarks = result.summary["benchmarks"]
    print()
    print(f"{'FID (masked PSNR)':<18}" + "".join(f"{name:>22}" for name in benchmarks))
    for method in dict.fromkeys(m for b in benchmarks.values() for m in b["scores"]):
        cells = [b["scores"].get(method) for b in benchmarks.values()]
        text = [f"{c['fid']:.2f} ({c['masked_psnr']:.2f} dB)" if c else "" for c in cells]
        print(f"{method:<18}" + "".join(f"{t:>22}" for t in text))
    images = ", ".join(f"{name} {b['images']}" for name, b in benchmarks.items())
    print(f"images: {images}; summary: {Path(args.out) / 'summary.json'}")
    print()
    print("time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.phases.items()))
    print(f"report: {result.report}")


def _decoding_arguments(p: argparse.ArgumentParser, preset: str) -> None:
    """--decoding picks a named setting (DECODE_PRESETS); each flag given overrides one of its fields."""
    d = DecodeConfig.preset(preset)
    p.add_argument(
        "--decoding",
        default=preset,
        choices=list(DECODE_PRESETS),
        help=f"named decoding settings (default {preset}; seeds: the lab's); the flags below override them",
    )
    p.add_argument("--schedule", help=f"mask schedule gamma: cosine, linear, square, ... ({preset}: {d.schedule})")
    p.add_argument("--steps", type=int, help=f"total decoding steps T ({preset}: {d.total_steps})")
    p.add_argument("--sweet-spot", type=int, default=None, help="stop after S <= T steps (default T)")
    p.add_argument("--temperature", type=float, help=f"choice temperature t0 ({preset}: {d.choice_temperature})")
    p.add_argument("--confidence", choices=CONFIDENCE_RULES, help=f"confidence rule, README ({preset}: {d.confidence})")


def _runtime_arguments(p: argparse.ArgumentParser, batch: int = 64) -> None:
    p.add_argument("--batch-size", type=int, default=batch, help=f"images per batch (default {batch})")
    p.add_argument("--seed", type=int, default=0, help="image i is decoded with seed + i (default 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast on a GPU, fp32 on a CPU (bf16 is slower on CPUs without AVX-512 BF16)",
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
    p.add_argument("--limit", type=int, default=0, help="only the first N images")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--trace", action="store_true", help="also write per-step mask and prediction strips and a GIF")
    _decoding_arguments(p, "inpaint")
    _runtime_arguments(p)
    p.set_defaults(run=cmd_inpaint)

    p = sub.add_parser("generate", help="sample images from scratch (all tokens masked)")
    p.add_argument("--model", required=True, help="a run folder or a .safetensors checkpoint")
    p.add_argument("--count", type=int, default=16, help="images to sample (default 16)")
    p.add_argument("--class-id", type=int, default=None, help="class to sample (class-conditional models)")
    p.add_argument("--cfg-scale", type=float, help="classifier-free guidance scale (generate preset: 1.0)")
    p.add_argument("--out", required=True, help="output folder (sample_000.png ..., grid.png)")
    p.add_argument(
        "--score",
        metavar="DATASET",
        help="also score the samples: FID against DATASET's test split, share of near-copies of its train split",
    )
    _decoding_arguments(p, "generate")
    _runtime_arguments(p)
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser(
        "fid",
        help="FID and KID (InceptionV3 pool3) between two image sets",
        description="GENERATED and REFERENCE are each a folder of images, a lab test_gt.csv, or a "
        "dataset name (emoji, lab:PATH, fashion-mnist, folder:PATH) whose --split is used.",
    )
    p.add_argument("generated")
    p.add_argument("reference")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split of a dataset name")
    p.add_argument(
        "--masks", help="also masked-region L1/PSNR: a mask folder, or the benchmark masks' name (strokes or large)"
    )
    p.add_argument("--batch-size", type=int, default=8, help="Inception batch (default 8)")
    p.add_argument("--device", default=None)
    p.set_defaults(run=cmd_fid)

    p = sub.add_parser("sweep", help="inpaint a benchmark for schedules x steps, FID each, with baselines")
    p.add_argument("--model", required=True, help="a run folder or a .safetensors checkpoint")
    p.add_argument("--data", default="emoji", help="emoji or lab:PATH (default emoji)")
    p.add_argument("--schedules", default=DEFAULT_SCHEDULES, help=f"comma-separated (default {DEFAULT_SCHEDULES})")
    p.add_argument("--steps", default=DEFAULT_STEPS, help=f"comma-separated step counts T (default {DEFAULT_STEPS})")
    p.add_argument("--sweet-spots", default="", help="comma-separated sweet spots S, each scored for every T > S")
    p.add_argument("--temperature", type=float, default=DecodeConfig().choice_temperature, help="choice temperature t0")
    p.add_argument(
        "--confidence", default=DecodeConfig().confidence, choices=CONFIDENCE_RULES, help="confidence rule (README)"
    )
    p.add_argument("--masks", default="strokes", choices=list(BENCHMARKS), help="benchmark masks (default strokes)")
    p.add_argument("--limit", type=int, default=0, help="only the first N test images (quick looks)")
    p.add_argument("--no-baselines", action="store_true", help="skip OpenCV, raw and tokenizer baselines")
    p.add_argument("--out", required=True, help="sweep folder (resumable: finished cells are skipped)")
    _runtime_arguments(p)
    p.set_defaults(run=cmd_sweep)

    p = sub.add_parser(
        "demo",
        help="the shipped emoji model inpaints the emoji test set, scores itself, reports",
        description="Inpaints the 747 emoji test images (fixed benchmark masks) with the cosine, "
        "linear and square schedules (T=4, greedy confidence), computes FID against the ground truth "
        "next to OpenCV Telea inpainting, and writes an HTML report. No training. Resumable: a second "
        "run reuses finished cells; `maskgit sweep --out` on the same folder adds more.",
    )
    p.add_argument("--quick", action="store_true", help="the first 48 test images only (about a minute)")
    p.add_argument("--out", default="maskgit-demo", help="output folder (default maskgit-demo)")
    p.add_argument("--model", help="another checkpoint instead of the shipped one")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("report", help="one self-contained HTML report (and markdown) of a sweep or a run")
    p.add_argument("folder", help="a sweep folder or a training run folder")
    p.add_argument("--run", dest="run_folder", help="the training run folder to include (default: the model's folder)")
    p.add_argument("--out", help="HTML path (default FOLDER/report.html)")
    p.set_defaults(run=cmd_report)
