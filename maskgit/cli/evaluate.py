"""Scoring: `maskgit fid` and `maskgit tokenizer-metrics` (and generate --score's scoring)."""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

import numpy as np

from maskgit.classes import ClassVocabulary
from maskgit.cli.common import COUNT, pick_device, strict_argument
from maskgit.data.masks import BENCHMARKS
from maskgit.errors import DataError, InputError
from maskgit.evaluation.inception import InceptionFeatures


def score_samples(
    images: np.ndarray,
    data: str,
    device: str | None,
    class_id: int | None = None,
    classes: ClassVocabulary | None = None,
    copies_of: str | None = None,
    sample_classes: np.ndarray | None = None,
) -> dict:
    """Print (and return) FID/KID against `data`'s test split, precision and recall, the share of near-duplicates
    of the training split of `copies_of` (default `data`; name every style a model was trained on), with
    `class_id` also FID/KID against that class's test images alone (labelled as the model's `classes` were), and
    with each sample's class (`sample_classes`, (N,) ids of `classes`) the share recognised as their class by
    their nearest test image (maskgit.evaluation.generation.class_match), where the test split has those classes."""
    from maskgit.data.registry import load_images
    from maskgit.evaluation.fid import cached_features, score_features
    from maskgit.evaluation.generation import NEAR_DUPLICATE_L1, class_match, near_duplicate_share, precision_recall
    from maskgit.evaluation.inception import InceptionFeatures

    copies_of = copies_of or data
    size, channels = images.shape[1], images.shape[3]
    try:
        test = load_images(data, "test", size, channels, labels=classes.labels if classes is not None else "category")
    except DataError:
        if class_id is not None:  # the class FID needs the model's labels
            raise
        test = load_images(data, "test", size, channels)  # the data lacks the model's label kind: no class match
    train = load_images(copies_of, "train", size, channels).images
    if len(images) < 2:
        raise InputError("--score needs at least 2 samples: raise --count")
    extractor = InceptionFeatures(device=pick_device(device))
    reference = cached_features(test.images, extractor, progress="Inception: test split")
    samples = extractor(images, progress="Inception: samples")
    scores = score_features(samples, reference).as_dict()
    scores["precision"], scores["recall"] = precision_recall(reference, samples)
    scores["near_duplicates"] = near_duplicate_share(images, train)
    print(
        f"FID {scores['fid']:.2f} against {len(test)} {data} test images, KID {scores['kid']:.4f}; "
        f"precision {scores['precision']:.3f}, recall {scores['recall']:.3f}; "
        f"{scores['near_duplicates']:.1%} of samples nearly duplicate a training image "
        f"of {copies_of} (mean |difference| < {NEAR_DUPLICATE_L1})"
    )
    if class_id is not None and test.labels is not None:
        of_class = test.labels == class_id
        if of_class.sum() < 2:
            raise InputError(f"{data}'s test split holds fewer than 2 images of class {class_id}: no class FID")
        name = test.class_names[class_id] if test.class_names else str(class_id)
        per_class = score_features(samples, reference[of_class]).as_dict()
        scores["class_fid"], scores["class_kid"] = per_class["fid"], per_class["kid"]
        print(f"class {class_id} ({name}): FID {per_class['fid']:.2f} against its {int(of_class.sum())} test images")
    same_classes = classes is not None and test.labels is not None and test.class_names == list(classes.names)
    if sample_classes is not None and same_classes and np.isin(sample_classes, test.labels).any():
        scores["class_match"], counted = class_match(reference, test.labels, samples, np.asarray(sample_classes))
        print(
            f"{scores['class_match']:.1%} of the {counted} samples of a class the test split holds are recognised "
            f"as their class (their nearest test image in Inception features has it)"
        )
    print(json.dumps({"data": data, **scores}))
    return scores


def manifest_outputs(folder: Path) -> list[str] | None:
    """The result files an output folder's manifest lists (maskgit inpaint / generate), else None."""
    from maskgit.fileio import MANIFEST

    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        outputs = json.loads(path.read_text())["outputs"]
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path} is damaged ({error.__class__.__name__}): re-run the command that wrote it") from error
    if not isinstance(outputs, list) or not all(isinstance(n, str) for n in outputs):
        raise InputError(f"{path}: 'outputs' must list file names")
    return outputs


def load_fid_images(spec: str, split: str, strict: bool = False) -> np.ndarray:
    """A folder, a lab test_gt.csv, or a dataset name (its `split`), as uint8 (N, H, W, C)."""
    from maskgit.data.folder import read_folder, read_lab_ground_truth
    from maskgit.data.registry import load_images

    path = Path(spec)
    if path.is_dir():
        return read_folder(path, names=manifest_outputs(path), strict=strict).images
    if path.is_file() and path.suffix == ".csv":
        return read_lab_ground_truth(path)
    if "/" in spec.partition(":")[0] or spec.startswith(".") or path.suffix:  # a path, not a dataset name
        raise InputError(f"no folder or file at {spec}: give a folder of images, a test_gt.csv or a dataset name")
    return load_images(spec, split).images


def cmd_fid(args: argparse.Namespace) -> None:
    from maskgit.data.folder import image_files
    from maskgit.data.masks import benchmark_masks, read_masks
    from maskgit.evaluation.fid import cached_features, score_features
    from maskgit.evaluation.inception import InceptionFeatures
    from maskgit.evaluation.masked import masked_region_metrics

    generated = load_fid_images(args.generated, args.split, args.strict)
    reference = load_fid_images(args.reference, args.split, args.strict)
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
            masks, _ = read_masks(image_files(Path(args.masks)), side)
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


def cmd_tokenizer_metrics(args: argparse.Namespace) -> None:
    """Reconstruction L1 / PSNR / codebook use of a tokenizer on a dataset split, and with --fid its FID/KID."""
    import json

    import torch

    from maskgit.checkpoint import load_checkpoint
    from maskgit.data import load_images
    from maskgit.data.images import to_uint8
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
    if args.fid:
        from maskgit.evaluation.fid import cached_features, score_features

        extractor = InceptionFeatures(device=pick_device(args.device))
        with torch.no_grad():
            reconstruction, _ = tokenizer.to(extractor.device).eval().reconstruct(images.tensors().to(extractor.device))
        reference = cached_features(images.images, extractor, progress=f"Inception: {args.split} split")
        features = extractor(to_uint8(reconstruction.cpu()), progress="Inception: reconstructions")
        scores = score_features(features, reference)
        metrics |= {"fid": scores.fid, "kid": scores.kid}
        print(f"reconstruction FID {scores.fid:.2f}, KID {scores.kid:.4f} against the {len(images)} images themselves")
    print(json.dumps({"data": args.data, "split": args.split, "images": len(images), **metrics}))


def add_commands(sub: argparse._SubParsersAction) -> None:
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
    batch = inspect.signature(InceptionFeatures).parameters["batch_size"].default
    p.add_argument("--batch-size", type=COUNT, default=batch, help=f"Inception batch (default {batch})")
    p.add_argument("--device", default=None)
    strict_argument(p)
    p.set_defaults(run=cmd_fid)

    p = sub.add_parser("tokenizer-metrics", help="a tokenizer's reconstruction L1, PSNR and codebook use")
    p.add_argument("--model", required=True, help="a checkpoint holding a tokenizer")
    p.add_argument("--data", default="emoji")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--fid", action="store_true", help="also the reconstructions' FID and KID against the images")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    p.set_defaults(run=cmd_tokenizer_metrics)
