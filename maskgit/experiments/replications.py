"""The seeds' experiments, one command each (`maskgit experiment NAME`), with the spread over decoding seeds.

    schedules          seed 000's table: FID for cosine / linear / square at the reports' settings (T = 20,
                       S = 20 and T = 19, S = 2), with the lab's decoding rule and with maskgit's default
    fid-vs-iterations  seed 002's figure: FID against the iteration reached (the sweet spot S of a T = 20
                       decode), per schedule
    loss-variants      seed 002's comparison: two transformers trained alike except the loss (all tokens vs
                       masked tokens only), scored the same way
    editing            issue 21's decoding and compositing options for inpainting (grow, blend, refine_steps)
                       against the default rule

Every arm (a model and a decoding rule) runs one Sweep per decoding seed in sweeps/ARM-seedK/ (resumable:
finished cells are skipped); the cells are then summarised over seeds (mean, std, each seed's FID) into
results.csv, results.md, figure.png and report.html. Decoding seed k gives image i the generator seeded
k * SEED_STRIDE + i, so no two (seed, image) pairs share a noise stream.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from maskgit.decoding.config import DecodeConfig
from maskgit.errors import InputError
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.experiments.results import ResultRow
from maskgit.experiments.sweep import Sweep, SweepConfig
from maskgit.experiments.tables import Table, markdown_table
from maskgit.fileio import atomic_write
from maskgit.pipeline import MaskGIT

SEED_STRIDE = 100_000
SCHEDULES = ["cosine", "linear", "square"]
LAB_RULE, OUR_RULE = DecodeConfig.preset("seeds"), DecodeConfig.preset("inpaint")


@dataclass(frozen=True)
class Arm:
    """One model decoded with one confidence rule and temperature (the arms of an experiment differ in one)."""

    name: str
    slug: str  # folder-safe
    model: Path
    rule: DecodeConfig


@dataclass(frozen=True)
class Study:
    arms: list[Arm]
    schedules: list[str]
    step_pairs: list[tuple[int, int]]  # (T, S) cells scored for every arm and schedule
    title: str
    about: str  # what it reproduces and how, markdown
    seeds_say: str  # what the seeds' reports measured, markdown
    seeds_fid: dict[tuple[str, str, int, int], float] = field(default_factory=dict)  # (arm, schedule, T, S)
    bars: bool = False  # the figure: bars per schedule (few cells), or FID against S (lines)


@dataclass
class ExperimentConfig:
    name: str
    model: str  # the model the decoding experiments score; loss-variants trains on its tokenizer
    data: str = "emoji"
    masks: str = "strokes"
    seeds: int = 3
    limit: int = 0
    batch_size: int = 64
    train_steps: int = 0  # loss-variants: steps per transformer (0: the size for the device, LOSS_VARIANT_RUNS)

    def __post_init__(self) -> None:
        if self.name not in EXPERIMENTS:
            raise InputError(f"unknown experiment {self.name!r}: choose one of {', '.join(EXPERIMENTS)}")
        if self.seeds < 1 or self.limit < 0 or self.batch_size < 1 or self.train_steps < 0:
            raise InputError("--seeds and --batch-size must be at least 1, --limit and --train-steps at least 0")


@dataclass(frozen=True)
class Spread:
    """One cell over the decoding seeds."""

    arm: str
    schedule: str
    steps: int
    sweet_spot: int
    fids: tuple[float, ...]
    kid: float  # mean over seeds
    masked_psnr: float  # mean over seeds, dB
    images: int

    @property
    def fid(self) -> float:
        return sum(self.fids) / len(self.fids)

    @property
    def fid_std(self) -> float:
        """Sample standard deviation over seeds (0 for one seed)."""
        n = len(self.fids)
        return math.sqrt(sum((f - self.fid) ** 2 for f in self.fids) / (n - 1)) if n > 1 else 0.0


# ---- the three studies -------------------------------------------------------------------------------
def schedules_study(config: ExperimentConfig, out: Path, device: torch.device, log: Callable[[str], None]) -> Study:
    model = Path(config.model)
    return Study(
        arms=[
            Arm("lab rule", "lab-rule", model, LAB_RULE),
            Arm("maskgit default rule", "maskgit-rule", model, OUR_RULE),
        ],
        schedules=SCHEDULES,
        step_pairs=[(20, 20), (19, 2)],
        title="Mask schedules (seed 000's table)",
        about=(
            "FID of cosine, linear and square at seed 000's setting (T = 20, S = 20) and at seed 002's best "
            f"(T = 19, stopped at S = 2). **lab rule**: {rule_text(LAB_RULE)}, the seeds' rule; "
            f"**maskgit default rule**: {rule_text(OUR_RULE)}."
        ),
        seeds_say=(
            "Seed 000 (its own transformer on the lab's cat faces, 747 images, one decoding seed): cosine "
            "49.44, linear 48.82, square 49.47 at T = 20, S = 20, and concluded that linear is best, by 0.62. "
            "Seed 002 found linear, T = 19 stopped at S = 2, best."
        ),
        seeds_fid={
            ("lab rule", "cosine", 20, 20): 49.44,
            ("lab rule", "linear", 20, 20): 48.82,
            ("lab rule", "square", 20, 20): 49.47,
        },
        bars=True,
    )


def iterations_study(config: ExperimentConfig, out: Path, device: torch.device, log: Callable[[str], None]) -> Study:
    spots = [1, 2, 3, 4, 6, 8, 12, 16, 20]
    return Study(
        arms=[Arm("lab rule", "lab-rule", Path(config.model), LAB_RULE)],
        schedules=SCHEDULES,
        step_pairs=[(20, s) for s in spots],
        title="FID against iterations (seed 002's figure)",
        about=(
            "One T = 20 decode per schedule and seed, scored after each of S = "
            f"{', '.join(map(str, spots))} iterations (tokens still masked at S take that step's "
            f"prediction), with the lab's rule ({rule_text(LAB_RULE)})."
        ),
        seeds_say=(
            "Seed 002 (cat faces): FID grows with the iterations; linear is best early (its best: T = 19, "
            "S = 2), cosine best late."
        ),
    )


def editing_study(config: ExperimentConfig, out: Path, device: torch.device, log: Callable[[str], None]) -> Study:
    model, rule = Path(config.model), OUR_RULE
    variants = [
        ("default", rule),
        ("paste", replace(rule, blend=0.0)),
        ("grow 1", replace(rule, grow=1)),
        ("refine 2", replace(rule, refine_steps=2)),
        ("grow 1 + refine 2", replace(rule, grow=1, refine_steps=2)),
    ]
    return Study(
        arms=[Arm(name, name.replace(" ", "-"), model, variant) for name, variant in variants],
        schedules=[rule.schedule],
        step_pairs=[(rule.total_steps, rule.total_steps)],
        title="Decoding and compositing for inpainting (issue 21)",
        about=(
            f"maskgit's default rule ({rule_text(rule)}, {rule.schedule}, T = {rule.total_steps}, the fill blended "
            f"in through the pixel mask blurred with sigma = {rule.blend:g} pixel) against: the decoded pixels pasted "
            "into the holes (**paste**, blend 0), the token mask grown by one ring of neighbours (**grow 1**, the "
            "official MaskGIT editing recipe), two passes that decode the least confident quarter again "
            "(**refine 2**), and both."
        ),
        seeds_say="The seeds pasted the decoded pixels into the holes and decoded each token once.",
        bars=True,
    )


# loss-variants: transformers sized for the device the experiment runs on; only loss_on differs
LOSS_VARIANT_RUNS = {
    "cpu": {"preset": "emoji", "model": {"dim": 128, "depth": 4, "heads": 4, "mlp_hidden": 512}, "max_steps": 600},
    "cuda": {"preset": "emoji", "model": {}, "max_steps": 6000},
}


def loss_variant_size(device: torch.device) -> dict:
    """The loss-variants transformers' size for the device the experiment runs on."""
    return LOSS_VARIANT_RUNS[device.type if device.type in LOSS_VARIANT_RUNS else "cpu"]


def loss_variants_study(config: ExperimentConfig, out: Path, device: torch.device, log: Callable[[str], None]) -> Study:
    arms = []
    for loss_on in ("all", "masked"):
        model = train_loss_variant(config, out / "train" / f"loss-{loss_on}", loss_on, device, log)
        arms.append(Arm(f"loss on {loss_on} tokens", f"loss-{loss_on}", model, OUR_RULE))
    size = loss_variant_size(device)
    steps = config.train_steps or size["max_steps"]
    return Study(
        arms=arms,
        schedules=[OUR_RULE.schedule],
        step_pairs=[(8, s) for s in (1, 2, 4, 8)],
        title="Loss on all tokens vs masked tokens only (seed 002's comparison)",
        about=(
            f"Two `{size['preset']}` transformers ({size['model'] or 'the preset as is'}), {steps} steps of 32 "
            f"on {config.data} tokens of the model's tokenizer, identical (data order, masks, initialisation, "
            "no label smoothing) except the loss: cross-entropy over every token, or over the masked tokens "
            f"only (the paper's). Scored with maskgit's default rule ({rule_text(OUR_RULE)}) after S = 1, 2, "
            "4 and 8 of T = 8 steps."
        ),
        seeds_say=(
            "Seed 002 (cat faces, 50 epochs each): the loss on all tokens gave far better inpainting; with the "
            "loss on masked tokens only the model 'did not train' and FID stayed about 49 at every iteration."
        ),
    )


def train_loss_variant(
    config: ExperimentConfig, run: Path, loss_on: str, device: torch.device, log: Callable[[str], None]
) -> Path:
    """Train (or resume, or reuse) one loss variant; returns its model.safetensors."""
    from maskgit.training.config import TransformerTrainConfig
    from maskgit.training.runtime import stop_runtime
    from maskgit.training.state import list_states
    from maskgit.training.transformer_trainer import TransformerTrainer

    model = run / "model.safetensors"
    if model.is_file():
        log(f"loss-variants: {run.name} already trained ({model})")
        return model
    size = loss_variant_size(device)
    train = TransformerTrainConfig(
        data=config.data,
        tokenizer=config.model,
        preset=size["preset"],
        model=size["model"],
        out_dir=str(run),
        epochs=1000,
        max_steps=config.train_steps or size["max_steps"],
        batch_size=32,
        lr=5e-4,
        warmup_steps=100,
        loss_on=loss_on,
        label_smoothing=0.0,
        checkpoint_every=200,
        sample_images=0,
        device=device.type,
    )
    train.check()
    log(f"loss-variants: training {run.name} ({train.max_steps} steps) in {run}")
    try:
        return TransformerTrainer(train, resume=bool(list_states(run))).fit()
    finally:
        stop_runtime()


EXPERIMENTS: dict[str, Callable[[ExperimentConfig, Path, torch.device, Callable[[str], None]], Study]] = {
    "schedules": schedules_study,
    "fid-vs-iterations": iterations_study,
    "loss-variants": loss_variants_study,
    "editing": editing_study,
}


def rule_text(rule: DecodeConfig) -> str:
    return f"{rule.confidence} choices, t0 = {rule.choice_temperature:g}"


# ---- running -----------------------------------------------------------------------------------------
@dataclass
class ExperimentResult:
    study: Study
    spreads: list[Spread]
    seconds: float
    report: Path


def run_experiment(
    config: ExperimentConfig,
    out: Path,
    *,
    device: torch.device | None = None,
    precision: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run (or resume) the experiment in `out` and write its tables, figure and report."""
    started = time.perf_counter()
    out = Path(out)
    device = device or torch.device("cpu")
    study = EXPERIMENTS[config.name](config, out, device, log)
    extractor = InceptionFeatures(device=device)
    rows: list[tuple[str, ResultRow]] = []
    for arm in study.arms:
        model = MaskGIT.load(arm.model, device=device)
        for k in range(config.seeds):
            sweep_config = SweepConfig(
                model=str(arm.model),
                data=config.data,
                schedules=study.schedules,
                step_pairs=study.step_pairs,
                temperature=arm.rule.choice_temperature,
                confidence=arm.rule.confidence,
                refine_steps=arm.rule.refine_steps,
                grow=arm.rule.grow,
                blend=arm.rule.blend,
                seed=k * SEED_STRIDE,
                batch_size=config.batch_size,
                limit=config.limit,
                masks=config.masks,
                baselines=["telea"] if (arm == study.arms[0] and k == 0) else [],
            )
            log(f"{config.name}: {arm.name}, decoding seed {k + 1} of {config.seeds}")
            folder = out / "sweeps" / f"{arm.slug}-seed{k}"
            sweep = Sweep(
                sweep_config, folder, model=model, extractor=extractor, progress=progress, log=log, precision=precision
            )
            rows += [(arm.name, row) for row in sweep.run()]
    spreads = summarise(rows)
    telea = next((row for _, row in rows if row.key == "telea"), None)
    report = write_outputs(out, config, study, spreads, telea, time.perf_counter() - started)
    return ExperimentResult(study, spreads, time.perf_counter() - started, report)


def summarise(rows: list[tuple[str, ResultRow]]) -> list[Spread]:
    """Decoding cells grouped by (arm, schedule, T, S) over seeds, in the order they first appear."""
    groups: dict[tuple[str, str, int, int], list[ResultRow]] = {}
    for arm, row in rows:
        if row.is_decode:
            groups.setdefault((arm, row.schedule, row.steps, row.sweet_spot), []).append(row)
    return [
        Spread(
            *key,
            fids=tuple(r.fid for r in cells),
            kid=sum(r.kid for r in cells) / len(cells),
            masked_psnr=sum(r.masked_psnr for r in cells) / len(cells),
            images=cells[0].images,
        )
        for key, cells in groups.items()
    ]


# ---- outputs -----------------------------------------------------------------------------------------
def spread_csv(spreads: list[Spread]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    seeds = max((len(s.fids) for s in spreads), default=0)
    writer.writerow(
        ["arm", "schedule", "steps", "sweet_spot", "fid_mean", "fid_std", "kid_mean", "masked_psnr_mean", "images"]
        + [f"fid_seed{k}" for k in range(seeds)]
    )
    for s in spreads:
        writer.writerow(
            [s.arm, s.schedule, s.steps, s.sweet_spot, f"{s.fid:.4f}", f"{s.fid_std:.4f}", f"{s.kid:.6f}"]
            + [f"{s.masked_psnr:.4f}", s.images]
            + [f"{f:.4f}" for f in s.fids]
        )
    return buffer.getvalue()


def spread_table(study: Study, spreads: list[Spread]) -> Table:
    seeds = max((len(s.fids) for s in spreads), default=0)
    best = min(spreads, key=lambda s: s.fid) if spreads else None
    body = []
    for s in spreads:
        fid = f"{s.fid:.2f} ± {s.fid_std:.2f}"
        theirs = study.seeds_fid.get((s.arm, s.schedule, s.steps, s.sweet_spot))
        body.append(
            [
                s.arm,
                s.schedule,
                str(s.steps),
                str(s.sweet_spot),
                f"**{fid}**" if s is best else fid,
                ", ".join(f"{f:.2f}" for f in s.fids),
                f"{s.kid * 1000:.2f}",
                f"{s.masked_psnr:.2f}",
                "" if theirs is None else f"{theirs:.2f}",
            ]
        )
    header = ["arm", "schedule", "T", "S", f"FID mean ± std ({seeds} seeds)", "FID per seed", "KID x1000"]
    header += ["masked PSNR (dB)", "seeds' FID (cat faces)"]
    return Table(f"{study.title}: FID over {seeds} decoding seeds", header, body)


def spread_figure(study: Study, spreads: list[Spread], telea: ResultRow | None, path: Path) -> None:
    """FID means with their std over seeds as error bars: bars per schedule (study.bars), or lines against the
    sweet spot S, one per arm, schedule and T."""
    from maskgit.experiments.figures import finish_figure, plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if study.bars:
        series = list(dict.fromkeys((s.arm, s.steps, s.sweet_spot) for s in spreads))
        width = 0.8 / max(len(series), 1)
        for i, (arm, t, spot) in enumerate(series):
            cells = {s.schedule: s for s in spreads if (s.arm, s.steps, s.sweet_spot) == (arm, t, spot)}
            x = [j + (i - (len(series) - 1) / 2) * width for j, name in enumerate(study.schedules) if name in cells]
            fids = [cells[name] for name in study.schedules if name in cells]
            ax.bar(
                x,
                [c.fid for c in fids],
                width,
                yerr=[c.fid_std for c in fids],
                capsize=3,
                label=f"{arm}, T={t} S={spot}",
            )
        ax.set_xticks(range(len(study.schedules)), study.schedules)
        low = min(s.fid - s.fid_std for s in spreads) if spreads else 0.0
        ax.set_ylim(bottom=max(0.0, low - 3))
        xlabel = "schedule"
    else:
        lines: dict[tuple[str, str, int], list[Spread]] = {}
        for s in spreads:
            lines.setdefault((s.arm, s.schedule, s.steps), []).append(s)
        for i, ((arm, schedule, t), cells) in enumerate(lines.items()):
            cells = sorted(cells, key=lambda c: c.sweet_spot)
            ax.errorbar(
                [c.sweet_spot for c in cells],
                [c.fid for c in cells],
                yerr=[c.fid_std for c in cells],
                marker="o",
                capsize=3,
                linestyle="-" if arm == study.arms[0].name else "--",
                color=f"C{i % 10}",
                label=f"{schedule} T={t}" + (f", {arm}" if len(study.arms) > 1 else ""),
            )
        xlabel = "iterations run (sweet spot S)"
    if telea is not None:
        ax.axhline(telea.fid, linestyle=":", color="grey", label=f"OpenCV Telea {telea.fid:.2f}")
    finish_figure(fig, ax, xlabel, "FID, mean ± std over seeds (lower is better)", study.title, path)


def write_outputs(
    out: Path, config: ExperimentConfig, study: Study, spreads: list[Spread], telea: ResultRow | None, seconds: float
) -> Path:
    from maskgit.experiments.report import Report

    table = spread_table(study, spreads)
    atomic_write(out / "results.csv", lambda tmp: tmp.write_text(spread_csv(spreads)))
    images = spreads[0].images if spreads else 0
    settings = (
        f"`maskgit experiment {config.name}`: model {config.model}, data {config.data} ({config.masks} masks, "
        f"{images} test images), {config.seeds} decoding seeds, {seconds:.0f} s."
    )
    telea_text = f" OpenCV Telea on the same images: FID {telea.fid:.2f}." if telea else ""
    text = "\n\n".join(
        [f"## {study.title}", study.about, markdown_table(table), f"{study.seeds_say}{telea_text}", settings]
    )
    atomic_write(out / "results.md", lambda tmp: tmp.write_text(text + "\n"))
    spread_figure(study, spreads, telea, out / "figure.png")
    report = Report(f"maskgit experiment {config.name}")
    report.text(study.about)
    report.table(table)
    report.text(f"{study.seeds_say}{telea_text}")
    report.picture("figure.png", (out / "figure.png").read_bytes(), "FID: mean and std over decoding seeds")
    report.text(settings)
    return report.write(out / "report.html")
