"""Sweep results as CSV and as a markdown table (decoding cells, then baselines)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass

from maskgit.evaluation.baselines import BASELINES

COLUMNS = [
    "key",
    "kind",
    "schedule",
    "steps",
    "sweet_spot",
    "fid",
    "kid",
    "kid_std",
    "masked_l1",
    "masked_psnr",
    "remaining",
    "images",
    "seconds",
    "images_per_s",
    "note",
]


def results_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return buffer.getvalue()


def best_decode(rows: list[dict]) -> dict | None:
    decode = [r for r in rows if r["kind"] == "decode"]
    return min(decode, key=lambda r: r["fid"]) if decode else None


def fid_grid(rows: list[dict]) -> tuple[list[str], list[int], dict[tuple[str, int], float]]:
    """Schedules x steps FID at the full sweet spot (S = T); T = 1 is shared by every schedule."""
    full = [r for r in rows if r["kind"] == "decode" and r["sweet_spot"] == r["steps"]]
    schedules = list(dict.fromkeys(r["schedule"] for r in full))
    steps = sorted({r["steps"] for r in full})
    grid = {(r["schedule"], r["steps"]): r["fid"] for r in full}
    for r in full:
        if r["steps"] == 1:
            grid.update({(s, 1): r["fid"] for s in schedules})
    return schedules, steps, grid


def baseline_rows(rows: list[dict]) -> list[dict]:
    """The baselines, with the T = 1 decoding cell standing in for one-step decoding when the sweep has it
    (its "cell" names the cell, whose samples it shares).

    The one place that rule lives: tables, figures and reports all read the baselines from here.
    """
    out = [r for r in rows if r["kind"] == "baseline"]
    if not any(r["key"] == "one-step" for r in out):
        one = [r for r in rows if r["kind"] == "decode" and r["steps"] == 1]
        if one:
            cell = {"cell": one[0]["key"], "note": BASELINES["one-step"].note}
            out.insert(0, {**one[0], "kind": "baseline", "key": "one-step", **cell})
    return out


def method_name(row: dict) -> str:
    """A row's name in tables: the baseline's name, or schedule T= S= for a decoding cell."""
    if row["kind"] == "baseline":
        return BASELINES[row["key"]].name
    return f"{row['schedule']} T={row['steps']} S={row['sweet_spot']}"


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


def result_tables(rows: list[dict]) -> tuple[list[Table], str]:
    """The sweep's tables (schedules x steps, sweet spots, every cell with the baselines) and a summary line."""
    schedules, steps, grid = fid_grid(rows)
    best = best_decode(rows)
    body = []
    for schedule in schedules:
        cells = []
        for t in steps:
            value = grid.get((schedule, t))
            text = "" if value is None else f"{value:.2f}"
            is_best = best is not None and best["sweet_spot"] == best["steps"] == t and best["schedule"] == schedule
            cells.append(f"**{text}**" if value is not None and is_best else text)
        body.append([schedule, *cells])
    tables = [
        Table(
            "FID by schedule and steps (sweet spot = steps; lower is better)",
            ["schedule", *(f"T={t}" for t in steps)],
            body,
        )
    ]
    early = [r for r in rows if r["kind"] == "decode" and r["sweet_spot"] < r["steps"]]
    if early:
        tables.append(
            Table(
                "Sweet spots (stop after S of T steps)",
                ["schedule", "T", "S", "FID", "still masked"],
                [
                    [r["schedule"], str(r["steps"]), str(r["sweet_spot"]), f"{r['fid']:.2f}", f"{r['remaining']:.0%}"]
                    for r in early
                ],
            )
        )
    listed = []
    for r in [r for r in rows if r["kind"] == "decode"] + baseline_rows(rows):
        name = method_name(r)
        speed = f"{r['images_per_s']:.1f}" if r.get("images_per_s") else ""
        listed.append(
            [
                name,
                f"{r['fid']:.2f}",
                f"{r['kid'] * 1000:.2f}",
                f"{r['masked_l1']:.4f}",
                f"{r['masked_psnr']:.2f}",
                speed,
                r.get("note", ""),
            ]
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
            f"Best: **{best['schedule']} T={best['steps']} S={best['sweet_spot']}, "
            f"FID {best['fid']:.2f}** on {best['images']} images."
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


def results_markdown(rows: list[dict]) -> str:
    tables, summary = result_tables(rows)
    return "\n\n".join([*(markdown_table(t) for t in tables), summary]) + "\n"
