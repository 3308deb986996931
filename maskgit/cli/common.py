"""What every command shares: finding models and devices, reading decoding flags (defaults from the
config dataclasses, never copied), and the flag groups several commands take."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from maskgit.decoding.config import CONFIDENCE_RULES, DECODE_PRESETS, DecodeConfig
from maskgit.errors import InputError


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


def decoding_arguments(p: argparse.ArgumentParser, preset: str) -> None:
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


def runtime_arguments(p: argparse.ArgumentParser, batch: int) -> None:
    p.add_argument("--batch-size", type=int, default=batch, help=f"images per batch (default {batch})")
    p.add_argument("--seed", type=int, default=0, help="image i is decoded with seed + i (default 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast on a GPU, fp32 on a CPU (bf16 is slower on CPUs without AVX-512 BF16)",
    )


def fill_argument(p: argparse.ArgumentParser) -> None:
    """--fill: what the tokenizer sees in place of missing pixels (maskgit.decoding.fill)."""
    from maskgit.decoding.fill import DEFAULT_FILL, FILLS

    p.add_argument(
        "--fill",
        default=DEFAULT_FILL,
        choices=FILLS,
        help=f"what the tokenizer sees in the holes: OpenCV telea or navier-stokes, or grey (the seeds'); "
        f"default {DEFAULT_FILL}. Every unknown token is still the transformer's choice",
    )
