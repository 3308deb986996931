"""One self-contained HTML report (pictures inlined as base64 PNG) and a markdown twin, for a sweep folder
or a training run folder.

Sweep: settings, the training run's config and curves (when the model lives in a run folder), the FID
tables and the two figures, a grid of masked input / results / ground truth for fixed test images
(seed 000's table), and decoding strips of a few images with the best schedule.
Run: config, curves and the sample grids the trainer wrote.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from maskgit.errors import InputError
from maskgit.evaluation.baselines import BASELINES
from maskgit.experiments.folder import SweepFolder
from maskgit.experiments.inpainting import Trace
from maskgit.experiments.pictures import comparison_grid, trace_pictures
from maskgit.experiments.results import ResultRow, baseline_rows, best_decode, early_stops, sort_rows
from maskgit.experiments.tables import Table, html_table, markdown_table, result_tables
from maskgit.fileio import atomic_write

CURVE_KEYS = ("train/loss", "val/loss", "val/masked_accuracy", "val/psnr", "val/l1", "val/code_usage")
STYLE = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;image-rendering:pixelated}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}figcaption{color:#555;font-size:13px}"""


@dataclass
class Report:
    """Sections in order; each is markdown text, a Table, or a picture (name, PNG bytes, caption)."""

    title: str
    parts: list[object] = field(default_factory=list)

    def text(self, markdown: str) -> None:
        self.parts.append(markdown)

    def table(self, table: Table) -> None:
        self.parts.append(table)

    def picture(self, name: str, png: bytes, caption: str) -> None:
        self.parts.append((name, png, caption))

    def html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for part in self.parts:
            if isinstance(part, Table):
                body.append(html_table(part))
            elif isinstance(part, tuple):
                name, png, caption = part
                data = base64.b64encode(png).decode()
                body.append(
                    f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
            else:
                body.append(_markdown_to_html(str(part)))
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
        )

    def write(self, html_path: Path) -> Path:
        """HTML_PATH and its markdown twin (.md, pictures in HTML_STEM_files/), each written atomically."""
        page = self.html()
        atomic_write(html_path, lambda tmp: tmp.write_text(page))
        text = self.markdown(html_path.parent / f"{html_path.stem}_files")
        atomic_write(html_path.with_suffix(".md"), lambda tmp: tmp.write_text(text))
        return html_path

    def markdown(self, files: Path) -> str:
        """The markdown twin; pictures are written into `files` and linked relatively."""
        out = [f"# {self.title}"]
        for part in self.parts:
            if isinstance(part, Table):
                out.append(markdown_table(part))
            elif isinstance(part, tuple):
                name, png, caption = part
                atomic_write(files / name, lambda tmp, png=png: tmp.write_bytes(png))
                out.append(f"![{caption}]({files.name}/{name})\n\n*{caption}*")
            else:
                out.append(str(part))
        return "\n\n".join(out) + "\n"


def _markdown_to_html(text: str) -> str:
    """The little markdown the report writes: ## headings, ``` blocks, paragraphs with **bold**."""
    out = []
    for block in text.strip().split("\n\n"):
        if block.startswith("```"):
            out.append(f"<pre>{html.escape(block.strip('`').partition(chr(10))[2])}</pre>")
        elif block.startswith("#"):
            level = len(block) - len(block.lstrip("#"))
            out.append(f"<h{level}>{html.escape(block.lstrip('#').strip())}</h{level}>")
        else:
            escaped = html.escape(block)
            parts = escaped.split("**")
            escaped = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
            out.append(f"<p>{escaped}</p>")
    return "\n".join(out)


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def curves_png(metrics: Path) -> bytes | None:
    """Training curves from a run's metrics.jsonl (one panel per logged quantity), or None if empty."""
    from maskgit.experiments.figures import plt

    series: dict[str, tuple[list[float], list[float]]] = {}
    for line in metrics.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        for key in CURVE_KEYS:
            if key in row:
                series.setdefault(key, ([], []))[0].append(row["step"])
                series[key][1].append(row[key])
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(3.3 * len(series), 3), squeeze=False)
    for ax, (key, (x, y)) in zip(axes[0], series.items(), strict=True):
        ax.plot(x, y, marker="." if len(x) < 50 else None)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def add_run(report: Report, run: Path) -> None:
    """A training run's config, curves and latest sample grid."""
    report.text(f"## Training run\n\n`{run}`")
    config = run / "config.yaml"
    if config.is_file():
        report.text("```\n" + config.read_text().strip() + "\n```")
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        png = curves_png(metrics)
        if png:
            report.picture("training_curves.png", png, "training curves (metrics.jsonl)")
        last_val = [json.loads(x) for x in metrics.read_text().splitlines() if '"val/' in x]
        if last_val:
            values = ", ".join(f"{k} {v:.4g}" for k, v in last_val[-1].items() if k.startswith("val/"))
            report.text(f"Last validation (step {last_val[-1]['step']}): {values}.")
    samples = sorted((run / "samples").glob("*.png")) if (run / "samples").is_dir() else []
    if samples:
        report.picture(
            "training_samples.png", samples[-1].read_bytes(), f"samples written during training ({samples[-1].name})"
        )


def sweep_rows(folder: Path) -> list[ResultRow]:
    """A sweep folder's finished rows, sorted (decoding cells, then baselines)."""
    results = SweepFolder(folder).results
    lines = results.read_text().splitlines() if results.is_file() else []
    rows = [ResultRow.from_json(x) for x in lines if x.strip()]
    if not rows:
        raise InputError(f"{folder} has no finished cells yet: run `maskgit sweep` first")
    return sort_rows(rows)


def settings_table(config: dict) -> Table:
    """A sweep's settings as a short table; the model by file name only (reports travel: no local paths)."""
    shown = {**config, "model": Path(str(config.get("model", ""))).name}
    if str(shown.get("data", "")).startswith(("lab:", "folder:")):
        kind, _, path = str(shown["data"]).partition(":")
        shown["data"] = f"{kind}:{Path(path).name}"
    shown["limit"] = shown.get("limit") or "all images"
    values = [
        [k.replace("_", " "), ", ".join(map(str, v)) if isinstance(v, list) else str(v)] for k, v in shown.items()
    ]
    return Table("Settings", ["setting", "value"], values)


def add_comparison(report: Report, folder: Path, rows: list[ResultRow], *, title: str = "comparison.png") -> None:
    """The fixed sample images: masked input | best maskgit | one-step | Telea | Navier-Stokes | oracle | truth."""
    layout = SweepFolder(folder)
    bench = layout.benchmark_samples
    best = best_decode(rows)
    if not bench.is_file() or best is None:
        return
    data = np.load(bench)
    columns, names = [], []
    shown = [(best, f"maskgit T={best.steps}")]
    by_key = {r.key: r for r in baseline_rows(rows)}
    for key in ("one-step", "telea", "navier-stokes", "oracle"):
        if key in by_key and not (key == "one-step" and best.steps == 1):
            shown.append((by_key[key], BASELINES[key].label))
    for row, label in shown:
        samples = layout.samples(row.samples_key)
        if samples.is_file():
            columns.append(np.load(samples)["images"])
            names.append(label)
    grid = comparison_grid(data["inputs"], columns, data["truth"], data["masks"], labels=names, scale=2)
    caption = "test images " + ", ".join(str(i) for i in data["indices"]) + " (grey: the missing pixels)"
    report.picture(title, png_bytes(grid), caption)


def add_decoding_steps(report: Report, folder: Path, rows: list[ResultRow], *, limit: int = 4) -> None:
    best = best_decode(rows)
    trace_file = SweepFolder(folder).trace(best.schedule, best.steps) if best else None
    if trace_file is None or not trace_file.is_file():
        return
    t = np.load(trace_file)
    trace = Trace(list(t["indices"]), t["token_masks"], t["predictions"], t["initial_mask"])
    report.text(
        f"## Decoding, step by step ({best.schedule}, T={best.steps})\n\nFor each image: the "  # type: ignore[union-attr]
        "token mask before and after each step (white: known, grey: decoded, black: still masked), "
        "and the image predicted at each step."
    )
    for k, index in enumerate(trace.indices[:limit]):
        masks, images = trace_pictures(trace, k)
        strip = np.concatenate([masks, images], axis=0)
        report.picture(f"{folder.name}_decoding_{index:03d}.png", png_bytes(strip, scale=2), f"test image {index}")


def add_sweep(report: Report, folder: Path) -> None:
    layout = SweepFolder(folder)
    settings = json.loads(layout.settings.read_text())
    rows = sweep_rows(folder)
    report.table(settings_table(settings["config"]))
    tables, summary = result_tables(rows)
    report.text("## FID (InceptionV3 pool3 against the ground truth)")
    for table in tables:
        report.table(table)
    if summary:
        report.text(summary)
    if len({r.steps for r in rows if r.is_decode}) > 1 or early_stops(rows):  # a curve to show, not a single point
        for name, caption in (
            (layout.fid_figure, "FID against iteration, per schedule; dashed: baselines"),
            (layout.masked_fraction_figure, "fraction of the unknown tokens still masked after each step"),
        ):
            if name.is_file():
                report.picture(name.name, name.read_bytes(), caption)
    add_comparison(report, folder, rows)
    add_decoding_steps(report, folder, rows)


def write_demo_report(out: Path, summary: dict) -> Path:
    """The demo's report.html: the summary first (both benchmarks, baselines, oracle), then labelled pictures
    of each benchmark, the settings, and decoding step by step on large holes."""
    report = Report("maskgit demo: inpainting the emoji test set")
    benchmarks = summary["benchmarks"]
    names = {"maskgit": "maskgit", **{key: b.name for key, b in BASELINES.items()}}
    methods = [m for m in names if any(m in b for b in benchmarks.values())]
    header = ["method"] + [f"{b} {q}" for b in benchmarks for q in ("FID", "masked PSNR (dB)")]
    body = []
    for method in methods:
        row = [names[method]]
        for b in benchmarks.values():
            scores = b["scores"].get(method)
            row += [f"{scores['fid']:.2f}", f"{scores['masked_psnr']:.2f}"] if scores else ["", ""]
        body.append(row)
    images = {b["images"] for b in benchmarks.values()}
    report.text(
        "## Summary\n\n"
        f"FID against the ground truth on {', '.join(map(str, sorted(images)))} emoji test images (lower is better), "
        "and the PSNR of the filled-in pixels (higher is better). **strokes**: thin free-form holes, "
        "where classical inpainting does well; **large**: boxes covering 25-50% of the image or a whole "
        "missing side, which only a generative model can fill with content. The oracle decodes the "
        "ground truth's own tokens into the holes: the best score a perfect transformer could reach with "
        "this tokenizer."
    )
    report.table(Table("Scores", header, body))
    for benchmark in benchmarks:
        folder = out / benchmark
        report.text(f"## {benchmark}")
        add_comparison(report, folder, sweep_rows(folder), title=f"{benchmark}_comparison.png")
    s = summary["settings"]
    settings = [["model", summary["model"]]]
    settings += [[k, str(v)] for k, v in s.items()]
    settings += [["time", f"{summary['seconds']:.0f} s"]]
    report.table(Table("Settings", ["setting", "value"], settings))
    if "large" in benchmarks:
        add_decoding_steps(report, out / "large", sweep_rows(out / "large"), limit=2)
    return report.write(out / "report.html")


def write_report(folder: Path, out: Path | None = None, run: str | None = None) -> tuple[Path, Path]:
    """Write FOLDER/report.html and report.md (+ report_files/) for a sweep or run folder."""
    folder = Path(folder)
    is_sweep, is_run = SweepFolder(folder).is_sweep(), (folder / "metrics.jsonl").is_file()
    if not (is_sweep or is_run):
        raise InputError(f"{folder} is neither a sweep folder (sweep.json) nor a training run (metrics.jsonl)")
    report = Report(f"maskgit report: {folder.name}")
    report.text(f"Written {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.")
    if is_sweep:
        add_sweep(report, folder)
        model = Path(json.loads(SweepFolder(folder).settings.read_text())["config"]["model"])
        run_folder = Path(run) if run else model.parent
        if (run_folder / "metrics.jsonl").is_file():
            add_run(report, run_folder)
    else:
        add_run(report, folder)
    html_path = report.write(Path(out) if out else folder / "report.html")
    return html_path, html_path.with_suffix(".md")
