"""Stage 2 never runs the tokenizer per epoch: a dataset split is tokenized once and kept on disk.

A cache file holds int16/int32 token ids shaped (N, V, h*w): V = 2 with flip augmentation (the image
and its horizontal mirror), else 1. Its name carries a hash of the tokenizer's encode path and a fingerprint
of the data, so a new tokenizer or changed images never reuse stale tokens, while the same tokenizer shares
its cache whichever file it comes from (its own checkpoint, a training run's, a shipped model's), and so does a
tokenizer whose decoder alone was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskgit.batching import CPU_MICRO_BATCH
from maskgit.data.folder import IMAGE_SUFFIXES
from maskgit.data.images import ImageSet
from maskgit.errors import DataError
from maskgit.fileio import atomic_write, maskgit_home
from maskgit.tokenizer.vqgan import VQGAN


@dataclass
class TokenSet:
    tokens: np.ndarray  # (N, V, h*w) integer ids; V = 2 when flipped copies are included
    labels: np.ndarray | None  # (N,) class ids or None

    def __len__(self) -> int:
        return len(self.tokens)


def data_fingerprint(spec: str) -> str:
    """A short name for a dataset's contents: its name, plus a hash of file names, sizes and times for folders."""
    name, _, argument = spec.partition(":")
    if not argument:
        return name
    digest = hashlib.sha256(str(Path(argument).resolve()).encode())
    root = Path(argument)
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or p.suffix in (".csv", ".gz")):
                stat = p.stat()
                digest.update(f"{p.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{name}-{digest.hexdigest()[:12]}"


def tokenizer_key(tokenizer: VQGAN, length: int = 16) -> str:
    """The first `length` hex digits of a SHA-256 over what decides the token ids: the weights of the tokenizer's
    encode path (names, shapes and float32 values) and its pixel normalisation. A tokenizer whose decoder alone
    was trained on (`train_decoder_only`) gives the same ids, so it keeps the same key and cache."""
    c = tokenizer.config
    digest = hashlib.sha256(f"pixel_mean={c.pixel_mean} pixel_std={c.pixel_std}".encode())
    encode_path = tuple(f"{name}." for name, part in tokenizer.named_children() if part in tokenizer.encode_path)
    for name, tensor in sorted(tokenizer.state_dict().items()):
        if not name.startswith(encode_path):
            continue
        values = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}:{tuple(values.shape)}".encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()[:length]


def cache_path(spec: str, split: str, tokenizer_key: str, flip: bool, labels: str = "category") -> Path:
    """Where a split's tokens are kept; the labels they carry are part of the name unless the default."""
    kind = "" if labels == "category" else f"-{labels}"
    name = f"{data_fingerprint(spec)}-{split}-{tokenizer_key}{'-flip' if flip else ''}{kind}.npz"
    return maskgit_home() / "tokens" / name


@torch.no_grad()
def tokenize(tokenizer: VQGAN, images: ImageSet, *, flip: bool, device: torch.device, progress: bool) -> np.ndarray:
    """(N, V, h*w) token ids of every image (and of its mirror image if flip)."""
    tokenizer.eval()
    views = []
    batches = range(0, len(images), CPU_MICRO_BATCH * 4)
    for start in tqdm(batches, desc="tokenizing", unit="batch", disable=not progress, leave=False):
        x = images.tensors(slice(start, start + CPU_MICRO_BATCH * 4)).to(device)
        ids = [tokenizer.encode(x).flatten(1)]
        if flip:
            ids.append(tokenizer.encode(x.flip(-1)).flatten(1))
        views.append(torch.stack(ids, dim=1).cpu())
    dtype = np.int16 if tokenizer.config.codebook_size <= 2**15 else np.int32
    return torch.cat(views).numpy().astype(dtype)


def write_tokens(
    path: Path, tokenizer: VQGAN, images: ImageSet, *, flip: bool, device: torch.device, progress: bool
) -> None:
    """Tokenize a split and save it (atomically) with its labels."""
    tokens = tokenize(tokenizer, images, flip=flip, device=device, progress=progress)
    labels = images.labels if images.labels is not None else np.zeros(0, dtype=np.int64)
    atomic_write(path, lambda tmp: np.savez(open(tmp, "wb"), tokens=tokens, labels=labels))  # noqa: SIM115


def read_tokens(path: Path) -> TokenSet:
    try:
        with np.load(path) as data:
            labels = data["labels"] if len(data["labels"]) else None
            return TokenSet(tokens=data["tokens"], labels=labels)
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"the token cache {path} is unreadable ({error}): delete it and it is rebuilt") from error
