"""Stage 1: train the VQGAN tokenizer.

Loss = l1 |x - x'| (+ l2 (x - x')^2) + perceptual(x, x') + codebook/commitment
       + gan_weight * adaptive_weight * hinge generator loss (after gan_start_step),
and a PatchGAN discriminator trained with the hinge loss. Dead codes are restarted on encoder outputs.
With `train_decoder_only` the encode path (encoder, quant_conv, codebook) is frozen and the token ids with it.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from maskgit.checkpoint import save_checkpoint
from maskgit.data.images import row_groups_grid, save_png, to_uint8
from maskgit.data.registry import load_images
from maskgit.precision import autocast_dtype
from maskgit.tokenizer.metrics import reconstruction_metrics
from maskgit.tokenizer.vqgan import VQGAN
from maskgit.training.config import TokenizerTrainConfig
from maskgit.training.loop import TrainLoop
from maskgit.training.losses import (
    PatchDiscriminator,
    PerceptualLoss,
    adaptive_gan_weight,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from maskgit.training.optim import ModelEMA, adamw, fused_adamw, lr_scheduler
from maskgit.training.runtime import Runtime, autocast


class TokenizerTrainer(TrainLoop):
    config: TokenizerTrainConfig

    def __init__(
        self, config: TokenizerTrainConfig, runtime: Runtime | None = None, resume: bool = False, progress: bool = True
    ) -> None:
        super().__init__(config, runtime, progress)
        device = self.runtime.device
        model_config = config.tokenizer_config()
        self.train_images = load_images(
            config.data, "train", model_config.resolution, model_config.image_channels, strict=config.strict_data
        )
        self.val_images = load_images(
            config.data, "val", model_config.resolution, model_config.image_channels, strict=config.strict_data
        )
        self.model = VQGAN(model_config).to(device)
        if config.init_from:  # a new discriminator: exported checkpoints hold none
            self.model.load_state_dict(self.initial_weights(config.init_from, "tokenizer").state_dict())
        for part in self.frozen_parts:  # before the optimizer, which takes only the parameters that train
            part.requires_grad_(False)
        self.network = DistributedDataParallel(self.model) if self.runtime.distributed else self.model
        self.optimizer = adamw(self.model, config)
        self.perceptual = PerceptualLoss().to(device) if config.perceptual_weight > 0 else None
        self.discriminator = None
        if config.gan_weight > 0:
            layers = min(3, int(math.log2(model_config.resolution // 4)))  # its last two convs need a 4x4 map
            self.discriminator = PatchDiscriminator(
                model_config.image_channels, config.discriminator_channels, layers
            ).to(device)
            self.disc_network = (
                DistributedDataParallel(self.discriminator) if self.runtime.distributed else self.discriminator
            )
            disc_params = list(self.discriminator.parameters())
            self.disc_optimizer = torch.optim.AdamW(
                disc_params, lr=config.lr, betas=config.betas, weight_decay=0.0, fused=fused_adamw(disc_params)
            )
        self.ema = ModelEMA(self.model, config.ema_decay) if config.ema_decay else None
        self.amp = autocast_dtype(config.precision, device)
        self.size_run(len(self.train_images))
        self.scheduler = lr_scheduler(self.optimizer, config, lambda: self.total_steps)
        self.begin(resume)

    @property
    def frozen_parts(self) -> tuple[torch.nn.Module, ...]:
        """The encode path when only the decoder trains: images -> token ids stays the init_from tokenizer's."""
        if not self.config.train_decoder_only:
            return ()
        return self.model.encode_path

    def _images(self, order: torch.Tensor, micro: int) -> torch.Tensor:
        index, generator = self.micro_batch(order, micro)
        images = self.train_images.tensors(np.sort(index)).to(self.runtime.device)
        if self.config.flip:
            flip = (torch.rand(len(index), generator=generator) < 0.5).to(images.device)
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return images.contiguous(memory_format=self.memory_format)

    @property
    def memory_format(self) -> torch.memory_format:
        """The images' layout, which every convolution keeps. Measured on a CPU (docs/benchmarks.md): in fp32 the
        whole step ran 1.5x faster channels-last; under bf16 autocast GroupNorm's backward on channels-last
        tensors was 10-30x slower than on contiguous ones, which outweighed the faster convolutions."""
        if self.runtime.device.type == "cpu" and self.amp is not None:
            return torch.contiguous_format
        return torch.channels_last

    def train_step(self, order: torch.Tensor) -> dict[str, float]:
        c, device = self.config, self.runtime.device
        self.network.train()
        for part in self.frozen_parts:  # eval: the EMA codebook keeps its statistics
            part.eval()
        gan_on = self.discriminator is not None and self.step >= c.gan_start_step
        sums: dict[str, float] = {}
        for micro in range(c.grad_accum):
            images = self._images(order, micro)
            last = micro == c.grad_accum - 1
            with nullcontext() if last or not self.runtime.distributed else self.network.no_sync():
                with autocast(self.amp, device):
                    out = self.network(images)
                rec = out.reconstruction.float()
                terms, rec_grad = self._reconstruction_losses(images, rec, gan_on)
                loss = terms["nll"] + terms.get("gan", 0.0) + out.quantizer_loss
                # One backward through the VQGAN: the losses' own networks were run backward once, above.
                scale = 1.0 / c.grad_accum
                outputs, grads = [rec], [rec_grad * scale]
                if out.quantizer_loss.requires_grad:  # not with the encode path frozen
                    outputs.append(out.quantizer_loss)
                    grads.append(torch.full_like(out.quantizer_loss, scale))
                torch.autograd.backward(outputs, grads)
            for key, value in (
                ("loss", loss),
                ("l1", terms["l1"]),
                ("quantizer", out.quantizer_loss),
                ("perplexity", out.perplexity),
                *((key, terms[key]) for key in ("perceptual", "gan_weight") if key in terms),
            ):
                sums[key] = sums.get(key, 0.0) + float(value.detach()) / c.grad_accum
        if self.apply_gradients() is None:
            return {**sums, "skipped": 1.0}
        if gan_on:
            sums["discriminator"] = self._discriminator_step(images, rec.detach())
        restarts = c.restart_dead_codes_every and not c.train_decoder_only
        if restarts and (self.step + 1) % c.restart_dead_codes_every == 0:
            with torch.no_grad():
                latents = self.model.encode_latents(images)
            sums["restarted_codes"] = float(self.model.quantizer.restart_dead_codes(latents, c.dead_code_threshold))
        sums["lr"] = self.optimizer.param_groups[0]["lr"]
        return sums

    def _reconstruction_losses(
        self, images: torch.Tensor, rec: torch.Tensor, gan_on: bool
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The losses that look at the reconstruction, and their gradient with respect to it.

        nll = l1 (+ l2) + perceptual; with the GAN on, gan = gan_weight * adaptive weight * generator loss.
        The perceptual network and the discriminator run forward and backward once each (to the
        reconstruction; the adaptive weight's last-layer gradients follow from those by the last layer's
        backward alone), so the step's single backward through the VQGAN gives the same gradients as
        backpropagating the summed loss.
        """
        c, device = self.config, self.runtime.device
        x = rec.detach().requires_grad_(True)
        terms = {"l1": (images - x).abs().mean()}
        nll = c.l1_weight * terms["l1"] + (c.l2_weight * F.mse_loss(x, images) if c.l2_weight else 0.0)
        if self.perceptual is not None:  # fp32: its depthwise convolutions were no faster in bf16
            terms["perceptual"] = self.perceptual(images, x)
            nll = nll + c.perceptual_weight * terms["perceptual"]
        terms["nll"] = nll
        (rec_grad,) = torch.autograd.grad(nll, x)
        if not gan_on:
            return terms, rec_grad
        self.discriminator.requires_grad_(False)  # type: ignore[union-attr]
        with autocast(self.amp, device):
            generator_loss = hinge_generator_loss(self.discriminator(x).float())  # type: ignore[misc]
        (gan_grad,) = torch.autograd.grad(generator_loss, x)
        last_layer = self.model.decoder.layers[-1].weight
        nll_last, gan_last = (
            torch.autograd.grad(rec, last_layer, grad_outputs=g, retain_graph=True)[0] for g in (rec_grad, gan_grad)
        )
        terms["gan_weight"] = adaptive_gan_weight(nll_last, gan_last)
        weight = c.gan_weight * terms["gan_weight"]
        terms["gan"] = weight * generator_loss.detach()
        return terms, rec_grad + weight * gan_grad

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        self.discriminator.requires_grad_(True)  # type: ignore[union-attr]
        with autocast(self.amp, self.runtime.device):
            logits = self.disc_network(torch.cat([real, fake])).float()  # one pass: DDP wants one forward
        real_logits, fake_logits = logits.chunk(2)
        loss = hinge_discriminator_loss(real_logits, fake_logits)
        loss.backward()
        self.disc_optimizer.step()
        self.disc_optimizer.zero_grad(set_to_none=True)
        return loss.item()

    def validate(self) -> dict[str, float]:
        """Reconstruction L1 ("loss", picks the best checkpoint), PSNR and codebook use on the val split."""
        r = self.runtime
        images = self.val_images.tensors(np.arange(r.rank, len(self.val_images), r.world_size)).to(r.device)
        metrics = reconstruction_metrics(self.eval_model, images, self.config.batch_size)
        return {"loss": r.mean(metrics["l1"]), **{k: r.mean(v) for k, v in metrics.items() if k != "l1"}}

    @torch.no_grad()
    def sample_grid(self, path: Path) -> None:
        """Pairs of rows: val images, then their reconstructions."""
        if self.config.sample_images <= 0:
            return
        images = self.val_images.tensors(slice(0, self.config.sample_images)).to(self.runtime.device)
        model = self.eval_model.eval()
        rec, _ = model.reconstruct(images)
        save_png(row_groups_grid([to_uint8(images), to_uint8(rec)]), path)

    def export(self, path: Path) -> None:
        if self.runtime.is_main:
            extra = {"step": self.step, "epoch": self.epoch, "data": self.config.data, "best_val_l1": self.best_val}
            save_checkpoint(path, tokenizer=self.eval_model, extra=extra, dtype=self.config.export_torch_dtype)

    def model_state(self) -> dict[str, Any]:
        state = super().model_state()
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["disc_optimizer"] = self.disc_optimizer.state_dict()
        return state

    def load_model_state(self, saved: dict[str, Any]) -> None:
        super().load_model_state(saved)
        if self.discriminator is not None:
            self.discriminator.load_state_dict(saved["discriminator"])
            self.disc_optimizer.load_state_dict(saved["disc_optimizer"])
