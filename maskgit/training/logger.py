"""Metrics to a JSONL file and TensorBoard event files (main process only), and a progress bar."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from maskgit.fileio import atomic_write


class MetricLogger:
    """Writes one JSON line per log call to <out_dir>/metrics.jsonl and the same scalars to <out_dir>/tb/."""

    def __init__(self, out_dir: Path, enabled: bool, total_steps: int, initial_step: int, progress: bool = True):
        self.enabled = enabled
        self.file = None
        self.writer = None
        self.bar = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "metrics.jsonl"
        if path.is_file():  # a resumed run: forget what was logged after the checkpoint it resumes from
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= initial_step]
            atomic_write(path, lambda tmp: tmp.write_text("".join(f"{line}\n" for line in kept)))
        self.file = open(path, "a")  # noqa: SIM115 - open for the run's lifetime
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(str(out_dir / "tb"), purge_step=initial_step or None)
        if progress:
            self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def log(self, step: int, metrics: dict[str, Any], prefix: str = "train") -> None:
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **{f"{prefix}/{k}": v for k, v in metrics.items()}}
        self.file.write(json.dumps(record) + "\n")  # type: ignore[union-attr]
        self.file.flush()  # type: ignore[union-attr]
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(f"{prefix}/{key}", value, step)  # type: ignore[union-attr]
        if self.bar is not None and prefix == "train":
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items() if isinstance(v, float)}, refresh=False)

    def resize(self, total_steps: int) -> None:
        """The run's length changed (a `minutes` budget was sized): the progress bar's total follows."""
        if self.bar is not None:
            self.bar.total = total_steps
            self.bar.refresh()

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def message(self, text: str) -> None:
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self.file is not None:
            self.file.close()
