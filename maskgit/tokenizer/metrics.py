"""How well a tokenizer reconstructs images: L1, PSNR, and how much of its codebook it uses."""

from __future__ import annotations

import math

import torch

from maskgit.tokenizer.vqgan import VQGAN


@torch.no_grad()
def reconstruction_metrics(tokenizer: VQGAN, images: torch.Tensor, batch_size: int = 64) -> dict[str, float]:
    """images: (N, C, H, W) in [-1, 1]. L1 and PSNR are on the [0, 1] scale (PSNR over the set's MSE per image,
    averaged); code_usage is the fraction of codes that encode at least one token; perplexity is exp(entropy)."""
    tokenizer.eval()
    l1, psnr, counts = 0.0, 0.0, torch.zeros(tokenizer.config.codebook_size)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        rec, tokens = tokenizer.reconstruct(x)
        diff = (rec - x) / 2  # on the [0, 1] scale
        l1 += diff.abs().mean(dim=(1, 2, 3)).sum().item()
        mse = diff.pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        psnr += (-10 * torch.log10(mse)).sum().item()
        counts += torch.bincount(tokens.flatten().cpu(), minlength=tokenizer.config.codebook_size).float()
    probs = counts / counts.sum()
    entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum().item()
    n = len(images)
    return {
        "l1": l1 / n,
        "psnr": psnr / n,
        "code_usage": float((counts > 0).float().mean()),
        "perplexity": math.exp(entropy),
    }
