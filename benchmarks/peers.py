"""maskgit's decoding against the MaskGIT samplers users can install, in the same run, at equal FLOPs per token.

    pip install -e ".[bench]"                  # the peers (optional; never needed by the package or CI)
    python benchmarks/peers.py                 # T in {8, 20} x batch {1, 64} x {fp32, bf16} x {generate, inpaint}
    python benchmarks/peers.py --quick         # T = 8, batch 64 only
    python benchmarks/peers.py --batches 1,64,256 --device cuda

Peers (each skipped, and reported, when it is not installed):
- diffusers' aMUSEd: `UVit2DModel` with random weights, driven by `AmusedScheduler.step` exactly the way
  `AmusedInpaintPipeline` drives them (an empty text condition of one token, micro-conditioning, no
  guidance).
- lucidrains' `muse-maskgit-pytorch` (0.3.5) requires torchvision and transformers and imports both (a T5
  text encoder) when imported; torchvision cannot be installed here without replacing the CPU torch, so it
  is reported as skipped.

Models, random weights, 16x16 tokens, 1024 codes, width 256, 8 layers, 8 heads. maskgit's MLP is 1536 wide;
aMUSEd's blocks also cross-attend (2 more d x d projections per token) and use a gated feed-forward (3
matrices instead of 2), so its feed-forward is 853 wide: equal FLOPs per token (measured with
torch.utils.flop_counter and printed). Each method decodes the same token grids with its own sampling
rule (maskgit: `sampled`, the official MaskGIT rule; aMUSEd: multinomial sampling, noisy top-k
re-masking); the VQ encoder and decoder are left out. Throughput is images per second of a full decode,
after one warm-up decode: the best of --runs timings (default 3), each over at least 64 images, for
every method alike (a shared 2-core machine moves single timings by several percent). Prints a table,
then one JSON line with `speedup_vs_best_peer` per device.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch.utils.flop_counter import FlopCounterMode

from maskgit import DecodeConfig, decode_tokens
from maskgit.transformer.config import TransformerConfig
from maskgit.transformer.model import BidirectionalTransformer

CODES, TOKENS, GRID, WIDTH, DEPTH, HEADS, MLP = 1024, 256, 16, 256, 8, 8, 1536
AMUSED_MLP = round((2 * MLP - 2 * WIDTH) / 3)  # 4d^2 + 2dM (maskgit) = 6d^2 + 3dI (aMUSEd) per token


def maskgit_model(device: torch.device) -> BidirectionalTransformer:
    config = TransformerConfig(
        codebook_size=CODES, num_tokens=TOKENS, dim=WIDTH, depth=DEPTH, heads=HEADS, mlp_hidden=MLP,
        dropout=0.0, attn_dropout=0.0,
    )  # fmt: skip
    return BidirectionalTransformer(config).to(device).eval()


def amused_model(device: torch.device):
    from diffusers import UVit2DModel

    model = UVit2DModel(
        hidden_size=WIDTH, use_bias=False, cond_embed_dim=WIDTH, micro_cond_encode_dim=16, micro_cond_embed_dim=80,
        encoder_hidden_size=WIDTH, vocab_size=CODES + 1, codebook_size=CODES, in_channels=WIDTH,
        block_out_channels=WIDTH, num_res_blocks=0, block_num_heads=HEADS, num_hidden_layers=DEPTH,
        num_attention_heads=HEADS, intermediate_size=AMUSED_MLP, sample_size=GRID,
    )  # fmt: skip
    return model.to(device).eval()


def start_tokens(batch: int, start: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (B, N), token_mask (B, N)): all unknown ("generate"), or half unknown ("inpaint", a fixed half)."""
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, CODES, (batch, TOKENS), generator=g)
    mask = torch.ones(batch, TOKENS, dtype=torch.bool)
    if start == "inpaint":
        mask[:, : TOKENS // 2] = False
    return tokens.to(device), mask.to(device)


def maskgit_decoder(device: torch.device) -> tuple[Callable, torch.nn.Module]:
    model = maskgit_model(device)

    def decode(tokens: torch.Tensor, mask: torch.Tensor, steps: int, amp: torch.dtype | None) -> torch.Tensor:
        config = DecodeConfig(total_steps=steps, confidence="sampled", choice_temperature=4.5, schedule="cosine")
        return decode_tokens(model, tokens, mask, config, precision="bf16" if amp else "fp32").tokens

    return decode, model


def amused_decoder(device: torch.device) -> tuple[Callable, torch.nn.Module]:
    from diffusers import AmusedScheduler

    model = amused_model(device)
    scheduler = AmusedScheduler(mask_token_id=CODES, masking_schedule="cosine")

    @torch.no_grad()
    def decode(tokens: torch.Tensor, mask: torch.Tensor, steps: int, amp: torch.dtype | None) -> torch.Tensor:
        batch = tokens.shape[0]
        latents = tokens.masked_fill(mask, CODES).view(batch, GRID, GRID)
        text = torch.zeros(batch, 1, WIDTH, device=device)  # an empty condition of one token
        pooled = torch.zeros(batch, WIDTH, device=device)
        micro = torch.tensor([[GRID * 16, GRID * 16, 0, 0, 6.0]], device=device).expand(batch, -1)
        scheduler.set_timesteps(steps, (2, 0), device)
        ratio = mask.sum() / mask.numel()
        autocast = torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()
        for timestep in scheduler.timesteps:
            with autocast:
                logits = model(latents, encoder_hidden_states=text, pooled_text_emb=pooled, micro_conds=micro)
            latents = scheduler.step(logits.float(), timestep, latents, starting_mask_ratio=ratio).prev_sample
        return latents.view(batch, TOKENS)

    return decode, model


PEERS: dict[str, Callable[[torch.device], tuple[Callable, torch.nn.Module]]] = {"aMUSEd (diffusers)": amused_decoder}
UNAVAILABLE = {  # checked by hand: its wheel requires torchvision and transformers and imports both at import time
    "muse-maskgit-pytorch": "imports torchvision and a T5 text encoder; torchvision would replace the installed torch"
}


def flops_per_token(decode: Callable, device: torch.device) -> float:
    """FLOPs of one decoding step per token (one forward at batch 1, measured)."""
    tokens, mask = start_tokens(1, "generate", device)
    with FlopCounterMode(display=False) as counter:
        decode(tokens, mask, 1, None)
    return counter.get_total_flops() / TOKENS


def images_per_s(decode: Callable, batch: int, steps: int, start: str, amp, device, runs: int) -> float:
    """The best of `runs` timings (after one warm-up decode), each over at least 64 images."""
    tokens, mask = start_tokens(batch, start, device)
    decode(tokens, mask, steps, amp)  # warm-up
    repeats = math.ceil(64 / batch)
    best = 0.0
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        for _ in range(repeats):
            decode(tokens, mask, steps, amp)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, batch * repeats / (time.perf_counter() - began))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 8, batch 64 only")
    parser.add_argument("--steps", default="8,20")
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--runs", type=int, default=3, help="timings per cell; the best counts (default 3)")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = [8] if args.quick else [int(s) for s in args.steps.split(",")]
    batches = [64] if args.quick else [int(b) for b in args.batches.split(",")]
    precisions = {"fp32": None, "bf16": torch.bfloat16}
    methods = {"maskgit": maskgit_decoder}
    skipped = dict(UNAVAILABLE)
    for name, build in PEERS.items():
        try:
            build(device)
            methods[name] = build
        except ImportError as error:
            skipped[name] = f"not installed ({error.name}): pip install -e '.[bench]'"
    decoders = {name: build(device) for name, build in methods.items()}
    print(f"device {device} ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    for name, (decode, model) in decoders.items():
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"  {name:<20} {params:5.1f} M parameters, {flops_per_token(decode, device) / 1e6:5.2f} MFLOP/token/step")
    for name, why in skipped.items():
        print(f"  {name:<20} skipped: {why}")
    rows = []
    print(f"\n| method | start | T | batch | precision | images/s |\n|{'---|' * 6}")
    for start in ("generate", "inpaint"):
        for t in steps:
            for batch in batches:
                for precision, amp in precisions.items():
                    for name, (decode, _) in decoders.items():
                        rate = images_per_s(decode, batch, t, start, amp, device, args.runs)
                        rows.append({"method": name, "start": start, "steps": t, "batch": batch, "precision": precision,
                                     "images_per_s": round(rate, 2)})  # fmt: skip
                        print(f"| {name} | {start} | {t} | {batch} | {precision} | {rate:.2f} |", flush=True)
    speedups = {}
    for start in ("generate", "inpaint"):
        for t in steps:
            for batch in batches:
                cell = [r for r in rows if (r["start"], r["steps"], r["batch"]) == (start, t, batch)]
                ours = max(r["images_per_s"] for r in cell if r["method"] == "maskgit")
                peers = [r["images_per_s"] for r in cell if r["method"] != "maskgit"]
                if peers:
                    speedups[f"{start}-T{t}-B{batch}"] = round(ours / max(peers), 2)
    print()
    for key, value in speedups.items():
        print(f"maskgit (best precision) vs the best peer (best precision), {key}: {value:.2f}x")
    print(json.dumps({"device": str(device), "speedup_vs_best_peer": {str(device): speedups}, "rows": rows,
                      "skipped": skipped}))  # fmt: skip


if __name__ == "__main__":
    main()
