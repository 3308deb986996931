"""Inpainting throughput of maskgit's batched decoding against a port of the seeds' loop.

    python benchmarks/decode.py            # full grid: T in {8, 20} x batch {1, 64} x {fp32, bf16}
    python benchmarks/decode.py --quick    # a smaller, faster grid (smoke test)

Random weights, preset `emoji` (64x64 RGB -> 16x16 tokens, 512 codes): throughput does not depend on
what the weights learned. Each image has a random rectangular hole. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from dataclasses import replace

import torch
from seed_loop import seed_inpaint_one  # benchmarks/ is on sys.path when this file runs as a script

from maskgit import DecodeConfig, MaskGIT
from maskgit.decoding import pixel_mask_to_token_mask


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def make_inputs(n: int, resolution: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, resolution, resolution, generator=g) * 2 - 1
    pixel_mask = torch.zeros(n, resolution, resolution, dtype=torch.bool)
    for i in range(n):
        h, w = torch.randint(resolution // 4, resolution // 2, (2,), generator=g).tolist()
        y, x = (
            torch.randint(0, resolution - h, (1,), generator=g).item(),
            torch.randint(0, resolution - w, (1,), generator=g).item(),
        )
        pixel_mask[i, y : y + h, x : x + w] = True
    return images, pixel_mask


def time_batched(model: MaskGIT, images, pixel_mask, steps: int, batch: int, precision: str, n: int) -> float:
    """Images per second of MaskGIT.inpaint over n images in batches of `batch` (after one warm-up batch)."""
    config = replace(DecodeConfig.preset("seeds"), total_steps=steps)  # the seeds' rule, as seed_loop.py runs it
    model.inpaint(images[:batch], pixel_mask[:batch], config, precision=precision)  # warm-up
    start = time.perf_counter()
    for i in range(0, n, batch):
        model.inpaint(images[i : i + batch], pixel_mask[i : i + batch], config, precision=precision)
    return n / (time.perf_counter() - start)


def time_seed_loop(model: MaskGIT, images, pixel_mask, steps: int, n: int) -> float:
    model.transformer.set_fused_attention(False)
    token_mask = pixel_mask_to_token_mask(pixel_mask, model.tokenizer.config.grid_size)
    seed_inpaint_one(model, images[:1], token_mask[:1], steps, steps)  # warm-up
    start = time.perf_counter()
    for i in range(n):
        seed_inpaint_one(model, images[i : i + 1], token_mask[i : i + 1], steps, steps)
    elapsed = time.perf_counter() - start
    model.transformer.set_fused_attention(True)
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 16 instead of 64, fewer images")
    parser.add_argument("--preset", default="emoji")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = MaskGIT.from_preset(args.preset).eval()
    big = 16 if args.quick else 64
    n_small = 2 if args.quick else 4  # images timed at batch 1 and in the seed loop
    images, pixel_mask = make_inputs(big, model.tokenizer.config.resolution)

    rows = []  # (method, steps, batch, precision, images/s, peak RSS so far)
    for steps in (8, 20):
        ips = time_seed_loop(model, images, pixel_mask, steps, n_small)
        rows.append(("seed loop", steps, 1, "fp32", ips, peak_rss_mb()))
    for batch in (1, big):
        for precision in ("fp32", "bf16"):
            for steps in (8, 20):
                n = n_small if batch == 1 else big
                ips = time_batched(model, images, pixel_mask, steps, batch, precision, n)
                rows.append(("maskgit", steps, batch, precision, ips, peak_rss_mb()))

    print(
        f"decode benchmark: preset {args.preset}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"{'method':<10} {'T':>3} {'batch':>5} {'precision':>9} {'images/s':>9} {'ms/image':>9} {'peak RSS MB':>11}")
    for method, steps, batch, precision, ips, rss in rows:
        print(f"{method:<10} {steps:>3} {batch:>5} {precision:>9} {ips:>9.2f} {1000 / ips:>9.1f} {rss:>11.0f}")

    figures: dict[str, object] = {"benchmark": "decode", "preset": args.preset, "threads": torch.get_num_threads()}
    speedups = {}
    for steps in (8, 20):
        baseline = next(r[4] for r in rows if r[0] == "seed loop" and r[1] == steps)
        best = max((r for r in rows if r[0] == "maskgit" and r[1] == steps), key=lambda r: r[4])
        speedups[steps] = best[4] / baseline
        figures[f"seed_loop_images_per_s_T{steps}"] = round(baseline, 3)
        figures[f"best_images_per_s_T{steps}"] = round(best[4], 3)
        figures[f"best_config_T{steps}"] = f"batch {best[2]} {best[3]}"
        print(f"T={steps}: best is batch {best[2]} {best[3]}, {speedups[steps]:.1f}x the seed loop")
    for method, steps, batch, precision, ips, _ in rows:
        if method == "maskgit":
            figures[f"images_per_s_T{steps}_b{batch}_{precision}"] = round(ips, 3)
    figures["speedup_vs_seed_loop"] = round(min(speedups.values()), 2)
    figures["speedup_vs_seed_loop_by_T"] = {str(k): round(v, 2) for k, v in speedups.items()}
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
