"""`maskgit demo`: the shipped emoji model inpaints both emoji benchmarks (`strokes` and `large`), scores
itself by FID next to classical inpainting, and writes summary.json and an HTML report. Nothing is
trained; the data is fetched once if missing.

The demo folder holds one sweep folder per benchmark (resumable; `maskgit sweep --out DEMO/large` can
extend it), summary.json and report.html.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from maskgit.data.masks import BENCHMARKS
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.fill import DEFAULT_FILL
from maskgit.errors import InputError
from maskgit.evaluation.baselines import BASELINES
from maskgit.experiments.results import ResultRow
from maskgit.experiments.sweep import Sweep, SweepConfig
from maskgit.fileio import atomic_write

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "emoji.safetensors"
DEMO_DECODING = DecodeConfig.preset("inpaint")  # the library's default: the best measured (MODEL_CARD.md)
# Each baseline costs one Inception pass over the 747 images (50-80 s on 2 cores); all three fit the budget.
DEMO_BASELINES = ["telea", "navier-stokes", "oracle"]  # ids in maskgit.evaluation.baselines.BASELINES
QUICK_IMAGES = 48


@dataclass
class DemoResult:
    report: Path
    summary: dict
    rows: dict[str, list[ResultRow]]  # benchmark -> the sweep's rows
    phases: dict[str, float]


def shipped_model() -> Path:
    if not SHIPPED_MODEL.is_file():
        raise InputError(f"the shipped model is missing ({SHIPPED_MODEL}): reinstall maskgit from its repository")
    return SHIPPED_MODEL


def run_demo(
    out: Path,
    *,
    quick: bool = False,
    model: Path | None = None,
    data: str = "emoji",
    device: str | torch.device = "cpu",
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Inpaint `data`'s test split under both benchmarks' masks, score by FID next to the baselines, report.

    Phases are timed (`DemoResult.phases`); the emoji data is fetched first if it is missing.
    """
    from maskgit.data.emoji import emoji_cache_path, fetch_emoji
    from maskgit.evaluation.inception import InceptionFeatures
    from maskgit.experiments.report import write_demo_report
    from maskgit.pipeline import MaskGIT

    out = Path(out)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    extractor = InceptionFeatures(device=device)  # first, so that missing FID weights fail before any long work
    path = model or shipped_model()
    loaded = MaskGIT.load(path, device=device)
    phases["load model + Inception"] = time.perf_counter() - started
    t0 = time.perf_counter()
    if data == "emoji" and not emoji_cache_path().is_file():
        log("fetching the emoji data (npm, once)...")
        fetch_emoji()
    phases["data"] = time.perf_counter() - t0
    d = DEMO_DECODING
    rows: dict[str, list[ResultRow]] = {}
    for benchmark in BENCHMARKS:
        config = SweepConfig(
            model=str(path),
            data=data,
            schedules=[d.schedule],
            steps=[d.total_steps],
            confidence=d.confidence,
            temperature=d.choice_temperature,
            limit=QUICK_IMAGES if quick else 0,
            masks=benchmark,
            baselines=DEMO_BASELINES,
        )
        log(
            f"{benchmark}: inpainting {'the first ' + str(QUICK_IMAGES) if quick else 'all'} {data} test images "
            f"({d.schedule}, T={d.total_steps}, {d.confidence}), then FID against the ground truth and the baselines"
        )
        # fp32: the demo's figures are the same on every machine (bf16 decoding moved them by up to 1 FID)
        sweep = Sweep(config, out / benchmark, model=loaded, extractor=extractor, log=log, precision="fp32")
        rows[benchmark] = sweep.run()
        for phase, seconds in sweep.timings.items():
            phases[phase] = phases.get(phase, 0.0) + seconds
    phases["total"] = time.perf_counter() - started
    summary = demo_summary(rows, path, phases["total"])
    body = json.dumps(summary, indent=2)
    atomic_write(out / "summary.json", lambda tmp: tmp.write_text(body))
    t0 = time.perf_counter()
    html = write_demo_report(out, summary)
    phases["report"] = time.perf_counter() - t0
    return DemoResult(html, summary, rows, phases)


def demo_summary(rows: dict[str, list[ResultRow]], model: Path, seconds: float) -> dict:
    """summary.json: per benchmark the FID of maskgit and of each baseline scored (others are left out), the
    image count, and every score in full; the model by file name (no local paths); the decoding settings."""
    benchmarks = {}
    for benchmark, table in rows.items():
        decoded = next(r for r in table if r.is_decode)
        methods = {"maskgit": decoded}
        scored = {r.key: r for r in table if not r.is_decode}
        methods.update({key: scored[key] for key in BASELINES if key in scored})  # in the registry's order
        entry: dict = {name: round(r.fid, 2) for name, r in methods.items()}
        entry["images"] = decoded.images
        keys = ("fid", "kid", "kid_std", "masked_l1", "masked_psnr")
        entry["scores"] = {name: {k: getattr(r, k) for k in keys} for name, r in methods.items()}
        benchmarks[benchmark] = entry
    d = DEMO_DECODING
    settings = {
        "schedule": d.schedule,
        "steps": d.total_steps,
        "confidence": d.confidence,
        "temperature": d.choice_temperature,
        "blend": d.blend,
        "fill": DEFAULT_FILL,
        "seed": 0,
    }
    return {
        "benchmarks": benchmarks,
        "model": model.name,
        "settings": settings,
        "seconds": round(seconds, 1),
    }
