"""Experiments: `maskgit sweep` (decoding settings x baselines), `maskgit experiment` (the seeds' experiments),
`maskgit demo`, `maskgit report`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from maskgit.cli.common import (
    COUNT,
    INDEX,
    NON_NEGATIVE,
    fill_argument,
    int_list,
    load_model,
    resolve_model,
    runtime_arguments,
)
from maskgit.config import field_default
from maskgit.data.masks import BENCHMARKS
from maskgit.decoding.config import CONFIDENCE_RULES, DecodeConfig
from maskgit.evaluation.baselines import BASELINES
from maskgit.experiments.replications import EXPERIMENTS, ExperimentConfig
from maskgit.experiments.sweep import SweepConfig

DEFAULT_SCHEDULES = ",".join(field_default(SweepConfig, "schedules"))
DEFAULT_STEPS = ",".join(map(str, field_default(SweepConfig, "steps")))


def cmd_sweep(args: argparse.Namespace) -> None:
    from maskgit.experiments.results import best_decode
    from maskgit.experiments.sweep import Sweep

    config = SweepConfig(
        model=str(resolve_model(args.model)),
        data=args.data,
        schedules=[s.strip() for s in args.schedules.split(",")],
        steps=int_list(args.steps),
        sweet_spots=int_list(args.sweet_spots) if args.sweet_spots else [],
        temperature=args.temperature,
        confidence=args.confidence,
        refine_steps=args.refine_steps,
        grow=args.grow,
        blend=args.blend,
        seed=args.seed,
        batch_size=args.batch_size,
        limit=args.limit,
        masks=args.masks,
        fill=args.fill,
        baselines=[] if args.baselines == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()],
    )
    started = time.perf_counter()
    model = load_model(args.model, args.device)
    sweep = Sweep(config, Path(args.out), model=model, precision=args.precision)
    rows = sweep.run()
    seconds = time.perf_counter() - started
    print(sweep.folder.table_md.read_text())
    best = best_decode(rows)
    if best:
        print(f"best: {best.name} FID {best.fid:.2f}")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in sweep.timings.items()) + f"; total {seconds:.0f} s")
    print(f"sweep folder: {args.out} (results.csv, results.md, fid_vs_steps.png, masked_fraction.png)")


def cmd_report(args: argparse.Namespace) -> None:
    from maskgit.experiments.report import write_report

    html, markdown = write_report(Path(args.folder), Path(args.out) if args.out else None, run=args.run_folder)
    print(f"report: {html}\nmarkdown twin: {markdown}")


def cmd_demo(args: argparse.Namespace) -> None:
    from maskgit.cli.common import pick_device
    from maskgit.experiments.demo import run_demo

    model = Path(args.model) if args.model else None
    result = run_demo(Path(args.out), quick=args.quick, model=model, device=pick_device(args.device))
    benchmarks = result.summary["benchmarks"]
    print()
    print(f"{'FID (masked PSNR)':<18}" + "".join(f"{name:>22}" for name in benchmarks))
    for method in dict.fromkeys(m for b in benchmarks.values() for m in b["scores"]):
        cells = [b["scores"].get(method) for b in benchmarks.values()]
        text = [f"{c['fid']:.2f} ({c['masked_psnr']:.2f} dB)" if c else "" for c in cells]
        print(f"{method:<18}" + "".join(f"{t:>22}" for t in text))
    images = ", ".join(f"{name} {b['images']}" for name, b in benchmarks.items())
    print(f"images: {images}; summary: {Path(args.out) / 'summary.json'}")
    print()
    print("time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.phases.items()))
    print(f"report: {result.report}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="inpaint a benchmark for schedules x steps, FID each, with baselines")
    p.add_argument("--model", required=True, help="a run folder or a .safetensors checkpoint")
    p.add_argument("--data", default="emoji", help="emoji or lab:PATH (default emoji)")
    p.add_argument("--schedules", default=DEFAULT_SCHEDULES, help=f"comma-separated (default {DEFAULT_SCHEDULES})")
    p.add_argument("--steps", default=DEFAULT_STEPS, help=f"comma-separated step counts T (default {DEFAULT_STEPS})")
    p.add_argument("--sweet-spots", default="", help="comma-separated sweet spots S, each scored for every T > S")
    d = DecodeConfig()  # the inpaint preset
    p.add_argument(
        "--temperature", type=NON_NEGATIVE, default=d.choice_temperature, help=f"t0 (default {d.choice_temperature})"
    )
    p.add_argument(
        "--confidence", default=d.confidence, choices=CONFIDENCE_RULES, help=f"confidence rule (default {d.confidence})"
    )
    p.add_argument(
        "--refine-steps", type=INDEX, default=d.refine_steps, help=f"refinement passes (default {d.refine_steps})"
    )
    p.add_argument("--grow", type=INDEX, default=d.grow, help=f"rings of tokens grown around holes (default {d.grow})")
    p.add_argument("--blend", type=NON_NEGATIVE, default=d.blend, help=f"blend blur sigma, pixels (default {d.blend})")
    masks = field_default(SweepConfig, "masks")
    p.add_argument("--masks", default=masks, choices=list(BENCHMARKS), help=f"benchmark masks (default {masks})")
    fill_argument(p)
    p.add_argument("--limit", type=INDEX, default=0, help="only the first N test images (quick looks; 0: all)")
    p.add_argument(
        "--baselines",
        default=",".join(BASELINES),
        help=f"comma-separated baselines to score, or none (default: all of {', '.join(BASELINES)})",
    )
    p.add_argument("--out", required=True, help="sweep folder (resumable: finished cells are skipped)")
    runtime_arguments(p, field_default(SweepConfig, "batch_size"))
    p.set_defaults(run=cmd_sweep)

    p = sub.add_parser(
        "demo",
        help="the shipped emoji model inpaints the emoji test set, scores itself, reports",
        description="Inpaints the 747 emoji test images under both benchmarks' fixed masks (strokes and "
        "large) with the inpaint decoding preset, computes FID against the ground truth next to OpenCV "
        "Telea and the oracle, and writes summary.json and an HTML report. No training. Resumable: a "
        "second run reuses finished cells; `maskgit sweep --out DEMO/large` extends a benchmark's folder.",
    )
    p.add_argument("--quick", action="store_true", help="the first 48 test images only (about a minute)")
    p.add_argument("--out", default="maskgit-demo", help="output folder (default maskgit-demo)")
    p.add_argument("--model", help="another checkpoint instead of the shipped one")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available); decoding is fp32")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser(
        "experiment",
        help="the seeds' experiments, one command each, with the spread over decoding seeds",
        description="schedules: seed 000's table (FID per mask schedule at the reports' T and sweet spots, "
        "with the lab's decoding rule and maskgit's); fid-vs-iterations: seed 002's figure (FID against the "
        "iterations run); loss-variants: seed 002's comparison (two transformers trained alike except the loss "
        "on all tokens or masked tokens only, CPU-sized without a GPU); editing: the inpainting options grow, blend "
        "and refine_steps against the default rule (--masks strokes or large). Each cell is decoded with --seeds "
        "decoding seeds: mean, std and every seed's FID. Writes results.csv, results.md, figure.png and "
        "report.html; resumable (finished cells and trained models are reused).",
    )
    p.add_argument("name", choices=list(EXPERIMENTS), help="which experiment")
    p.add_argument("--model", help="a checkpoint or run folder (default: the shipped emoji model)")
    p.add_argument("--data", default="emoji", help="emoji or lab:PATH (default emoji)")
    p.add_argument("--masks", default=masks, choices=list(BENCHMARKS), help=f"benchmark masks (default {masks})")
    seeds = field_default(ExperimentConfig, "seeds")
    p.add_argument("--seeds", type=COUNT, default=seeds, help=f"decoding seeds per cell (default {seeds})")
    p.add_argument("--limit", type=INDEX, default=0, help="only the first N test images (0: all)")
    p.add_argument(
        "--train-steps", type=INDEX, default=0, help="loss-variants: steps per model (0: sized for the device)"
    )
    p.add_argument("--out", help="output folder (default experiments/NAME)")
    runtime_arguments(p, field_default(ExperimentConfig, "batch_size"), seed=False)
    p.set_defaults(run=cmd_experiment)

    p = sub.add_parser("report", help="one self-contained HTML report (and markdown) of a sweep or a run")
    p.add_argument("folder", help="a sweep folder or a training run folder")
    p.add_argument("--run", dest="run_folder", help="the training run folder to include (default: the model's folder)")
    p.add_argument("--out", help="HTML path (default FOLDER/report.html)")
    p.set_defaults(run=cmd_report)


def cmd_experiment(args: argparse.Namespace) -> None:
    from maskgit.cli.common import pick_device
    from maskgit.experiments.demo import shipped_model
    from maskgit.experiments.replications import ExperimentConfig, run_experiment

    device = pick_device(args.device)
    config = ExperimentConfig(
        name=args.name,
        model=str(resolve_model(args.model) if args.model else shipped_model()),
        data=args.data,
        masks=args.masks,
        seeds=args.seeds,
        limit=args.limit,
        batch_size=args.batch_size,
        train_steps=args.train_steps,
    )
    out = Path(args.out or f"experiments/{args.name}")
    result = run_experiment(config, out, device=device, precision=args.precision)
    print()
    print((out / "results.md").read_text())
    print(f"time: {result.seconds:.0f} s; folder: {out} (results.csv, results.md, figure.png, report.html)")
