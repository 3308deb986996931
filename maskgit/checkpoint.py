"""Checkpoints: one safetensors file holding the weights of one or both models and their configs.

The configs travel as JSON in the safetensors header (metadata key "maskgit"), next to a format
version, so a file can never be separated from the config that built it:

    {"format_version": 2, "models": {"tokenizer": {...TokenizerConfig...}, "transformer": {...}}, "extra": {...}}

Tensors are named "<model>.<state-dict key>". Files are written to a temporary name and renamed, so a
crash mid-save never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from maskgit.config import config_from_dict, config_to_dict
from maskgit.errors import CheckpointError, ConfigError
from maskgit.fileio import atomic_write
from maskgit.tokenizer.config import TokenizerConfig
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.transformer.attention import fuse_qkv
from maskgit.transformer.config import TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer

FORMAT_VERSION = 2  # 2: fused attention projections (qkv_proj); format 1 files are upgraded when read
METADATA_KEY = "maskgit"
MODEL_TYPES: dict[str, tuple[type, type[nn.Module]]] = {
    "tokenizer": (TokenizerConfig, VQGAN),
    "transformer": (TransformerConfig, BidirectionalTransformer),
}


@dataclass
class LoadedCheckpoint:
    tokenizer: VQGAN | None
    transformer: BidirectionalTransformer | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.metadata.get("models", {}))


def save_checkpoint(
    path: str | Path,
    *,
    tokenizer: VQGAN | None = None,
    transformer: BidirectionalTransformer | None = None,
    dtype: torch.dtype | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Save one or both models (and JSON-serialisable `extra` facts) to `path` atomically.

    dtype: store floating-point tensors in this dtype (e.g. torch.float16 to halve the file); loading
    casts them back to float32.
    """
    models = {
        name: model for name, model in (("tokenizer", tokenizer), ("transformer", transformer)) if model is not None
    }
    if not models:
        raise ConfigError("save_checkpoint needs a tokenizer, a transformer or both")
    tensors: dict[str, Tensor] = {}
    for name, model in models.items():
        for key, value in model.state_dict().items():
            value = value.detach().cpu()
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            tensors[f"{name}.{key}"] = value.contiguous()
    header = {
        "format_version": FORMAT_VERSION,
        "models": {name: config_to_dict(model.config) for name, model in models.items()},
        "extra": dict(extra or {}),
    }
    metadata = {METADATA_KEY: json.dumps(header)}
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder: its best.safetensors (lowest validation loss), else model.safetensors."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.safetensors", "model.safetensors"):
            if (p / name).is_file():
                return p / name
        raise CheckpointError(
            f"{p} holds no best.safetensors or model.safetensors: is it a `maskgit train` run folder?"
        )
    if not p.is_file():
        raise CheckpointError(f"no model at {p}: give a run folder or a .safetensors checkpoint")
    return p


PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save's zip format, and a bare pickle


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The header dict and the tensors of a checkpoint file (or a run folder's, see resolve_checkpoint), or a
    CheckpointError saying what is wrong. Nothing is ever unpickled."""
    path = resolve_checkpoint(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    except (SafetensorError, OSError) as error:
        with open(path, "rb") as f:
            if f.read(4).startswith(PICKLE_MAGIC):
                raise CheckpointError(
                    f"{path} is a PyTorch pickle (torch.save), not a safetensors checkpoint: maskgit never unpickles "
                    "files (unpickling can run code); in code you trust, load it and save the models with MaskGIT.save"
                ) from error
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({error}): it is corrupt or truncated; save or copy it again"
        ) from error
    if raw is None:
        raise CheckpointError(
            f"{path} is a safetensors file but not a maskgit checkpoint (no '{METADATA_KEY}' metadata)"
        )
    try:
        header = json.loads(raw)
        version = int(header["format_version"])
        header["models"] = dict(header["models"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} has a damaged maskgit header ({error}): save the checkpoint again") from error
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, newer than this maskgit reads ({FORMAT_VERSION}): upgrade maskgit"
        )
    return header, tensors


def load_state(module: nn.Module, tensors: Mapping[str, Tensor], source: str) -> None:
    """Load `tensors` (keys without prefix) into `module`, naming any missing, extra or misshapen tensor."""
    check_fit(module.state_dict(), tensors, source)
    expected = module.state_dict()
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def check_fit(expected: Mapping[str, Tensor], tensors: Mapping[str, Tensor], source: str) -> None:
    """CheckpointError unless `tensors` has exactly the keys and shapes of `expected` (a state dict, which may
    live on the meta device: nothing is allocated)."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}")
        raise CheckpointError(f"{source}: the weights do not fit the model ({'; '.join(parts)})")
    for key, value in sorted(tensors.items()):
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{source}: tensor {key} has shape {tuple(value.shape)} in the file but the model expects "
                f"{tuple(expected[key].shape)}: the weights do not fit the config"
            )


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild every model a checkpoint holds from its config and load its weights (float32, eval mode)."""
    header, tensors = read_checkpoint(path)
    built: dict[str, nn.Module] = {}
    for name, config_dict in header["models"].items():
        if name not in MODEL_TYPES:
            raise CheckpointError(f"{path} holds an unknown model {name!r}: it was written by another program")
        config_cls, model_cls = MODEL_TYPES[name]
        try:
            config = config_from_dict(config_cls, config_dict)
        except (ConfigError, TypeError) as error:
            raise CheckpointError(f"{path}: the {name} config is invalid ({error})") from error
        prefix = f"{name}."
        own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if int(header["format_version"]) < 2:
            fuse_qkv(own)
        with torch.device("meta"):  # the config's shapes, checked against the file before anything is allocated
            skeleton = model_cls(config)
        check_fit(skeleton.state_dict(), own, f"{path} ({name})")
        model = model_cls(config)
        load_state(model, own, f"{path} ({name})")
        built[name] = model.to(device).eval()
    return LoadedCheckpoint(built.get("tokenizer"), built.get("transformer"), header)  # type: ignore[arg-type]
