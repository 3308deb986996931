"""Training throughput of both stages, the real loops, against the code as it was and the CPU's matmul rate.

    python benchmarks/train.py                 # both stages, fp32 and bf16, this code and the baseline commit
    python benchmarks/train.py --quick         # fewer timed steps
    python benchmarks/train.py --baseline REF  # another commit to compare with (default: BASELINE below)

Each cell is one fresh process that builds the real trainer (`TransformerTrainer` / `TokenizerTrainer`) on the
emoji data with the shipped presets and times whole training steps, as `maskgit train` runs them: data, masks,
forward, losses, backward, gradient clipping, AdamW, EMA, codebook upkeep. Stage 2 is
`configs/transformer-emoji-continue.yaml` (the shipped transformer's last leg: batch 32, loss on masked tokens,
EMA); stage 1 is `configs/tokenizer-emoji.yaml` (batch 16) with every loss on from the first step (L1,
perceptual, VQ, PatchGAN and its adaptive weight, the discriminator's own step). The baseline cells run the same
script against `git archive REF` of the package, so "today's step" is measured in the same run, on the same
machine, interleaved with the new one (two rounds in opposite orders). A cell's time is its best step after two
warm-up steps (the machines are shared VMs: a neighbour only ever slows a step).

Stage 2 FLOPs are the transformer's matmuls (3x the forward: 6 x parameters x tokens plus attention, the output
head counted where the loss needs it); stage 1 FLOPs are counted by torch.utils.flop_counter (stage1_flops). Both
are set against the fp32 and bf16 matmul rates measured in the same run (1024^3 and 2048^3 matmuls, the best of
5 each, measured before the cells, between them and after: on a shared VM the bf16 rate moved 3x within a minute).
Needs the emoji data (`maskgit data fetch emoji`). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "9a6a8b8"  # main before issue 20 (the step the issue measured)
STAGE2_CONFIG = "configs/transformer-emoji-continue.yaml"
STAGE1_CONFIG = "configs/tokenizer-emoji.yaml"
BATCH = {"stage2": 32, "stage1": 16}


def matmul_rate(dtype: torch.dtype, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 5) -> float:
    """FLOP/s of n^3 matmuls, the best over sizes and `repeats`."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def stage2_flops(batch: int, head_share: float) -> float:
    """Forward + backward FLOPs of one step of the emoji transformer (3x the forward's matmuls)."""
    from maskgit import TransformerConfig

    c = TransformerConfig.preset("emoji")
    d, length = c.dim, c.num_tokens
    per_token = c.depth * (2 * 4 * d * d + 2 * 2 * d * c.mlp_hidden + 2 * 2 * length * d)
    per_token += head_share * (2 * d * d + 2 * d * c.output_classes)
    return 3 * per_token * length * batch


def stage1_flops(batch: int) -> float:
    """FLOPs of one stage-1 step with every loss on, counted by torch.utils.flop_counter: the VQGAN forward and
    backward, the perceptual network on both image sets and backward, the discriminator on the reconstruction and
    backward, then the discriminator's own step on real and fake."""
    from torch.utils.flop_counter import FlopCounterMode

    from maskgit import VQGAN, TokenizerConfig
    from maskgit.training.losses import PatchDiscriminator, PerceptualLoss

    vqgan, perceptual = VQGAN(TokenizerConfig.preset("emoji")), PerceptualLoss()
    discriminator = PatchDiscriminator(3, 32)
    images = torch.rand(batch, 3, 64, 64) * 2 - 1
    with FlopCounterMode(display=False) as counter:
        out = vqgan(images)
        loss = perceptual(images, out.reconstruction) - discriminator(out.reconstruction).mean()
        (loss + out.quantizer_loss).backward()
        discriminator(torch.cat([images, out.reconstruction.detach()])).mean().backward()
    return counter.get_total_flops()


# -- one cell, in its own process ------------------------------------------------------------------------------


def build_trainer(stage: str, precision: str, out_dir: str):
    overrides = [f"out_dir={out_dir}", f"precision={precision}", "sample_images=0", "device=cpu"]
    if stage == "stage2":
        from maskgit.training.config import TransformerTrainConfig, load_train_config
        from maskgit.training.transformer_trainer import TransformerTrainer

        config = load_train_config(TransformerTrainConfig, ROOT / STAGE2_CONFIG, overrides)
        return TransformerTrainer(config, progress=False)
    from maskgit.training.config import TokenizerTrainConfig, load_train_config
    from maskgit.training.tokenizer_trainer import TokenizerTrainer

    config = load_train_config(TokenizerTrainConfig, ROOT / STAGE1_CONFIG, [*overrides, "gan_start_step=0"])
    return TokenizerTrainer(config, progress=False)


def run_cell(stage: str, precision: str, warmup: int, steps: int) -> dict:
    import maskgit

    with tempfile.TemporaryDirectory() as out_dir:
        trainer = build_trainer(stage, precision, out_dir)
        order = trainer.epoch_order(0)

        def step() -> None:
            trainer.seed_dropout()
            trainer.train_step(order)
            trainer.step += 1
            trainer.position += 1

        start = time.perf_counter()
        for _ in range(warmup):
            step()
        warmup_s = time.perf_counter() - start
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        amp = getattr(trainer, "amp", None)
    return {
        "package": str(Path(maskgit.__file__).parent),
        "seconds_per_step": min(times),  # the best step: a neighbour on the machine only ever slows a step
        "warmup_s": warmup_s,
        "dtype": "bf16" if amp == torch.bfloat16 else "fp32",
        "train_images": trainer.num_examples,
    }


# -- the run ---------------------------------------------------------------------------------------------------


def baseline_tree(ref: str, into: Path) -> Path:
    """The package as it was at `ref` (git archive), to import instead of this checkout's."""
    archive = into / "baseline.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "maskgit"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def cell(stage: str, precision: str, package_root: Path | None, warmup: int, steps: int) -> dict:
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = f"{package_root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    args = [sys.executable, __file__, "--cell", stage, precision, str(warmup), str(steps)]
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{stage} {precision} ({package_root or 'this checkout'}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer timed steps")
    parser.add_argument("--baseline", default=BASELINE, help=f"commit to compare with (default {BASELINE})")
    parser.add_argument(
        "--stages", default="stage2,stage1", help="comma-separated stages to time (default stage2,stage1)"
    )
    parser.add_argument("--cell", nargs=4, metavar=("STAGE", "PRECISION", "WARMUP", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        stage, precision, warmup, steps = args.cell
        print(json.dumps(run_cell(stage, precision, int(warmup), int(steps))))
        return

    from maskgit.precision import autocast_dtype, cpu_has_fast_bf16

    timed = 3 if args.quick else 6
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not stages or set(stages) - set(BATCH):
        parser.error(f"--stages: choose from {', '.join(BATCH)}")
    rates = {"fp32": [matmul_rate(torch.float32)], "bf16": [matmul_rate(torch.bfloat16)]}
    results: dict[tuple[str, str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old_root = baseline_tree(args.baseline, Path(tmp))
        codes = [("baseline", old_root), ("now", None)]
        for round_ in range(1 if args.quick else 2):
            for stage in stages:
                for precision in ("bf16", "fp32"):
                    steps = timed if precision == "bf16" else max(2, timed // 2)
                    for code, root in codes if round_ % 2 == 0 else codes[::-1]:  # interleaved: drift hits both
                        measured = cell(stage, precision, root, 2, steps)
                        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                            rates[name].append(matmul_rate(dtype))
                        kept = results.get((stage, precision, code))
                        if kept is None or measured["seconds_per_step"] < kept["seconds_per_step"]:
                            results[(stage, precision, code)] = measured  # the faster round: less neighbour noise
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):  # the rate again, after the cells
        rates[name].append(matmul_rate(dtype))
    rate = {name: max(values) for name, values in rates.items()}
    auto = "bf16" if autocast_dtype("auto", torch.device("cpu")) == torch.bfloat16 else "fp32"

    train_images = results[(stages[0], "bf16", "now")]["train_images"]
    flops = {}
    if "stage2" in stages:
        flops["stage2"] = stage2_flops(BATCH["stage2"], head_share=2 / math.pi)  # masked share, cosine schedule
    if "stage1" in stages:
        flops["stage1"] = stage1_flops(BATCH["stage1"])
    print(
        f"train benchmark: {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_has_fast_bf16()} "
        f"(precision auto trains in {auto})"
    )
    print(
        f"matmul rate (1024^3 and 2048^3, best of {len(rates['bf16'])} samples over the run): "
        f"fp32 {rate['fp32'] / 1e9:.0f} GFLOP/s, bf16 {rate['bf16'] / 1e9:.0f} GFLOP/s"
    )
    print(
        f"baseline {args.baseline}; "
        + "; ".join(f"{k}: {v / 1e9:.0f} GFLOP per step of {BATCH[k]}" for k, v in flops.items())
        + f" (stage 1: all losses); an epoch is {train_images} images\n"
    )
    print(
        f"{'stage':<8} {'precision':<9} {'code':<9} {'images/s':>9} {'GFLOP/s':>8} {'of matmul':>9} "
        f"{'speedup':>8} {'epoch min':>9} {'warm-up s':>9}"
    )
    figures: dict = {
        "benchmark": "train",
        "baseline": args.baseline,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "auto_precision": auto,
        "matmul_rate_gflops": {k: round(v / 1e9, 1) for k, v in rate.items()},
    }
    for (stage, precision, code), r in results.items():
        seconds = r["seconds_per_step"]
        ips = BATCH[stage] / seconds
        achieved = flops[stage] / seconds
        speedup = results[(stage, precision, "baseline")]["seconds_per_step"] / seconds if code == "now" else None
        epoch_min = train_images / ips / 60
        share = achieved / rate[precision]
        print(
            f"{stage:<8} {precision:<9} {code:<9} {ips:>9.1f} {achieved / 1e9:>8.0f} {share:>9.0%} "
            f"{(f'{speedup:.2f}x' if speedup else ''):>8} {epoch_min:>9.1f} {r['warmup_s']:>9.1f}"
        )
        figures[f"{stage}_{precision}_{code}"] = {
            "images_per_s": round(ips, 2),
            "share_of_matmul_rate": round(achieved / rate[precision], 3),
            "epoch_minutes": round(epoch_min, 2),
            **({"speedup": round(speedup, 2)} if speedup else {}),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
