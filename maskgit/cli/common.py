"""What every command shares: finding models and devices, reading decoding flags (defaults from the
config dataclasses, never copied), and the flag groups several commands take."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import torch

from maskgit.decoding.config import CONFIDENCE_RULES, DECODE_PRESETS, TOKEN_ORDERS, DecodeConfig
from maskgit.errors import InputError


def resolve_model(path: str) -> Path:
    """A checkpoint file, or a run folder's best checkpoint (maskgit.checkpoint.resolve_checkpoint)."""
    from maskgit.checkpoint import resolve_checkpoint

    return resolve_checkpoint(path)


def load_model(path: str, device: str | None):
    from maskgit.pipeline import MaskGIT

    return MaskGIT.load(resolve_model(path), device=pick_device(device))


def pick_device(device: str | None) -> torch.device:
    """--device: None picks cuda when there is one, else cpu; a device this machine lacks is an InputError."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        picked = torch.device(device)
    except RuntimeError as error:
        raise InputError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from error
    if picked.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"--device {device}: this machine has no CUDA GPU (or this torch has no CUDA): use cpu")
        if picked.index is not None and picked.index >= count:
            raise InputError(f"--device {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif picked.type != "cpu":
        raise InputError(f"--device {device}: maskgit runs on cpu or cuda")
    return picked


def at_least(
    minimum: float, kind: type = int, maximum: float = math.inf, *, strict: bool = False
) -> Callable[[str], float]:
    """An argparse type: a number of `kind` (int or float) that is finite, at least `minimum` (above it when
    `strict`), at most `maximum`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'above' if strict else 'at least'} {minimum}, got {text}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {text}")
        return value

    parse.__name__ = kind.__name__  # what argparse names in its messages
    return parse


COUNT = at_least(1)  # counts of images, steps, batch sizes
INDEX = at_least(0)  # limits (0: all), ids
SEED = at_least(0, maximum=2**63 - 1)  # image i takes seed + i, which must stay below torch's 2**64
NON_NEGATIVE = at_least(0.0, float)  # temperatures, scales
POSITIVE = at_least(0.0, float, strict=True)  # divisors: the sampled rule's softmax temperature


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
        "sample_temperature": args.sample_temperature,
        "cfg_scale": getattr(args, "cfg_scale", None),
        "cfg_schedule": getattr(args, "cfg_schedule", None),
        "order": args.order,
        "refine_steps": args.refine_steps,
        "grow": getattr(args, "grow", None),
        "blend": getattr(args, "blend", None),
    }
    return replace(DecodeConfig.preset(args.decoding), **{k: v for k, v in flags.items() if v is not None})


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
    p.add_argument("--steps", type=COUNT, help=f"total decoding steps T ({preset}: {d.total_steps})")
    p.add_argument("--sweet-spot", type=COUNT, default=None, help="stop after S <= T steps (default T)")
    p.add_argument("--temperature", type=NON_NEGATIVE, help=f"choice temperature t0 ({preset}: {d.choice_temperature})")
    p.add_argument("--confidence", choices=CONFIDENCE_RULES, help=f"confidence rule, README ({preset}: {d.confidence})")
    p.add_argument(
        "--sample-temperature",
        type=POSITIVE,
        help=f"softmax temperature of the sampled rule's draw; below 1 favours likelier codes "
        f"({preset}: {d.sample_temperature})",
    )
    p.add_argument(
        "--order",
        choices=TOKEN_ORDERS,
        help=f"which tokens a step fixes: the most confident, or the next in a Halton order ({preset}: {d.order})",
    )
    p.add_argument(
        "--refine-steps",
        type=INDEX,
        help=f"passes after T that decode again the least confident quarter ({preset}: {d.refine_steps})",
    )


def editing_arguments(p: argparse.ArgumentParser, preset: str) -> None:
    """--grow and --blend: how inpainting edits around a hole (DecodeConfig), for the commands that inpaint."""
    d = DecodeConfig.preset(preset)
    p.add_argument("--grow", type=INDEX, help=f"rings of tokens around a hole decoded again ({preset}: {d.grow})")
    p.add_argument(
        "--blend",
        type=NON_NEGATIVE,
        help=f"blur sigma (pixels) of the mask the fill is blended in through; 0 pastes ({preset}: {d.blend})",
    )


def runtime_arguments(p: argparse.ArgumentParser, batch: int, seed: bool = True) -> None:
    p.add_argument("--batch-size", type=COUNT, default=batch, help=f"images per batch (default {batch})")
    if seed:
        p.add_argument("--seed", type=SEED, default=0, help="image i is decoded with seed + i (default 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    precision_argument(p)


def precision_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto (default): bf16 autocast on a GPU or a CPU with native bf16 (AVX-512 BF16, AMX), else fp32",
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


def strict_argument(p: argparse.ArgumentParser) -> None:
    """--strict: refuse unreadable image files instead of skipping them with a warning (the rule everywhere)."""
    p.add_argument("--strict", action="store_true", help="refuse unreadable image files instead of skipping them")
