"""Training-state checkpoints: everything needed to resume exactly, written atomically, the last K kept.

Files in <out_dir>/checkpoints/: step_0000500.pt, ... (torch.save of a dict: models, optimizers, LR
schedule, EMA, RNG states, step, epoch, position in the epoch, best validation loss, the config).
They are pickles: load only run folders you made yourself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from maskgit.errors import TrainingError
from maskgit.fileio import atomic_write

STEP_FILE = re.compile(r"step_(\d{7})\.pt$")


def checkpoint_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoints"


def save_state(out_dir: Path, step: int, state: dict[str, Any], keep_last: int) -> Path:
    """Write step_XXXXXXX.pt atomically, then delete all but the newest `keep_last`."""
    folder = checkpoint_dir(out_dir)
    path = folder / f"step_{step:07d}.pt"
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    for old in list_states(out_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def list_states(out_dir: Path) -> list[Path]:
    folder = checkpoint_dir(out_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if STEP_FILE.search(p.name))


def load_latest_state(out_dir: Path) -> dict[str, Any] | None:
    """The newest readable training state in a run folder, or None if it has none."""
    for path in reversed(list_states(out_dir)):
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except (OSError, RuntimeError, EOFError) as error:  # a damaged file: fall back to the one before
            last_error = error
            continue
    if list_states(out_dir):
        raise TrainingError(f"no readable checkpoint in {checkpoint_dir(out_dir)} ({last_error}): start afresh")
    return None
