"""The training loop both stages share: epochs of steps, logging, validation, checkpoints, exact resume.

A stage subclasses TrainLoop and supplies its step, validation, samples, export and model state.
Every random choice of a step derives from (data seed, step, rank): the epoch's order from (data seed, epoch), a
micro-batch's choices from step_generator, dropout from the global RNG re-seeded each step. So a
resumed run continues exactly as an uninterrupted one would. The data seed is the config's seed, mixed with the
hash of the init_from weights in a run that continues another: it never replays the batches its start was trained on.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskgit.checkpoint import load_checkpoint
from maskgit.config import config_to_dict, replace_config
from maskgit.errors import TrainingError
from maskgit.training import state as states
from maskgit.training.config import LoopConfig, differences, save_train_config
from maskgit.training.logger import MetricLogger
from maskgit.training.optim import ModelEMA
from maskgit.training.runtime import Runtime, seed_everything, start_runtime, step_generator

# Fields that may change between a run and its resumption; any other change is an error.
RESUMABLE_CHANGES = (
    "epochs",
    "max_steps",
    "checkpoint_every",
    "keep_last",
    "log_every",
    "sample_images",
    "export_dtype",
    "device",  # a run may move between a GPU and the CPU
)
MAX_SKIPPED_STEPS = 20  # consecutive non-finite steps before training gives up
# A `minutes` budget is sized twice. First from the speed of a run's first steps, PROBE[0] .. PROBE[1] after it starts
# (the first ones warm up caches and allocators), so the LR schedule has an end from the start. Then once more at the
# end of the first epoch after that, from the whole time since the start: the steps alone miss validation, sample
# grids and checkpoints, and early steps run faster than later ones (CPU legs overran their budget by 12-30%).
# Both take the median training step (seconds_per_step), so a spell of other work on the machine does not set the
# pace of the whole run (a leg sized from a first epoch with two short jobs beside it got half its steps).
# The step count and whether it is final are kept in every checkpoint.
PROBE = (5, 25)


def seconds_per_step(steps: list[float], elapsed: float, warmup: int = 0) -> float:
    """What a step costs, all in, over a stretch of `elapsed` seconds that ran these training steps: the median step
    (after the first `warmup`, where there are more), plus the rest of the time (validation, sample grids,
    checkpoints) shared out."""
    return statistics.median(steps[warmup:] or steps) + max(0.0, elapsed - sum(steps)) / len(steps)


def continued_seed(seed: int, path: str | Path) -> int:
    """The data seed of a run that starts from the weights in file `path`: `seed` mixed with the file's hash.

    A run continued with its parent's seed would otherwise draw the parent's epoch orders, masks and flips step
    for step, re-training on batches its weights have already seen (MODEL_CARD.md, "Leg 16": +0.045 val loss).
    The same start and seed give the same stream, so an A/B from one start stays paired."""
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    return int.from_bytes(hashlib.sha256(f"{seed}:{digest}".encode()).digest()[:4], "big")


class TrainLoop:
    """A stage sets model, optimizer, scheduler (and ema, or None) before calling size_run and begin."""

    config: LoopConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    ema: ModelEMA | None = None
    tokens_per_image = 0  # stage 2 sets it, to log tokens/s

    def __init__(self, config: LoopConfig, runtime: Runtime | None, progress: bool) -> None:
        config.check()
        self.config = config
        self.runtime = runtime or start_runtime(config.device)
        self.out_dir = Path(config.out_dir)
        self.progress = progress
        seed_everything(config.seed + self.runtime.rank)
        self.data_seed = config.seed  # initial_weights mixes in the start's hash; a checkpoint keeps it
        self.step, self.epoch, self.position, self.best_val = 0, 0, 0, math.inf

    # -- what a stage provides ------------------------------------------------------------------------------

    def train_step(self, order: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics; "loss" picks the best checkpoint (lower is better)."""
        raise NotImplementedError

    def sample_grid(self, path: Path) -> None:
        raise NotImplementedError

    def export(self, path: Path) -> None:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, str]:
        """Facts beyond the config that a resumed run must share (e.g. the tokenizer's hash)."""
        return {}

    # -- what both stages share -------------------------------------------------------------------------------

    @property
    def eval_model(self) -> Any:
        """The weights to validate and export: the EMA copy if there is one."""
        return self.ema.model if self.ema is not None else self.model

    def model_state(self) -> dict[str, Any]:
        """What a checkpoint holds besides the loop's counters (a stage adds its own parts)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
        }

    def load_model_state(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if self.ema is not None:
            self.ema.model.load_state_dict(saved["ema"])

    def initial_weights(
        self, path: str, part: str, new_inputs: tuple[str, ...] = (), grown: tuple[str, ...] = ()
    ) -> torch.nn.Module:
        """The `part` ("tokenizer" or "transformer") of checkpoint `path`, checked to be this run's model's
        architecture: init_from, to continue another run's (exported) weights. The config fields `new_inputs`
        (options that add an input, whose weights start at zero) may be switched on in this run, and the sizes
        `grown` (e.g. depth: new blocks on top) may be larger in this run. The run's data seed becomes
        continued_seed(seed, path)."""
        start = getattr(load_checkpoint(path, device=self.runtime.device), part)
        self.data_seed = continued_seed(self.config.seed, path)
        if start is None:
            command = "maskgit train-tokenizer" if part == "tokenizer" else "maskgit train"
            raise TrainingError(f"init_from {path} holds no {part}: give a checkpoint written by {command}")
        added = {name: getattr(self.model.config, name) for name in new_inputs if not getattr(start.config, name)}
        added |= {name: getattr(self.model.config, name) for name in grown}
        if any(getattr(self.model.config, name) < getattr(start.config, name) for name in grown):
            raise TrainingError(f"init_from {path} holds a larger {part} than this run's: it can grow, never shrink")
        if replace_config(start.config, **added) != self.model.config:
            raise TrainingError(
                f"init_from {path} holds a {part} of another architecture than this run's "
                f"({start.config} vs {self.model.config}): use its preset and model settings"
            )
        return start

    def apply_gradients(self) -> float | None:
        """Clip the gradients, then step the optimizer, the LR schedule and the EMA.

        Returns the gradient norm, or None (and no step) when it is not finite. Gradients are already
        all-reduced across processes, so every process skips the same steps.
        """
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip or math.inf)
        if not torch.isfinite(norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.config.lr_schedule == "cosine":
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model, self.step)  # self.step: the steps before this one
        return float(norm)

    def after_validation(self, metrics: dict[str, float]) -> None:
        """Each epoch's validation metrics drive ReduceLROnPlateau (the cosine schedule steps per step)."""
        if self.config.lr_schedule == "plateau":
            self.scheduler.step(metrics["loss"])

    # -- the loop -------------------------------------------------------------------------------------------

    def size_run(self, num_examples: int) -> None:
        """Steps per epoch and in all, from the number of training examples."""
        c, r = self.config, self.runtime
        self.num_examples = num_examples
        per_step = c.batch_size * r.world_size * c.grad_accum
        self.steps_per_epoch = num_examples // per_step
        if self.steps_per_epoch == 0:
            raise TrainingError(
                f"{num_examples} training images are fewer than one step's {per_step}: lower batch_size"
            )
        self.planned_steps = c.epochs * self.steps_per_epoch  # the run's length without a `minutes` budget
        if c.max_steps:
            self.planned_steps = min(self.planned_steps, c.max_steps)
        self.total_steps = self.planned_steps
        self.budget_steps: int | None = None  # the steps a `minutes` budget allows, once measured
        self.budget_final = False  # re-measured with validation, samples and checkpoints included

    def fit_budget(self, seconds_per_step: float, final: bool = False) -> None:
        """Size the run to its `minutes` budget (never below the steps already run); the LR schedule follows."""
        self.budget_steps = max(self.step, round(self.config.minutes * 60 / seconds_per_step))
        self.budget_final = final
        self.total_steps = min(self.planned_steps, self.budget_steps)

    def begin(self, resume: bool) -> None:
        """Resume the run in out_dir, or check that out_dir holds none; then record the config."""
        if resume:
            self._resume()
        elif states.list_states(self.out_dir):
            raise TrainingError(f"{self.out_dir} already holds a run: pass --resume to continue it, or another out_dir")
        if self.runtime.is_main:
            save_train_config(self.config, self.out_dir / "config.yaml")

    def epoch_order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed((self.data_seed * 7919 + epoch) % 2**64)
        return torch.randperm(self.num_examples, generator=generator)

    def micro_batch(self, order: torch.Tensor, micro: int) -> tuple[np.ndarray, torch.Generator]:
        """This process's example indices for micro-step `micro` of the current step, and its generator."""
        c, r = self.config, self.runtime
        start = (self.position * c.grad_accum + micro) * c.batch_size * r.world_size + r.rank * c.batch_size
        return order[start : start + c.batch_size].numpy(), step_generator(self.data_seed, self.step, r.rank, micro)

    def seed_dropout(self) -> None:
        torch.manual_seed(step_generator(self.data_seed, self.step, self.runtime.rank, 100).initial_seed())

    def fit(self) -> Path:
        c = self.config
        logger = MetricLogger(self.out_dir, self.runtime.is_main, self.total_steps, self.step, self.progress)
        skipped_in_a_row, started_at, probe, start = 0, self.step, 0.0, time.perf_counter()
        step_seconds: list[float] = []  # each training step of this process, for sizing a `minutes` budget
        try:
            while self.epoch < c.epochs and self.step < self.total_steps:
                order = self.epoch_order(self.epoch)
                tick, images_done = time.perf_counter(), 0
                while self.position < self.steps_per_epoch and self.step < self.total_steps:
                    self.seed_dropout()
                    tock = time.perf_counter()
                    metrics = self.train_step(order)
                    step_seconds.append(time.perf_counter() - tock)
                    skipped_in_a_row = skipped_in_a_row + 1 if "skipped" in metrics else 0
                    if skipped_in_a_row >= MAX_SKIPPED_STEPS:
                        raise TrainingError(f"{MAX_SKIPPED_STEPS} steps in a row had non-finite losses: lower lr")
                    self.step += 1
                    self.position += 1
                    if c.minutes and self.budget_steps is None:
                        if self.step - started_at == PROBE[0]:
                            probe = time.perf_counter()
                        elif self.step - started_at == PROBE[1]:
                            seconds = seconds_per_step(step_seconds[PROBE[0] :], time.perf_counter() - probe)
                            self.fit_budget(self.runtime.mean(seconds))  # every process: the same steps
                            logger.resize(self.total_steps)
                            logger.message(f"{c.minutes:g} minutes at this speed: {self.total_steps} steps")
                    images_done += c.batch_size * c.grad_accum * self.runtime.world_size
                    logger.advance()
                    if self.step % c.log_every == 0:
                        metrics["images_per_s"] = images_done / (time.perf_counter() - tick)
                        if self.tokens_per_image:
                            metrics["tokens_per_s"] = metrics["images_per_s"] * self.tokens_per_image
                        metrics["epoch"] = self.epoch
                        logger.log(self.step, metrics)
                        tick, images_done = time.perf_counter(), 0
                    if self.step % c.checkpoint_every == 0:
                        self.save()
                if self.position >= self.steps_per_epoch:
                    self._end_epoch(logger)
                    if c.minutes and self.budget_steps is not None and not self.budget_final and self.step > started_at:
                        seconds = seconds_per_step(step_seconds, time.perf_counter() - start, warmup=PROBE[0])
                        self.fit_budget(self.runtime.mean(seconds), final=True)
                        logger.resize(self.total_steps)
                        logger.message(f"{c.minutes:g} minutes, validation included: {self.total_steps} steps")
            if self.position and self.step > started_at:  # ended inside an epoch (a budget): the last weights compete
                self._validate(logger)
            self.save()
            self.export(self.out_dir / "model.safetensors")
        finally:
            logger.close()
        return self.out_dir / "model.safetensors"

    def _end_epoch(self, logger: MetricLogger) -> None:
        self._validate(logger)
        if self.runtime.is_main:
            self.sample_grid(self.out_dir / "samples" / f"epoch_{self.epoch:03d}.png")
        self.epoch += 1
        self.position = 0

    def _validate(self, logger: MetricLogger) -> None:
        """Validate the current weights; the best so far are exported as best.safetensors."""
        val = self.validate()
        logger.log(self.step, val, prefix="val")
        logger.message(f"epoch {self.epoch}: " + ", ".join(f"val {k} {v:.4g}" for k, v in val.items()))
        self.after_validation(val)
        if val["loss"] < self.best_val:
            self.best_val = val["loss"]
            self.export(self.out_dir / "best.safetensors")

    # -- checkpoints ----------------------------------------------------------------------------------------

    def save(self) -> None:
        if self.runtime.is_main:
            state = {
                **self.model_state(),
                "step": self.step,
                "epoch": self.epoch,
                "position": self.position,
                "best_val": self.best_val,
                "data_seed": self.data_seed,
                "config": config_to_dict(self.config),
                "fingerprint": self.fingerprint(),
                "world_size": self.runtime.world_size,
                "budget_steps": self.budget_steps,
                "budget_final": self.budget_final,
            }
            states.save_state(self.out_dir, self.step, state, self.config.keep_last)

    def _resume(self) -> None:
        saved = states.load_latest_state(self.out_dir)
        if saved is None:
            raise TrainingError(f"nothing to resume in {self.out_dir}: no checkpoints/step_*.pt (drop --resume)")
        changed = differences(saved["config"], self.config, ignore=RESUMABLE_CHANGES)
        for key, value in self.fingerprint().items():
            if saved["fingerprint"].get(key) != value:
                changed.append(f"the {key}")
        if saved["world_size"] != self.runtime.world_size:
            changed.append(f"processes ({saved['world_size']} -> {self.runtime.world_size})")
        if changed:
            raise TrainingError(f"cannot resume {self.out_dir} with a different setup: {'; '.join(changed)}")
        self.load_model_state(saved)
        self.step, self.epoch, self.position = saved["step"], saved["epoch"], saved["position"]
        if saved.get("budget_steps"):  # a `minutes` budget sized before: the same steps, the same LR schedule
            self.budget_steps = saved["budget_steps"]
            self.budget_final = saved.get("budget_final", True)  # states from before the re-measure: as sized
            self.total_steps = min(self.planned_steps, saved["budget_steps"])
        self.best_val = saved["best_val"]
        self.data_seed = saved.get("data_seed", self.config.seed)  # states from before data seeds: the config's
