"""SweepFolder: the one place that knows a sweep folder's layout (every file name is written here only).

sweep.json             the settings and the model's fingerprint (a resumed sweep must match them)
results.jsonl          one line per finished cell (resume skips them), baselines included
results.csv, results.md    the table
fid_vs_steps.png, masked_fraction.png   the seeds' two figures
benchmark_samples.npz  the fixed sample images' inputs, masks and ground truth
samples/KEY.npz        those images' outputs for the row KEY (a cell such as square-T8-S8, or a baseline id)
traces/SCHEDULE-TN.npz per-step token masks and predictions of a few images, for a decode with N steps
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SweepFolder:
    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "sweep.json"

    @property
    def results(self) -> Path:
        return self.root / "results.jsonl"

    @property
    def table_csv(self) -> Path:
        return self.root / "results.csv"

    @property
    def table_md(self) -> Path:
        return self.root / "results.md"

    @property
    def fid_figure(self) -> Path:
        return self.root / "fid_vs_steps.png"

    @property
    def masked_fraction_figure(self) -> Path:
        return self.root / "masked_fraction.png"

    @property
    def benchmark_samples(self) -> Path:
        return self.root / "benchmark_samples.npz"

    def samples(self, key: str) -> Path:
        """The fixed sample images' outputs of one row (its `key`)."""
        return self.root / "samples" / f"{key}.npz"

    def trace(self, schedule: str, steps: int) -> Path:
        return self.root / "traces" / f"{schedule}-T{steps}.npz"

    def traces(self) -> list[tuple[str, int, Path]]:
        """Every saved trace as (schedule, steps, file), sorted by schedule then steps."""
        found = []
        for file in (self.root / "traces").glob("*.npz") if (self.root / "traces").is_dir() else []:
            schedule, _, steps = file.stem.rpartition("-T")
            found.append((schedule, int(steps), file))
        return sorted(found)

    def is_sweep(self) -> bool:
        return self.settings.is_file()
