"""Training throughput: maskgit's stage-2 step against a lab-style step of the same size, and stage 1.

    python benchmarks/train.py           # prints a table, then one JSON line
    python benchmarks/train.py --quick   # fewer steps

Stage 2 (preset `emoji` transformer, 256 tokens, batch 32, random token ids):
- maskgit: pre-LN, fused attention, vectorised exact-count masking (maskgit.mask_tokens), AdamW;
  fp32 and bf16 autocast.
- lab-style baseline, as in seed 000: post-LN, explicit attention, fp32, one random ratio per batch
  and a Python loop over the samples to mask them (`mask_latent`), AdamW.
Achieved FLOP/s is set against matmul peaks measured in the same run (fp32 and bf16).
Stage 1: images/s of a tokenizer training step (preset `emoji`, batch 16), reconstruction losses
only, then with the perceptual loss, then with the GAN as well.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from maskgit import VQGAN, TokenizerConfig, TransformerConfig, gamma, mask_tokens, mvtm_loss
from maskgit.config import replace_config
from maskgit.training.losses import PatchDiscriminator, PerceptualLoss, adaptive_gan_weight, hinge_generator_loss
from maskgit.transformer.model import BidirectionalTransformer


def matmul_peak(dtype: torch.dtype, n: int = 1024, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def training_flops(config: TransformerConfig, batch: int) -> float:
    """Forward + backward FLOPs of one step (3x the forward's matmuls)."""
    d, length, depth = config.dim, config.num_tokens, config.depth
    per_token = depth * (2 * 4 * d * d + 2 * 2 * d * config.mlp_hidden + 2 * 2 * length * d) + 2 * d * d
    per_token += 2 * d * config.output_classes
    return 3 * per_token * length * batch


def lab_mask_latent(tokens: torch.Tensor, mask_token_id: int, schedule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed 000: one ratio for the batch, then a randperm per sample in a Python loop."""
    masked = tokens.clone()
    mask = torch.zeros_like(tokens, dtype=torch.bool)
    num_masked = int(gamma(schedule, float(np.random.uniform(0, 1))) * tokens.shape[1])
    for i in range(tokens.shape[0]):
        index = torch.randperm(tokens.shape[1])[:num_masked]
        masked[i, index] = mask_token_id
        mask[i, index] = True
    return masked, mask


def time_transformer(lab_style: bool, amp: torch.dtype | None, batch: int, steps: int) -> float:
    """Seconds per step (best of `steps` after a warm-up)."""
    torch.manual_seed(0)
    config = TransformerConfig.preset("emoji")
    if lab_style:
        config = replace_config(config, norm="post", layer_norm_eps=1e-12)
    model = BidirectionalTransformer(config).train()
    model.set_fused_attention(not lab_style)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.96), weight_decay=0.045)
    tokens = torch.randint(0, config.codebook_size, (batch, config.num_tokens))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        if lab_style:
            inputs, token_mask = lab_mask_latent(tokens, config.mask_token_id, "cosine")
        else:
            masked = mask_tokens(tokens, config.mask_token_id, schedule="cosine")
            inputs, token_mask = masked.inputs, masked.token_mask
        with torch.autocast("cpu", dtype=amp) if amp else torch.autocast("cpu", enabled=False):
            logits = model(inputs)
        loss = (
            F.cross_entropy(logits.float().flatten(0, 1), tokens.flatten())
            if lab_style
            else mvtm_loss(logits, tokens, token_mask)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def time_tokenizer(perceptual: bool, gan: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = VQGAN(TokenizerConfig.preset("emoji")).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.5, 0.9))
    perceptual_loss = PerceptualLoss() if perceptual else None
    discriminator = PatchDiscriminator(3, 32) if gan else None
    disc_optimizer = torch.optim.AdamW(discriminator.parameters(), lr=2e-4) if discriminator else None
    images = torch.rand(batch, 3, 64, 64) * 2 - 1
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        out = model(images)
        nll = (images - out.reconstruction).abs().mean()
        if perceptual_loss is not None:
            nll = nll + 0.1 * perceptual_loss(images, out.reconstruction)
        loss = nll + out.quantizer_loss
        if discriminator is not None:
            discriminator.requires_grad_(False)
            g_loss = hinge_generator_loss(discriminator(out.reconstruction))
            loss = loss + 0.1 * adaptive_gan_weight(nll, g_loss, model.decoder.layers[-1].weight) * g_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if discriminator is not None:
            discriminator.requires_grad_(True)
            logits = discriminator(torch.cat([images, out.reconstruction.detach()]))
            real, fake = logits.chunk(2)
            d_loss = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
            disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_optimizer.step()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps = 2 if args.quick else 5
    batch = 32
    config = TransformerConfig.preset("emoji")
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    flops = training_flops(config, batch)
    rows = []
    for name, lab_style, amp in (
        ("lab-style", True, None),
        ("maskgit fp32", False, None),
        ("maskgit bf16", False, torch.bfloat16),
    ):
        seconds = time_transformer(lab_style, amp, batch, steps)
        rows.append((name, batch / seconds, batch * config.num_tokens / seconds, flops / seconds))
    tokenizer_rows = []
    for name, perceptual, gan in (
        ("L1 + VQ", False, False),
        ("+ perceptual", True, False),
        ("+ perceptual + GAN", True, True),
    ):
        tokenizer_rows.append((name, 16 / time_tokenizer(perceptual, gan, 16, max(1, steps - 2))))

    print(f"train benchmark: {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    print(f"\nstage 2, transformer preset emoji ({flops / 1e9:.0f} GFLOP per step of {batch} images)")
    print(f"{'method':<14} {'images/s':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'of fp32 peak':>12} {'of bf16 peak':>12}")
    for name, ips, tps, fps in rows:
        shares = f"{fps / peaks['fp32']:>12.0%} {fps / peaks['bf16']:>12.0%}"
        print(f"{name:<14} {ips:>9.1f} {tps:>9.0f} {fps / 1e9:>8.1f} {shares}")
    print("\nstage 1, tokenizer preset emoji, batch 16")
    for name, ips in tokenizer_rows:
        print(f"{name:<20} {ips:>6.1f} images/s")
    best = max(rows[1:], key=lambda r: r[1])
    figures = {
        "benchmark": "train",
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
        "transformer_images_per_s": {r[0]: round(r[1], 2) for r in rows},
        "transformer_tokens_per_s": {r[0]: round(r[2]) for r in rows},
        "transformer_fraction_of_bf16_peak": {r[0]: round(r[3] / peaks["bf16"], 3) for r in rows},
        "transformer_fraction_of_fp32_peak": {r[0]: round(r[3] / peaks["fp32"], 3) for r in rows},
        "best_config": best[0],
        "speedup_vs_lab_loop": round(best[1] / rows[0][1], 2),
        "tokenizer_images_per_s": {name: round(ips, 2) for name, ips in tokenizer_rows},
    }
    print(f"\nbest: {best[0]}, {figures['speedup_vs_lab_loop']}x the lab-style step")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
