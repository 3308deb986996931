"""Sweep results as CSV and as a markdown table (decoding cells, then baselines)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import asdict, dataclass

from maskgit.experiments.results import COLUMNS, ResultRow, baseline_rows, best_decode, early_stops, fid_grid


def results_csv(rows: list[ResultRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        writer.writerow({k: "" if values[k] is None else values[k] for k in COLUMNS})
    return buffer.getvalue()


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


def result_tables(rows: list[ResultRow]) -> tuple[list[Table], str]:
    """The sweep's tables (schedules x steps, sweet spots, every cell with the baselines) and a summary line."""
    schedules, steps, grid = fid_grid(rows)
    best = best_decode(rows)
    body = []
    for schedule in schedules:
        cells = []
        for t in steps:
            value = grid.get((schedule, t))
            text = "" if value is None else f"{value:.2f}"
            is_best = best is not None and best.sweet_spot == best.steps == t and best.schedule == schedule
            cells.append(f"**{text}**" if value is not None and is_best else text)
        body.append([schedule, *cells])
    tables = [
        Table(
            "FID by schedule and steps (sweet spot = steps; lower is better)",
            ["schedule", *(f"T={t}" for t in steps)],
            body,
        )
    ]
    early = early_stops(rows)
    if early:
        tables.append(
            Table(
                "Sweet spots (stop after S of T steps)",
                ["schedule", "T", "S", "FID", "still masked"],
                [
                    [r.schedule, str(r.steps), str(r.sweet_spot), f"{r.fid:.2f}", f"{r.remaining or 0:.0%}"]
                    for r in early
                ],
            )
        )
    listed = []
    for r in [r for r in rows if r.is_decode] + baseline_rows(rows):
        speed = f"{r.images_per_s:.1f}" if r.images_per_s else ""
        listed.append(
            [r.name, f"{r.fid:.2f}", f"{r.kid * 1000:.2f}", f"{r.masked_l1:.4f}", f"{r.masked_psnr:.2f}", speed, r.note]
        )
    tables.append(
        Table(
            "All cells and baselines",
            ["method", "FID", "KID x1000", "masked L1", "masked PSNR (dB)", "images/s", "note"],
            listed,
        )
    )
    summary = (
        ""
        if best is None
        else (
            f"Best: **{best.schedule} T={best.steps} S={best.sweet_spot}, FID {best.fid:.2f}** on {best.images} images."
        )
    )
    return tables, summary


def markdown_table(table: Table) -> str:
    lines = [f"### {table.title}", "", "| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)


def html_table(table: Table) -> str:
    def cell(text: str, tag: str) -> str:
        text = html.escape(text)
        if text.startswith("**") and text.endswith("**"):
            text = f"<b>{text[2:-2]}</b>"
        return f"<{tag}>{text}</{tag}>"

    head = "".join(cell(h, "th") for h in table.header)
    body = "".join("<tr>" + "".join(cell(c, "td") for c in row) + "</tr>" for row in table.rows)
    return f"<h3>{html.escape(table.title)}</h3><table><tr>{head}</tr>{body}</table>"


def results_markdown(rows: list[ResultRow]) -> str:
    tables, summary = result_tables(rows)
    return "\n\n".join([*(markdown_table(t) for t in tables), summary]) + "\n"
