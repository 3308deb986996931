"""Commands about models: the named presets, what a checkpoint holds, importing the lab's checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from maskgit.checkpoint import read_checkpoint
from maskgit.cli.common import COUNT
from maskgit.convert.lab import LAB_HEADS
from maskgit.errors import InputError
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
    extra = dict(header.get("extra", {}))
    names, counts = extra.pop("class_names", None), extra.pop("class_counts", None)
    for key, value in extra.items():
        print(f"  {key}: {value}")
    if names:  # a class-conditional model: the ids `maskgit generate --class-id` takes
        counts = counts if counts and len(counts) == len(names) else None
        print(f"  classes ({len(names)}; id: name, training images):" if counts else f"  classes ({len(names)}):")
        for k, name in enumerate(names):
            print(f"    {k}: {name}" + (f", {counts[k]}" if counts else ""))


def cmd_import_lab(args: argparse.Namespace) -> None:
    """The lab's VQGAN (+ transformer) checkpoints -> one maskgit checkpoint (maskgit.convert.lab)."""
    from maskgit.convert.lab import import_lab

    out = Path(args.out)
    inputs = [args.vqgan, args.vqgan_config, args.transformer, args.transformer_config]
    if out.is_dir() or any(p is not None and Path(p).resolve() == out.resolve() for p in inputs):
        raise InputError(f"--out {out} is a folder or one of the inputs: give a new .safetensors file name")
    tokenizer, transformer = import_lab(
        args.out,
        vqgan=args.vqgan,
        vqgan_config=args.vqgan_config,
        transformer=args.transformer,
        transformer_config=args.transformer_config,
        heads=args.heads,
    )
    parts = [f"VQGAN {_millions(tokenizer)}"] + ([f"transformer {_millions(transformer)}"] if transformer else [])
    print(f"imported {' + '.join(parts)} into {args.out}")
    if transformer is None:
        print(f"a tokenizer only: train a transformer on it with `maskgit train transformer --tokenizer {args.out}`")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the named model presets and their sizes")
    p.set_defaults(run=cmd_presets)
    p = sub.add_parser("inspect", help="show what a checkpoint holds")
    p.add_argument("checkpoint", help="a .safetensors checkpoint written by maskgit")
    p.set_defaults(run=cmd_inspect)
    p = sub.add_parser(
        "import-lab",
        help="convert the lab's VQGAN (+ transformer) checkpoints into one maskgit checkpoint",
        description="Reads the lab's VQGAN.pt (a state dict) with its VQGAN.yml and, optionally, a transformer "
        "checkpoint saved by its training script with MaskGit.yml, and writes one .safetensors of the `lab` "
        "presets. Files are loaded with torch.load(weights_only=True): anything but tensors is refused.",
    )
    p.add_argument("--vqgan", required=True, help="the lab's VQGAN checkpoint (models/VQGAN/checkpoints/VQGAN.pt)")
    p.add_argument("--vqgan-config", required=True, help="its config (models/VQGAN/config/VQGAN.yml)")
    p.add_argument("--transformer", help="a transformer checkpoint saved by the lab's training_transformer.py")
    p.add_argument("--transformer-config", help="its config (config/MaskGit.yml)")
    p.add_argument("--heads", type=COUNT, default=LAB_HEADS, help=f"attention heads (default {LAB_HEADS}, the lab's)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.set_defaults(run=cmd_import_lab)
