"""The seeds' figures as PNGs: FID against iteration per schedule, and the fraction still masked per step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

from maskgit.experiments.results import ResultRow, baseline_rows, early_stops, fid_grid
from maskgit.fileio import atomic_write
from maskgit.masking.schedules import gamma


def finish_figure(fig: plt.Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str, path: Path) -> None:
    """Label, add legend and grid, save as PNG atomically, close."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def fid_figure(rows: list[ResultRow], path: Path) -> None:
    """FID against the number of decoding steps, one line per schedule, baselines as dashed lines."""
    schedules, steps, grid = fid_grid(rows)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for schedule in schedules:
        ts = [t for t in steps if (schedule, t) in grid]
        ax.plot(ts, [grid[(schedule, t)] for t in ts], marker="o", label=schedule)
    for schedule, t in sorted({(r.schedule, r.steps) for r in early_stops(rows)}):
        points = sorted((r.sweet_spot, r.fid) for r in rows if r.is_decode and (r.schedule, r.steps) == (schedule, t))
        ax.plot(*zip(*points, strict=True), marker=".", linestyle=":", label=f"{schedule} T={t}: stop at S")
    for i, row in enumerate(r for r in baseline_rows(rows) if r.key != "one-step"):
        ax.axhline(row.fid, linestyle="--", linewidth=1, color=f"C{(i + 4) % 10}", label=row.name)
    finish_figure(
        fig,
        ax,
        "decoding iterations (T, or the sweet spot S)",
        "FID (lower is better)",
        "Inpainting FID against iteration",
        path,
    )


def masked_fraction_figure(traces: list[tuple[str, int, Path]], path: Path) -> None:
    """Measured fraction of the unknown tokens still masked after each step (and gamma), per schedule."""
    longest: dict[str, tuple[int, np.ndarray]] = {}
    for schedule, t, file in traces:  # (schedule, steps, file), SweepFolder.traces()
        if schedule not in longest or t > longest[schedule][0]:
            longest[schedule] = (t, np.load(file)["masked_fraction"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (schedule, (t, fraction)) in enumerate(sorted(longest.items())):
        x = np.arange(0, len(fraction) + 1)
        ax.plot(x, [1.0, *fraction], marker="o", color=f"C{i}", label=f"{schedule} (T={t}), measured")
        ax.plot(x, [float(gamma(schedule, k / t)) for k in x], linestyle=":", color=f"C{i}", label=f"gamma({schedule})")
    finish_figure(fig, ax, "iteration", "fraction of unknown tokens still masked", "Mask ratio against iteration", path)
