"""Decoding sweeps: inpaint a benchmark set for every schedule x steps x sweet spot, score each by FID.

What a sweep folder holds: maskgit.experiments.folder.SweepFolder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from maskgit.data.benchmarks import Benchmark, load_benchmark
from maskgit.decoding.config import DecodeConfig
from maskgit.decoding.fill import DEFAULT_FILL, check_fill
from maskgit.errors import InputError
from maskgit.evaluation.baselines import BASELINES, opencv_inpaint
from maskgit.evaluation.fid import cached_features, score_features
from maskgit.evaluation.inception import InceptionFeatures
from maskgit.evaluation.masked import masked_region_metrics
from maskgit.experiments.folder import SweepFolder
from maskgit.experiments.inpainting import InpaintingSet, SetResult, tokenizer_reconstruction
from maskgit.experiments.results import ResultRow, cell_key, sort_rows
from maskgit.fileio import atomic_write, file_hash
from maskgit.masking.schedules import check_schedule
from maskgit.pipeline import MaskGIT

SAMPLE_COUNT, TRACE_COUNT = 8, 4


# the editing options were added after the first sweep folders were written, which decoded without them
BEFORE_THEY_EXISTED = {"refine_steps": 0, "grow": 0, "blend": 0.0}


@dataclass
class SweepConfig:
    model: str
    data: str = "emoji"
    schedules: list[str] = field(default_factory=lambda: ["cosine", "linear", "square"])
    steps: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 12])
    sweet_spots: list[int] = field(default_factory=list)  # extra sweet spots S < T per step count T
    # (T, S) pairs to score instead of steps x sweet spots (`steps` then becomes their T values): a
    # study of particular cells, e.g. the lab's T = 20, S = 20 and T = 19, S = 2
    step_pairs: list[tuple[int, int]] = field(default_factory=list)
    temperature: float = DecodeConfig().choice_temperature
    confidence: str = DecodeConfig().confidence
    refine_steps: int = DecodeConfig().refine_steps
    grow: int = DecodeConfig().grow
    blend: float = DecodeConfig().blend
    seed: int = 0
    batch_size: int = 64
    limit: int = 0  # use the first `limit` images only (0: all)
    masks: str = "strokes"  # the benchmark's fixed masks: "strokes" or "large" (maskgit.data.masks.BENCHMARKS)
    fill: str = DEFAULT_FILL  # what the tokenizer sees in place of missing pixels (maskgit.decoding.fill.FILLS)
    # ids from BASELINES; one-step is skipped when `steps` holds 1 (that cell is the baseline), raw is the
    # decoder's whole image at the first schedule and the largest T
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))

    def __post_init__(self) -> None:
        self.step_pairs = sorted({(int(t), int(s)) for t, s in self.step_pairs})
        if any(not 1 <= s <= t for t, s in self.step_pairs):
            raise InputError(f"each (T, S) pair needs 1 <= S <= T, got {self.step_pairs}")
        if self.step_pairs:
            self.steps = sorted({t for t, _ in self.step_pairs})
        if not self.schedules or not self.steps:
            raise InputError("a sweep needs at least one schedule and one step count")
        for name in self.schedules:
            check_schedule(name)
        if min(self.steps) < 1 or min(self.sweet_spots, default=1) < 1:
            raise InputError(f"steps and sweet spots must be at least 1, got {self.steps} and {self.sweet_spots}")
        check_fill(self.fill)
        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise InputError(f"unknown baseline(s) {', '.join(unknown)}: choose from {', '.join(BASELINES)}")
        if self.limit < 0 or self.batch_size < 1:
            raise InputError("--limit must be >= 0 and --batch-size >= 1")

    def identity(self) -> dict[str, object]:
        """What a resumed sweep must share with the one on disk (cells may be added)."""
        keep = ("data", "masks", "fill", "temperature", "confidence", "seed", "limit", "refine_steps", "grow", "blend")
        return {k: v for k, v in asdict(self).items() if k in keep}

    def decode_config(self, total_steps: int, schedule: str = DecodeConfig().schedule) -> DecodeConfig:
        """The decoding settings of the cells with T = total_steps and this schedule."""
        return DecodeConfig(
            total_steps=total_steps,
            schedule=schedule,
            choice_temperature=self.temperature,
            confidence=self.confidence,  # type: ignore[arg-type]
            refine_steps=self.refine_steps,
            grow=self.grow,
            blend=self.blend,
        )

    def cells(self) -> list[tuple[str, int, int]]:
        """(schedule, T, S) for every combination; T = 1 is the same for every schedule and runs once."""
        out = []
        for schedule in self.schedules:
            for t in sorted(set(self.steps)):
                if t == 1 and schedule != self.schedules[0]:
                    continue
                if self.step_pairs:
                    spots = {s for pair_t, s in self.step_pairs if pair_t == t}
                else:
                    spots = {t, *(s for s in self.sweet_spots if s < t)}
                out.extend((schedule, t, s) for s in sorted(spots))
        return out


def sample_indices(count: int, total: int) -> list[int]:
    """A fixed, evenly spread set of image indices (the same in every sweep of a dataset)."""
    return sorted({int(i) for i in np.linspace(0, total - 1, min(count, total))})


class Sweep:
    """Runs (or resumes) a sweep in `out`. log: where one-line progress notes go (print by default)."""

    def __init__(
        self,
        config: SweepConfig,
        out: Path,
        model: MaskGIT | None = None,
        extractor: InceptionFeatures | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        precision: str = "auto",
    ) -> None:
        self.config, self.out, self.progress, self.log = config, Path(out), progress, log
        self.folder = SweepFolder(self.out)
        self.precision = precision
        model_path = Path(config.model)
        if model is None:
            if not model_path.is_file():
                raise InputError(f"no model at {model_path}: give a checkpoint written by `maskgit train`")
            model = MaskGIT.load(model_path)
        self.model = model
        self.identity = {**config.identity(), "model": file_hash(model_path) if model_path.is_file() else None}
        self.extractor = extractor
        self.timings: dict[str, float] = {}
        self.results = self._resume()

    # ---- bookkeeping -------------------------------------------------------------------------
    def _resume(self) -> dict[str, ResultRow]:
        settings = self.folder.settings
        if settings.is_file():
            saved = json.loads(settings.read_text()).get("identity", {})
            # a setting added since the folder was written: the value decoding had before it existed
            before = {**SweepConfig(model="").identity(), **BEFORE_THEY_EXISTED}
            changed = [k for k in self.identity if saved.get(k, before.get(k)) != self.identity[k]]
            if changed:
                raise InputError(
                    f"{self.out} holds a sweep with other {', '.join(changed)}: choose a new --out "
                    "(or delete the folder to start over)"
                )
        self.out.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"identity": self.identity, "config": asdict(self.config)}, indent=2)
        atomic_write(settings, lambda tmp: tmp.write_text(body))
        results: dict[str, ResultRow] = {}
        lines = self.folder.results
        if lines.is_file():
            for line in lines.read_text().splitlines():
                try:
                    row = ResultRow.from_json(line)
                    results[row.key] = row
                except ValueError:
                    continue  # a line cut short by a crash: that cell runs again
        return results

    def _record(self, row: ResultRow) -> None:
        self.results[row.key] = row
        body = "".join(r.to_json() + "\n" for r in self.results.values())
        atomic_write(self.folder.results, lambda tmp: tmp.write_text(body))

    def _time(self, phase: str, started: float) -> None:
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    # ---- running -----------------------------------------------------------------------------
    def run(self) -> list[ResultRow]:
        c = self.config
        t0 = time.perf_counter()
        tc = self.model.tokenizer.config
        bench = load_benchmark(c.data, tc.resolution, tc.image_channels, limit=c.limit, masks=c.masks)
        self._time("load data", t0)
        todo = [cell for cell in c.cells() if cell_key(*cell) not in self.results]
        baselines = self._baseline_names()
        todo_baselines = [b for b in baselines if b not in self.results]
        if not todo and not todo_baselines:
            self.log(f"sweep: all {len(c.cells()) + len(baselines)} cells already in {self.out}")
            self.write_outputs()
            return self.rows()
        if self.extractor is None:
            t0 = time.perf_counter()
            self.extractor = InceptionFeatures(device=self.model.device)  # the GPU too, where the model is
            self._time("load Inception", t0)
        t0 = time.perf_counter()
        reference = cached_features(
            bench.truth, self.extractor, progress="Inception: ground truth" if self.progress else False
        )
        self._time("FID features", t0)
        t0 = time.perf_counter()
        images = InpaintingSet(self.model, bench.inputs, bench.masks, c.batch_size, fill=c.fill)
        self._time("tokenize", t0)
        samples, traced = (
            sample_indices(SAMPLE_COUNT, len(bench.inputs)),
            sample_indices(TRACE_COUNT, len(bench.inputs)),
        )
        np.savez_compressed(
            self.folder.benchmark_samples,
            inputs=bench.inputs[samples],
            masks=bench.masks[samples],
            truth=bench.truth[samples],
            indices=np.array(samples),
        )
        runs: dict[tuple[str, int], list[int]] = {}
        for schedule, t, s in todo:
            runs.setdefault((schedule, t), []).append(s)
        raw_cell = (c.schedules[0], max(c.steps))
        if "raw" in todo_baselines:
            runs.setdefault(raw_cell, []).append(max(c.steps))
        for n, ((schedule, t), spots) in enumerate(sorted(runs.items(), key=lambda kv: kv[0][1]), 1):
            config = c.decode_config(t, schedule)
            label = f"[{n}/{len(runs)}] {schedule} T={t}" if self.progress else False
            t0 = time.perf_counter()
            result = images.decode(
                config, sorted(set(spots)), seed=c.seed, trace_indices=traced, precision=self.precision, progress=label
            )
            self._time("inpaint", t0)
            self._save_trace(schedule, t, result)
            for s in sorted(set(spots)):
                key = cell_key(schedule, t, s)
                if key not in self.results:
                    decoded = result.by_sweet_spot[s]
                    scores = self._score_images(bench, decoded.images, reference, samples, key)
                    speed = len(bench.inputs) / max(result.seconds, 1e-9)
                    self._record(
                        ResultRow(
                            key,
                            "decode",
                            **scores,
                            schedule=schedule,
                            steps=t,
                            sweet_spot=s,
                            remaining=float(decoded.remaining.mean()),
                            seconds=result.seconds,
                            images_per_s=speed,
                        )
                    )
            if (schedule, t) == raw_cell and "raw" in todo_baselines:
                decoded = result.by_sweet_spot[t]
                scores = self._score_images(bench, decoded.reconstruction, reference, samples, "raw")
                note = f"{BASELINES['raw'].note}, {schedule} T={t}"
                self._record(
                    ResultRow("raw", "baseline", **scores, schedule=schedule, steps=t, sweet_spot=t, note=note)
                )
        for name in todo_baselines:
            self._run_baseline(name, bench, images, reference, samples)
        self.write_outputs()
        return self.rows()

    def _baseline_names(self) -> list[str]:
        skip = {"one-step"} if 1 in self.config.steps else set()
        return [b for b in BASELINES if b in self.config.baselines and b not in skip]

    def _run_baseline(
        self, key: str, bench: Benchmark, images: InpaintingSet, reference: np.ndarray, samples: list[int]
    ) -> None:
        c = self.config
        t0 = time.perf_counter()
        if key == "one-step":
            config = c.decode_config(1)
            output = images.decode(
                config, seed=c.seed, precision=self.precision, progress="one-step decoding" if self.progress else False
            )
            out = output.by_sweet_spot[1].images
        elif key == "tokenizer":
            out = tokenizer_reconstruction(self.model, bench.truth, c.batch_size)
        elif key == "oracle":
            decoded = tokenizer_reconstruction(self.model, bench.truth, c.batch_size)
            out = np.where(bench.masks[..., None], decoded, bench.truth)
        elif key == "raw":
            return  # made with its decode run
        else:
            out = opencv_inpaint(bench.inputs, bench.masks, key)
        self._time("baselines", t0)
        scores = self._score_images(bench, out, reference, samples, key)
        steps = 1 if key == "one-step" else 0
        self._record(ResultRow(key, "baseline", **scores, steps=steps, note=BASELINES[key].note))

    def _score_images(
        self, bench: Benchmark, output: np.ndarray, reference: np.ndarray, samples: list[int], key: str
    ) -> dict[str, float]:
        """Score one row's output (FID/KID, masked metrics: ResultRow's score fields) and keep its sample
        images. key: the row's key."""
        t0 = time.perf_counter()
        assert self.extractor is not None
        name = BASELINES[key].name if key in BASELINES else key
        features = self.extractor(output, progress=f"Inception: {name}" if self.progress else False)
        scores = score_features(features, reference)
        self._time("FID features", t0)
        path = self.folder.samples(key)
        path.parent.mkdir(exist_ok=True)
        np.savez_compressed(path, images=output[samples])
        row = {**scores.as_dict(), **masked_region_metrics(output, bench.truth, bench.masks)}
        self.log(f"  {name:<32} FID {scores.fid:7.2f}  KID {scores.kid:.4f}  masked PSNR {row['masked_psnr']:.2f} dB")
        return row

    def _save_trace(self, schedule: str, t: int, result: SetResult) -> None:
        if result.trace is None:
            return
        path = self.folder.trace(schedule, t)
        path.parent.mkdir(exist_ok=True)
        tr = result.trace
        np.savez_compressed(
            path,
            indices=np.array(tr.indices),
            token_masks=tr.token_masks,
            predictions=tr.predictions,
            initial_mask=tr.initial_mask,
            masked_fraction=result.masked_fraction,
        )

    # ---- outputs -----------------------------------------------------------------------------
    def rows(self) -> list[ResultRow]:
        return sort_rows(list(self.results.values()))

    def write_outputs(self) -> None:
        from maskgit.experiments.figures import fid_figure, masked_fraction_figure
        from maskgit.experiments.tables import results_csv, results_markdown

        rows = self.rows()
        atomic_write(self.folder.table_csv, lambda tmp: tmp.write_text(results_csv(rows)))
        atomic_write(self.folder.table_md, lambda tmp: tmp.write_text(results_markdown(rows)))
        fid_figure(rows, self.folder.fid_figure)
        masked_fraction_figure(self.folder.traces(), self.folder.masked_fraction_figure)
