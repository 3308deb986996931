"""Stage 2: train the bidirectional transformer by masked visual token modeling on cached tokens."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from maskgit.checkpoint import load_checkpoint, save_checkpoint
from maskgit.classes import ClassVocabulary
from maskgit.config import replace_config
from maskgit.data.images import ImageSet, row_groups_grid, save_png, to_uint8
from maskgit.data.masks import benchmark_masks
from maskgit.data.registry import load_images
from maskgit.decoding.config import DecodeConfig
from maskgit.errors import TrainingError
from maskgit.masking.mix import draw_kinds, is_uniform_only, shaped_pixel_masks
from maskgit.masking.mvtm import MaskedBatch, codebook_neighbours, mask_tokens, masked_token_accuracy, mvtm_loss
from maskgit.pipeline import MaskGIT
from maskgit.precision import autocast_dtype
from maskgit.training.config import TransformerTrainConfig
from maskgit.training.loop import TrainLoop
from maskgit.training.optim import ModelEMA, adamw, lr_scheduler
from maskgit.training.runtime import Runtime, autocast
from maskgit.training.token_cache import TokenSet, cache_path, read_tokens, tokenizer_key, write_tokens
from maskgit.transformer.model import BidirectionalTransformer

VAL_BATCH = 32  # validation masks are drawn per batch of this many images (the CPU legs' training batch)


@dataclass
class MicroBatch:
    tokens: torch.Tensor  # (b, N) int64: the examples' token ids (of the image or its mirror)
    classes: torch.Tensor | None  # (b,) int64 class ids (the null class where dropped), or None
    images: torch.Tensor | None  # (b, C, H, W) in [-1, 1], mirrored like the tokens: hole-shaped masks need them
    generator: torch.Generator  # the micro-step's own random stream (masks, flips, class dropout)


class TransformerTrainer(TrainLoop):
    config: TransformerTrainConfig

    def __init__(
        self,
        config: TransformerTrainConfig,
        runtime: Runtime | None = None,
        resume: bool = False,
        progress: bool = True,
    ) -> None:
        super().__init__(config, runtime, progress)
        device = self.runtime.device
        loaded = load_checkpoint(config.tokenizer, device=device)
        if loaded.tokenizer is None:
            raise TrainingError(
                f"{config.tokenizer} holds no tokenizer: give a checkpoint from maskgit train-tokenizer"
            )
        self.tokenizer = loaded.tokenizer.requires_grad_(False)
        self.tokenizer_key = tokenizer_key(self.tokenizer)
        t = self.tokenizer.config
        self.val_images = load_images(
            config.data, "val", t.resolution, t.image_channels, strict=config.strict_data, labels=config.class_labels
        )
        self.train_tokens = self._tokens("train", config.flip)
        self.val_tokens = self._tokens("val", False, self.val_images)
        self.train_images = None  # hole-shaped training masks fill and tokenize the images as decoding does
        if not is_uniform_only(config.mask_mix):
            self.train_images = load_images(
                config.data, "train", t.resolution, t.image_channels, strict=config.strict_data
            )

        model_config = config.transformer_config(t)
        if config.class_conditional:
            if self.train_tokens.labels is None or self.val_tokens.labels is None:
                raise TrainingError(f"class_conditional needs labels, and {config.data} has none")
            num_classes = int(max(self.train_tokens.labels.max(), self.val_tokens.labels.max())) + 1
            model_config = replace_config(model_config, num_classes=num_classes)
        self.model = BidirectionalTransformer(model_config).to(device)
        codebook = self.tokenizer.quantizer.codebook.weight.detach()
        if config.embedding_from_codebook:
            self.model.init_token_embedding(codebook, seed=config.seed)
        if config.init_from:  # another run's (EMA) weights as exported, e.g. to train a shipped model on
            start = self.initial_weights(config.init_from, "transformer", new_inputs=("fill_hint",), grown=("depth",))
            self.model.start_from(start)  # a new hint or new blocks on top start as no change
        self.pipeline = MaskGIT(self.tokenizer, self.model)  # the inpainting path's tokenize_known and fill_hint
        self.neighbours = None  # (K, C) soft targets of each code, for codebook_smoothing
        if config.codebook_smoothing:
            self.neighbours = codebook_neighbours(codebook, model_config.output_classes).to(device)
        self.network = DistributedDataParallel(self.model) if self.runtime.distributed else self.model
        self.optimizer = adamw(self.model, config)
        self.ema = ModelEMA(self.model, config.ema_decay) if config.ema_decay else None
        self.amp = autocast_dtype(config.precision, device)
        self.tokens_per_image = model_config.num_tokens
        self.size_run(len(self.train_tokens))
        self.scheduler = lr_scheduler(self.optimizer, config, lambda: self.total_steps)
        self.begin(resume)

    def _tokens(self, split: str, flip: bool, images: ImageSet | None = None) -> TokenSet:
        c = self.config
        path = cache_path(c.data, split, self.tokenizer_key, flip, c.class_labels)
        if self.runtime.is_main and not path.is_file():
            t = self.tokenizer.config
            images = images or load_images(
                c.data, split, t.resolution, t.image_channels, strict=c.strict_data, labels=c.class_labels
            )
            write_tokens(path, self.tokenizer, images, flip=flip, device=self.runtime.device, progress=self.progress)
        self.runtime.barrier()  # the other processes read what rank 0 wrote
        return read_tokens(path)

    def _batch(self, order: torch.Tensor, micro: int) -> MicroBatch:
        """Micro-step `micro` of this step's examples: tokens, classes and images (MicroBatch)."""
        index, generator = self.micro_batch(order, micro)
        views = self.train_tokens.tokens.shape[1]
        view = torch.randint(0, views, (len(index),), generator=generator).numpy()
        tokens = torch.from_numpy(self.train_tokens.tokens[index, view].astype(np.int64))  # (b, N)
        classes = None
        if self.model.config.num_classes:
            classes = torch.from_numpy(self.train_tokens.labels[index].astype(np.int64))  # type: ignore[index]
            dropped = torch.rand(len(index), generator=generator) < self.config.class_dropout
            classes = classes.masked_fill(dropped, self.model.config.null_class_id)
        images = None
        if self.train_images is not None:
            images = self.train_images.tensors(index)  # (b, C, H, W)
            mirrored = torch.from_numpy(view == 1)[:, None, None, None]
            images = torch.where(mirrored, images.flip(-1), images)
        return MicroBatch(tokens, classes, images, generator)

    def _masked(
        self, tokens: torch.Tensor, generator: torch.Generator, images: torch.Tensor | None = None
    ) -> MaskedBatch:
        """The step's training masks: MaskGIT's uniform ones, with the rows of other kinds replaced by holes of
        those shapes (mask_mix). With uniform masks only, exactly what training drew before mask_mix existed.

        A hole row is what inpainting sees: its image (from `images`) filled and tokenized by tokenize_known (the
        known tokens are the filled image's, not the clean ones), the fill hint if the model reads one; its
        targets stay the clean image's tokens. Uniform rows carry no hint. Hole rows train with the null class, as
        inpainting decodes without one (`holes`).
        """
        c, t, mask_id = self.config, self.tokenizer.config, self.model.config.mask_token_id
        batch = mask_tokens(tokens, mask_id, schedule=c.mask_schedule, generator=generator)
        if is_uniform_only(c.mask_mix):
            return batch
        kinds = draw_kinds(c.mask_mix, len(tokens), generator)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        is_hole = torch.tensor([kind != "uniform" for kind in kinds])  # (B,) bool
        holes = is_hole.nonzero().squeeze(1)  # rows with a hole
        pixel_masks = shaped_pixel_masks(kinds, t.resolution, seed)[holes]  # (h, H, W)
        inputs, token_mask = batch.inputs.clone(), batch.token_mask.clone()
        hint = None
        if self.model.config.fill_hint:  # (B, N, 2): none anywhere but in the holes
            hint = torch.stack([torch.full_like(tokens, t.codebook_size), torch.zeros_like(tokens)], dim=-1)
        if len(holes):
            if images is None:
                raise TrainingError("hole-shaped training masks need the batch's images")
            device = self.runtime.device
            with torch.no_grad():
                seen, unknown = self.pipeline.tokenize_known(images[holes].to(device), pixel_masks.to(device))
                inputs[holes] = seen.masked_fill(unknown, mask_id).cpu()
                token_mask[holes] = unknown.cpu()
                if hint is not None:
                    hint[holes] = self.pipeline.fill_hint(seen, pixel_masks.to(device)).cpu()  # type: ignore[union-attr]
        return MaskedBatch(inputs=inputs, targets=batch.targets, token_mask=token_mask, hint=hint, holes=is_hole)

    def train_step(self, order: torch.Tensor) -> dict[str, float]:
        c, device = self.config, self.runtime.device
        self.network.train()
        total_loss = 0.0
        for micro in range(c.grad_accum):
            sample = self._batch(order, micro)
            batch = self._masked(sample.tokens, sample.generator, sample.images)
            last = micro == c.grad_accum - 1
            token_mask = batch.token_mask.to(device)
            at = token_mask if c.loss_on == "masked" else None  # the output head only where the loss looks
            with nullcontext() if last or not self.runtime.distributed else self.network.no_sync():
                with autocast(self.amp, device):
                    class_ids = None if sample.classes is None else sample.classes.to(device)
                    if class_ids is not None and batch.holes is not None:  # inpainting decodes without a class
                        class_ids = class_ids.masked_fill(batch.holes.to(device), self.model.config.null_class_id)
                    hint = None if batch.hint is None else batch.hint.to(device)
                    logits = self.network(batch.inputs.to(device), class_ids, at=at, hint=hint)
                loss = mvtm_loss(
                    logits,
                    batch.targets.to(device),
                    token_mask,
                    loss_on=c.loss_on,
                    label_smoothing=c.label_smoothing,
                    neighbours=self.neighbours,
                    codebook_smoothing=c.codebook_smoothing,
                )
                (loss / c.grad_accum).backward()
            total_loss += loss.item() / c.grad_accum
        norm = self.apply_gradients()
        if norm is None:
            return {"loss": total_loss, "skipped": 1.0}
        return {"loss": total_loss, "grad_norm": norm, "lr": self.optimizer.param_groups[0]["lr"]}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and masked-token accuracy on the val split with fixed masks (the same every epoch), drawn as
        training draws them (mask_mix; hole rows filled and tokenized as decoding does, with the fill hint), in
        batches of VAL_BATCH whatever the training batch, so runs of any batch size score the same masks."""
        c, r = self.config, self.runtime
        model = self.eval_model.eval()
        index = np.arange(r.rank, len(self.val_tokens), r.world_size)
        generator = torch.Generator().manual_seed(12345 + r.rank)
        loss_sum, hits, masked, count = 0.0, 0.0, 0.0, 0
        for start in range(0, len(index), VAL_BATCH):
            rows = index[start : start + VAL_BATCH]
            tokens = torch.from_numpy(self.val_tokens.tokens[rows, 0].astype(np.int64))
            images = None if self.train_images is None else self.val_images.tensors(rows)
            batch = self._masked(tokens, generator, images)
            hint = None if batch.hint is None else batch.hint.to(r.device)
            with autocast(self.amp, r.device):
                logits = model(batch.inputs.to(r.device), hint=hint)
            targets, token_mask = batch.targets.to(r.device), batch.token_mask.to(r.device)
            loss_sum += mvtm_loss(logits, targets, token_mask, loss_on=c.loss_on).item() * len(rows)
            n_masked = float(token_mask.sum())
            accuracy = masked_token_accuracy(logits, targets, token_mask, codebook_size=model.config.codebook_size)
            hits += accuracy.item() * n_masked
            masked += n_masked
            count += len(rows)
        return {"loss": r.mean(loss_sum / max(count, 1)), "masked_accuracy": r.mean(hits / max(masked, 1.0))}

    @torch.no_grad()
    def sample_grid(self, path: Path) -> None:
        """Rows of: masked input (missing pixels grey), inpainting, ground truth, for the first val images."""
        if self.config.sample_images <= 0:
            return
        images = self.val_images.tensors(slice(0, self.config.sample_images)).to(self.runtime.device)
        masks = torch.from_numpy(benchmark_masks(len(images), images.shape[-1])).to(images.device)
        model = MaskGIT(self.tokenizer, self.eval_model).eval()
        result = model.inpaint(images, masks, DecodeConfig(), generator=torch.Generator().manual_seed(0))
        rows = [to_uint8(x) for x in (images.masked_fill(masks[:, None], 0.0), result.images, images)]
        save_png(row_groups_grid(rows), path)

    def export(self, path: Path) -> None:
        """The tokenizer and the (EMA) transformer as one inference checkpoint (main process)."""
        if self.runtime.is_main:
            extra = {"step": self.step, "epoch": self.epoch, "data": self.config.data, "best_val_loss": self.best_val}
            if self.model.config.num_classes:  # what each class id means (maskgit inspect shows it)
                extra |= self.class_vocabulary().to_extra()
            dtype = self.config.export_torch_dtype
            save_checkpoint(path, tokenizer=self.tokenizer, transformer=self.eval_model, extra=extra, dtype=dtype)

    def class_vocabulary(self) -> ClassVocabulary:
        """The class ids' names and training counts (generation draws classes in these proportions)."""
        k = self.model.config.num_classes
        names = self.val_images.class_names or [f"class {i}" for i in range(k)]
        counts = np.bincount(self.train_tokens.labels, minlength=k)  # type: ignore[arg-type]
        return ClassVocabulary(self.config.class_labels, tuple(names), tuple(int(n) for n in counts))

    def fingerprint(self) -> dict[str, str]:
        return {"tokenizer's encode path": self.tokenizer_key}
