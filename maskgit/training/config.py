"""Training configs: dataclasses read from YAML files in configs/ plus `--set key=value` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
import yaml

from maskgit.config import config_from_dict, config_to_dict, field_default, replace_config, require, typed_fields
from maskgit.errors import ConfigError
from maskgit.fileio import atomic_write
from maskgit.masking.mix import check_mask_mix
from maskgit.masking.schedules import check_schedule
from maskgit.precision import PRECISIONS
from maskgit.tokenizer.config import TokenizerConfig
from maskgit.training.runtime import DEVICES
from maskgit.transformer.config import TransformerConfig

C = TypeVar("C")
EXPORT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


@dataclass(frozen=True)
class LoopConfig:
    """What every training run shares: data, duration, optimizer, precision, checkpoints, logging."""

    data: str = "emoji"
    out_dir: str = "runs/run"
    epochs: int = 10
    max_steps: int = 0  # stop after this many optimizer steps (0: run all epochs)
    minutes: float = 0.0  # a time budget: the steps that fit, from the speed of the first steps and epoch (0: none)
    batch_size: int = 32  # per process and micro-step; global batch = batch_size * processes * grad_accum
    grad_accum: int = 1
    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 200
    lr_schedule: str = "cosine"  # "cosine" (warm-up then cosine) or "plateau" (ReduceLROnPlateau, seed 002)
    betas: tuple[float, float] = (0.9, 0.96)
    weight_decay: float = 0.045
    grad_clip: float = 1.0  # max gradient norm (0: off)
    device: str = "auto"  # "auto": a GPU per process when there are GPUs, else the CPU; "cuda"; "cpu"
    precision: str = "auto"  # "fp32", "bf16" (autocast) or "auto": bf16 where native (maskgit.precision)
    ema_decay: float = 0.999  # EMA of the weights for evaluation and export (0: off)
    checkpoint_every: int = 500  # optimizer steps between checkpoints (and one at the end)
    keep_last: int = 3  # training-state checkpoints kept, besides the best
    export_dtype: str = "fp32"  # best/model.safetensors weights: "fp32", or "fp16" (half the size, to ship)
    log_every: int = 20
    seed: int = 0  # epoch orders and each step's masks; with init_from, mixed with the start's hash, so a continued
    # run never replays its parent's batches (MODEL_CARD.md, "Leg 16": +0.045 val loss when it did)
    flip: bool = True  # horizontal-flip augmentation
    strict_data: bool = False  # refuse unreadable image files instead of skipping them with a warning

    def check(self) -> None:
        typed_fields(self)
        require(
            self.epochs >= 1 and self.batch_size >= 1 and self.grad_accum >= 1, "epochs, batch_size, grad_accum >= 1"
        )
        require(
            self.lr_schedule in ("cosine", "plateau"),
            f"lr_schedule must be cosine or plateau, not {self.lr_schedule!r}",
        )
        require(
            self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
        )
        require(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        require(0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}")
        require(self.checkpoint_every >= 1 and self.keep_last >= 1, "checkpoint_every and keep_last must be >= 1")
        require(self.export_dtype in EXPORT_DTYPES, f"export_dtype must be fp32 or fp16, not {self.export_dtype!r}")
        require(self.lr > 0, f"lr must be above 0, got {self.lr}")
        require(0.0 <= self.min_lr_ratio <= 1.0, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"betas must be in [0, 1), got {list(self.betas)}")
        for name in ("max_steps", "minutes", "warmup_steps", "weight_decay", "grad_clip"):
            require(getattr(self, name) >= 0, f"{name} must be at least 0, got {getattr(self, name)}")
        require(self.log_every >= 1, f"log_every must be at least 1, got {self.log_every}")

    @property
    def export_torch_dtype(self) -> torch.dtype:
        return EXPORT_DTYPES[self.export_dtype]


@dataclass(frozen=True)
class TransformerTrainConfig(LoopConfig):
    """Stage 2: masked visual token modeling on a frozen tokenizer's tokens."""

    out_dir: str = "runs/transformer"
    tokenizer: str = ""  # the tokenizer checkpoint (.safetensors) whose tokens the transformer learns
    preset: str = "emoji"  # transformer preset; codebook_size and num_tokens come from the tokenizer
    model: dict[str, Any] = field(default_factory=dict)  # TransformerConfig fields to change from the preset
    mask_schedule: str = "cosine"
    # Share of samples per training mask kind (maskgit.masking.mix): "uniform" (MaskGIT's, ratios from
    # mask_schedule) and hole shapes "strokes", "boxes", "outpaint", "large" through decoding's pixel-to-token rule
    mask_mix: dict[str, float] = field(default_factory=lambda: {"uniform": 1.0})
    loss_on: str = "all"  # "all" tokens (seed 002's better variant) or "masked" only (the paper)
    label_smoothing: float = 0.1
    codebook_smoothing: float = 0.0  # share of the loss against the true code's codebook neighbours (PUT)
    embedding_from_codebook: bool = False  # the token embedding (input and tied output) starts from the VQ codes
    class_conditional: bool = False  # a class token from the dataset's labels (for guided generation)
    class_dropout: float = 0.1  # class-conditional: share of uniform-mask samples given the null class (hole rows: all)
    class_labels: str = "category"  # which labels are the classes: "category", or "subcategory" (emoji only)
    sample_images: int = 16  # validation images inpainted into a sample grid after every epoch
    init_from: str = ""  # a checkpoint whose transformer weights start the run: fine-tuning, or growing (more depth)

    def check(self) -> None:
        super().check()
        require(bool(self.tokenizer), "set `tokenizer` to a tokenizer checkpoint (maskgit train-tokenizer makes one)")
        require(self.loss_on in ("all", "masked"), f"loss_on must be all or masked, not {self.loss_on!r}")
        require(0.0 <= self.label_smoothing < 1.0, f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        smoothing = self.codebook_smoothing
        require(0.0 <= smoothing <= 1.0, f"codebook_smoothing must be in [0, 1], got {smoothing}")
        require(0.0 <= self.class_dropout < 1.0, f"class_dropout must be in [0, 1), got {self.class_dropout}")
        kinds = ("category", "subcategory")
        require(self.class_labels in kinds, f"class_labels must be {' or '.join(kinds)}, not {self.class_labels!r}")
        require(self.sample_images >= 0, f"sample_images must be at least 0, got {self.sample_images}")
        check_schedule(self.mask_schedule)
        check_mask_mix(self.mask_mix)

    def transformer_config(self, tokenizer: TokenizerConfig) -> TransformerConfig:
        base = replace_config(
            TransformerConfig.preset(self.preset),
            codebook_size=tokenizer.codebook_size,
            num_tokens=tokenizer.num_tokens,
        )
        return replace_config(base, **_tuples(self.model))


@dataclass(frozen=True)
class TokenizerTrainConfig(LoopConfig):
    """Stage 1: the VQGAN, with reconstruction, perceptual, codebook and adversarial losses."""

    out_dir: str = "runs/tokenizer"
    preset: str = "emoji"
    model: dict[str, Any] = field(default_factory=dict)  # TokenizerConfig fields to change from the preset
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    ema_decay: float = 0.0
    l1_weight: float = 1.0
    l2_weight: float = 0.0
    perceptual_weight: float = 0.1  # EfficientNet-Lite0 features (0: off, no extra package needed)
    gan_weight: float = 0.1  # PatchGAN hinge loss, scaled by the adaptive weight (0: off)
    gan_start_step: int = 2000  # the discriminator joins after this many steps
    discriminator_channels: int = 64
    restart_dead_codes_every: int = 200  # steps between dead-code restarts (0: never)
    dead_code_threshold: float = 0.03
    sample_images: int = 16  # val images shown with their reconstructions after every epoch
    init_from: str = ""  # a checkpoint whose tokenizer weights start the run (same config); a new discriminator
    # Train the decoder alone (needs init_from): the encoder, the codebook and so every token id stay as they are,
    # so transformers trained on the init_from tokenizer keep working with the new one. No dead-code restarts.
    train_decoder_only: bool = False

    def check(self) -> None:
        super().check()
        for name in (
            "l1_weight",
            "l2_weight",
            "perceptual_weight",
            "gan_weight",
            "gan_start_step",
            "restart_dead_codes_every",
            "dead_code_threshold",
            "sample_images",
        ):
            require(getattr(self, name) >= 0, f"{name} must be at least 0, got {getattr(self, name)}")
        require(self.discriminator_channels >= 1, "discriminator_channels must be at least 1")
        require(
            not self.train_decoder_only or bool(self.init_from),
            "train_decoder_only keeps a trained tokenizer's codes: set init_from to that tokenizer's checkpoint",
        )

    def tokenizer_config(self) -> TokenizerConfig:
        return replace_config(TokenizerConfig.preset(self.preset), **_tuples(self.model))


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes key=value, got {item!r}")
    try:
        return key.split("."), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {item}: the value is not valid YAML: {yaml_problem(error)}") from error


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def load_train_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> C:
    """A training config from an optional YAML file, then `key=value` overrides (dots reach into `model`)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as error:
            raise ConfigError(f"cannot read config {path} ({error.strerror})") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {yaml_problem(error)}") from error
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of config keys")
    for item in overrides:
        keys, value = parse_override(item)
        target = data
        for depth, key in enumerate(keys[:-1]):
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                group = ".".join(keys[: depth + 1])
                raise ConfigError(f"--set {item}: {group} is a value, not a group (only model.FIELD=VALUE nests)")
        target[keys[-1]] = value
    config = config_from_dict(cls, data)
    config.check()  # type: ignore[attr-defined]
    return config


def save_train_config(config: Any, path: Path) -> None:
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def differences(saved: dict[str, Any], current: Any, ignore: tuple[str, ...] = ()) -> list[str]:
    """Names of the fields whose values differ between a saved config dict and a config.

    A field the saved config lacks (a run from before the field existed) counts as its default value.
    """
    now = config_to_dict(current)
    keys = [f.name for f in dataclasses.fields(current) if f.name not in ignore]
    then = {k: saved[k] if k in saved else field_default(type(current), k) for k in keys}
    return [f"{k} ({then[k]!r} -> {now[k]!r})" for k in keys if _normal(then[k]) != _normal(now[k])]


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
