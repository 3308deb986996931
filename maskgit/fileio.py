"""Writing files so that a crash never leaves half of one, and where maskgit keeps its cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp_path), then rename tmp_path to path (atomic on POSIX); cleans up on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def maskgit_home() -> Path:
    """The cache folder for data: $MASKGIT_HOME, else ~/.cache/maskgit."""
    return Path(os.environ.get("MASKGIT_HOME") or Path.home() / ".cache" / "maskgit")


def file_hash(path: Path, length: int = 16) -> str:
    """The first `length` hex digits of a file's SHA-256 (cache keys, model fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]
