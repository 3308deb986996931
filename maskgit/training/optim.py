"""Optimizer, learning-rate schedule and the EMA of weights."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from maskgit.training.config import LoopConfig


def adamw(model: nn.Module, config: LoopConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms, embeddings' positions)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (decay if param.dim() >= 2 and "position" not in name else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=fused_adamw(decay + no_decay))


def fused_adamw(params: list[torch.Tensor]) -> bool | None:
    """True where torch has a fused AdamW kernel for these parameters (CPU and CUDA floats): one pass over each
    tensor instead of a dozen (the same update to float rounding); None lets torch choose elsewhere."""
    supported = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return True if supported and params else None


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then cosine from 1 down to min_ratio at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_scheduler(optimizer: torch.optim.Optimizer, config: LoopConfig, total_steps: Callable[[], int]):
    """The run's LR schedule; total_steps is asked at every step (a `minutes` budget resizes the run as it goes)."""
    if config.lr_schedule == "plateau":  # seed 002: factor 0.1, patience 2 evaluations, min 1e-6
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=2, min_lr=1e-6)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, config.warmup_steps, total_steps(), config.min_lr_ratio)
    )


class ModelEMA:
    """An exponential moving average of a model's floating-point weights and buffers.

    The decay warms up as min(decay, (1 + step) / (10 + step)) (as timm's and ema-pytorch's EMAs do), so a short
    run's average is not dominated by the weights it started from: at 0.999 without it, 650 steps would leave
    half of the initial (random) weights in the average.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The decay of the update after `step` earlier updates."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average in `model` after `step` earlier optimizer steps."""
        decay = self.decay_at(step)
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values(), strict=True))
        floats = [(ema, live) for ema, live in pairs if ema.is_floating_point()]
        if floats:  # one foreach kernel over all tensors rather than a call per tensor
            torch._foreach_lerp_([e for e, _ in floats], [live for _, live in floats], 1 - decay)
        for ema, live in pairs:
            if not ema.is_floating_point():
                ema.copy_(live)
