"""Stage 2: train the bidirectional transformer by masked visual token modeling on cached tokens.

One process or several under torchrun (DDP). Every random choice of a step (the epoch's order, masks,
flips, class dropout, and dropout through the global RNG, re-seeded each step) comes from the seed, the
step number and the process rank, so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from maskgit.checkpoint import load_checkpoint, save_checkpoint
from maskgit.config import config_to_dict
from maskgit.data.images import ImageSet, image_grid, save_png, to_uint8
from maskgit.data.masks import benchmark_masks
from maskgit.data.registry import load_images
from maskgit.decoding.config import DecodeConfig
from maskgit.errors import TrainingError
from maskgit.masking.mvtm import mask_tokens, masked_token_accuracy, mvtm_loss
from maskgit.pipeline import MaskGIT
from maskgit.training import state as states
from maskgit.training.config import TransformerTrainConfig, differences, save_train_config
from maskgit.training.logger import MetricLogger
from maskgit.training.optim import ModelEMA, adamw, lr_scheduler
from maskgit.training.runtime import (
    Runtime,
    autocast,
    autocast_dtype,
    seed_everything,
    start_runtime,
    step_generator,
)
from maskgit.training.token_cache import TokenSet, cache_path, file_hash, load_or_build
from maskgit.transformer.model import BidirectionalTransformer

# Fields that may change between a run and its resumption; any other change is an error.
RESUMABLE_CHANGES = ("epochs", "max_steps", "checkpoint_every", "keep_last", "log_every", "sample_images")
MAX_SKIPPED_STEPS = 20  # consecutive non-finite steps before training gives up


class TransformerTrainer:
    def __init__(
        self,
        config: TransformerTrainConfig,
        runtime: Runtime | None = None,
        resume: bool = False,
        progress: bool = True,
    ) -> None:
        config.check()
        self.config = config
        self.runtime = runtime or start_runtime()
        self.out_dir = Path(config.out_dir)
        self.progress = progress
        device = self.runtime.device
        seed_everything(config.seed + self.runtime.rank)

        loaded = load_checkpoint(config.tokenizer, device=device)
        if loaded.tokenizer is None:
            raise TrainingError(
                f"{config.tokenizer} holds no tokenizer: give a checkpoint from maskgit train-tokenizer"
            )
        self.tokenizer = loaded.tokenizer.requires_grad_(False)
        self.tokenizer_hash = file_hash(Path(config.tokenizer))
        t = self.tokenizer.config
        self.val_images = load_images(config.data, "val", t.resolution, t.image_channels)
        self.train_tokens = self._tokens("train", config.flip)
        self.val_tokens = self._tokens("val", False, self.val_images)

        model_config = config.transformer_config(t)
        if config.class_conditional:
            if self.train_tokens.labels is None:
                raise TrainingError(f"class_conditional needs labels, and {config.data} has none")
            num_classes = int(max(self.train_tokens.labels.max(), self.val_tokens.labels.max())) + 1
            model_config = type(model_config)(**{**model_config.__dict__, "num_classes": num_classes})
        self.model = BidirectionalTransformer(model_config).to(device)
        self.network = DistributedDataParallel(self.model) if self.runtime.distributed else self.model
        self.optimizer = adamw(self.model, config)
        per_step = config.batch_size * self.runtime.world_size * config.grad_accum
        self.steps_per_epoch = len(self.train_tokens) // per_step
        if self.steps_per_epoch == 0:
            raise TrainingError(
                f"{len(self.train_tokens)} training images are fewer than one step's {per_step}: lower batch_size"
            )
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scheduler = lr_scheduler(self.optimizer, config, self.total_steps)
        self.ema = ModelEMA(self.model, config.ema_decay) if config.ema_decay else None
        self.amp = autocast_dtype(config.precision, device)
        self.step, self.epoch, self.position, self.best_val = 0, 0, 0, math.inf
        if resume:
            self._resume()
        elif states.list_states(self.out_dir):
            raise TrainingError(f"{self.out_dir} already holds a run: pass --resume to continue it, or another out_dir")
        if self.runtime.is_main:
            save_train_config(config, self.out_dir / "config.yaml")

    # -- data ---------------------------------------------------------------------------------------------

    def _tokens(self, split: str, flip: bool, images: ImageSet | None = None) -> TokenSet:
        path = cache_path(self.config.data, split, self.tokenizer_hash, flip)
        if self.runtime.is_main and not path.is_file():
            t = self.tokenizer.config
            images = images or load_images(self.config.data, split, t.resolution, t.image_channels)
            load_or_build(path, self.tokenizer, images, flip, self.runtime.device, True, self.progress)
        self.runtime.barrier()  # the other processes read what rank 0 wrote
        return load_or_build(path, self.tokenizer, images, flip, self.runtime.device, False, False)  # type: ignore[arg-type]

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        return torch.randperm(
            len(self.train_tokens), generator=torch.Generator().manual_seed(self.config.seed * 7919 + epoch)
        )

    def _micro_batch(
        self, order: torch.Tensor, micro: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Generator]:
        c, r = self.config, self.runtime
        start = (self.position * c.grad_accum + micro) * c.batch_size * r.world_size + r.rank * c.batch_size
        index = order[start : start + c.batch_size].numpy()
        generator = step_generator(c.seed, self.step, r.rank, micro)
        views = self.train_tokens.tokens.shape[1]
        view = torch.randint(0, views, (len(index),), generator=generator).numpy()
        tokens = torch.from_numpy(self.train_tokens.tokens[index, view].astype(np.int64))  # (b, N)
        classes = None
        if self.model.config.num_classes:
            classes = torch.from_numpy(self.train_tokens.labels[index].astype(np.int64))
            dropped = torch.rand(len(index), generator=generator) < c.class_dropout
            classes = classes.masked_fill(dropped, self.model.config.null_class_id)
        return tokens, classes, generator

    # -- training -----------------------------------------------------------------------------------------

    def train_step(self, order: torch.Tensor) -> dict[str, float]:
        c, device = self.config, self.runtime.device
        self.network.train()
        torch.manual_seed(step_generator(c.seed, self.step, self.runtime.rank, 100).initial_seed())  # dropout
        total_loss = 0.0
        for micro in range(c.grad_accum):
            tokens, classes, generator = self._micro_batch(order, micro)
            batch = mask_tokens(tokens, self.model.config.mask_token_id, c.mask_schedule, generator)
            last = micro == c.grad_accum - 1
            sync = nullcontext() if last or not self.runtime.distributed else self.network.no_sync()
            with sync:
                with autocast(self.amp, device):
                    logits = self.network(batch.inputs.to(device), None if classes is None else classes.to(device))
                loss = mvtm_loss(
                    logits, batch.targets.to(device), batch.token_mask.to(device), c.loss_on, c.label_smoothing
                )
                (loss / c.grad_accum).backward()
            total_loss += loss.item() / c.grad_accum
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip or math.inf)
        if not torch.isfinite(norm):  # gradients are all-reduced, so every process skips together
            self.optimizer.zero_grad(set_to_none=True)
            return {"loss": total_loss, "skipped": 1.0}
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if c.lr_schedule == "cosine":
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return {"loss": total_loss, "grad_norm": float(norm), "lr": self.optimizer.param_groups[0]["lr"]}

    def fit(self) -> Path:
        c = self.config
        logger = MetricLogger(self.out_dir, self.runtime.is_main, self.total_steps, self.step, self.progress)
        skipped_in_a_row = 0
        try:
            while self.epoch < c.epochs and self.step < self.total_steps:
                order = self._epoch_order(self.epoch)
                tick, images_done = time.perf_counter(), 0
                while self.position < self.steps_per_epoch and self.step < self.total_steps:
                    metrics = self.train_step(order)
                    skipped_in_a_row = skipped_in_a_row + 1 if "skipped" in metrics else 0
                    if skipped_in_a_row >= MAX_SKIPPED_STEPS:
                        raise TrainingError(f"{MAX_SKIPPED_STEPS} steps in a row had non-finite losses: lower lr")
                    self.step += 1
                    self.position += 1
                    images_done += c.batch_size * c.grad_accum * self.runtime.world_size
                    logger.advance()
                    if self.step % c.log_every == 0:
                        elapsed = time.perf_counter() - tick
                        metrics["images_per_s"] = images_done / elapsed
                        metrics["tokens_per_s"] = metrics["images_per_s"] * self.model.config.num_tokens
                        metrics["epoch"] = self.epoch
                        logger.log(self.step, metrics)
                        tick, images_done = time.perf_counter(), 0
                    if self.step % c.checkpoint_every == 0:
                        self.save()
                if self.position >= self.steps_per_epoch:
                    self._end_epoch(logger)
            self.save()
            self.export(self.out_dir / "model.safetensors")
        finally:
            logger.close()
        return self.out_dir / "model.safetensors"

    def _end_epoch(self, logger: MetricLogger) -> None:
        val = self.validate()
        logger.log(self.step, val, prefix="val")
        logger.message(f"epoch {self.epoch}: val loss {val['loss']:.4f}, masked accuracy {val['masked_accuracy']:.3f}")
        if self.config.lr_schedule == "plateau":
            self.scheduler.step(val["loss"])
        if val["loss"] < self.best_val:
            self.best_val = val["loss"]
            self.export(self.out_dir / "best.safetensors")
        self.sample_grid(self.out_dir / "samples" / f"epoch_{self.epoch:03d}.png")
        self.epoch += 1
        self.position = 0

    @property
    def eval_model(self) -> BidirectionalTransformer:
        return self.ema.model if self.ema is not None else self.model  # type: ignore[return-value]

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and masked-token accuracy on the val split with fixed masks (the same every epoch)."""
        c, r = self.config, self.runtime
        model = self.eval_model.eval()
        index = np.arange(r.rank, len(self.val_tokens), r.world_size)
        generator = torch.Generator().manual_seed(12345 + r.rank)
        loss_sum, hits, masked, count = 0.0, 0.0, 0.0, 0
        for start in range(0, len(index), c.batch_size):
            rows = index[start : start + c.batch_size]
            tokens = torch.from_numpy(self.val_tokens.tokens[rows, 0].astype(np.int64))
            batch = mask_tokens(tokens, model.config.mask_token_id, c.mask_schedule, generator)
            with autocast(self.amp, r.device):
                logits = model(batch.inputs.to(r.device))
            targets, token_mask = batch.targets.to(r.device), batch.token_mask.to(r.device)
            loss_sum += mvtm_loss(logits, targets, token_mask, c.loss_on).item() * len(rows)
            n_masked = float(token_mask.sum())
            hits += masked_token_accuracy(logits, targets, token_mask, model.config.codebook_size).item() * n_masked
            masked += n_masked
            count += len(rows)
        return {"loss": r.mean(loss_sum / max(count, 1)), "masked_accuracy": r.mean(hits / max(masked, 1.0))}

    @torch.no_grad()
    def sample_grid(self, path: Path) -> None:
        """Rows of: masked input, inpainting, ground truth, for the first val images (main process)."""
        if not self.runtime.is_main or self.config.sample_images <= 0:
            return
        images = self.val_images.tensors(slice(0, self.config.sample_images)).to(self.runtime.device)
        masks = torch.from_numpy(benchmark_masks(len(images), images.shape[-1])).to(images.device)
        model = MaskGIT(self.tokenizer, self.eval_model).eval()
        result = model.inpaint(images, masks, DecodeConfig(total_steps=8), generator=torch.Generator().manual_seed(0))
        shown = images.masked_fill(masks[:, None], 0.0)  # missing pixels grey
        rows = [to_uint8(x) for x in (shown, result.images, images)]
        columns = min(8, len(images))
        grids = [image_grid(row[i : i + columns], columns) for i in range(0, len(images), columns) for row in rows]
        save_png(np.concatenate(grids, axis=0), path)

    # -- checkpoints --------------------------------------------------------------------------------------

    def training_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "best_val": self.best_val,
            "config": config_to_dict(self.config),
            "tokenizer_hash": self.tokenizer_hash,
            "world_size": self.runtime.world_size,
        }

    def save(self) -> None:
        if self.runtime.is_main:
            states.save_state(self.out_dir, self.step, self.training_state(), self.config.keep_last)

    def export(self, path: Path) -> None:
        """The tokenizer and the (EMA) transformer as one inference checkpoint (main process)."""
        if self.runtime.is_main:
            extra = {"step": self.step, "epoch": self.epoch, "data": self.config.data, "best_val_loss": self.best_val}
            save_checkpoint(path, tokenizer=self.tokenizer, transformer=self.eval_model, extra=extra)

    def _resume(self) -> None:
        saved = states.load_latest_state(self.out_dir)
        if saved is None:
            raise TrainingError(f"nothing to resume in {self.out_dir}: no checkpoints/step_*.pt (drop --resume)")
        changed = differences(saved["config"], self.config, ignore=RESUMABLE_CHANGES)
        if saved["tokenizer_hash"] != self.tokenizer_hash:
            changed.append("the tokenizer checkpoint's contents")
        if saved["world_size"] != self.runtime.world_size:
            changed.append(f"processes ({saved['world_size']} -> {self.runtime.world_size})")
        if changed:
            raise TrainingError(f"cannot resume {self.out_dir} with a different setup: {'; '.join(changed)}")
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if self.ema is not None:
            self.ema.model.load_state_dict(saved["ema"])
        self.step, self.epoch, self.position = saved["step"], saved["epoch"], saved["position"]
        self.best_val = saved["best_val"]
