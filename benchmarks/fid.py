"""Throughput of FID feature extraction (InceptionV3 pool3 at 299x299), and whether bf16 changes FID.

    python benchmarks/fid.py            # batch 1 and 64, fp32 and bf16; FID pair of 256 images
    python benchmarks/fid.py --quick    # fewer images (smoke test)

The fixed pair of sets: the first N emoji test images against the same images inpainted by OpenCV
Telea on the benchmark masks (a realistic FID of a few tens). If bf16 moves that FID by more than 0.1,
maskgit keeps FID in fp32 (it does: InceptionFeatures runs in fp32 unless asked). Prints a table, then
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from maskgit.data import benchmark_masks, load_images
from maskgit.evaluation import InceptionFeatures, opencv_inpaint, score_features


def images_per_second(extractor: InceptionFeatures, images: np.ndarray) -> float:
    extractor(images[: extractor.batch_size])  # warm-up
    start = time.perf_counter()
    extractor(images)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_timed, n_pair = (8, 16) if args.quick else (64, 256)  # bf16 Inception is very slow on AVX2-only CPUs
    truth = load_images("emoji", "test").images[:n_pair]
    inpainted = opencv_inpaint(truth, benchmark_masks(len(truth), truth.shape[1]), "telea")

    rows, figures = [], {}
    for precision, amp in (("fp32", None), ("bf16", torch.bfloat16)):
        for batch in (1, 64):
            extractor = InceptionFeatures(batch_size=batch, amp_dtype=amp)
            count = min(n_timed, 4) if batch == 1 else n_timed
            rate = images_per_second(extractor, truth[:count])
            rows.append((precision, batch, rate))
            print(f"  {precision} batch {batch}: {rate:.2f} images/s", flush=True)
            figures[f"images_per_s_{precision}_batch{batch}"] = round(rate, 2)
    fids = {}
    for precision, amp in (("fp32", None), ("bf16", torch.bfloat16)):
        extractor = InceptionFeatures(batch_size=32, amp_dtype=amp)
        fids[precision] = score_features(extractor(inpainted), extractor(truth)).fid
    print(f"{'precision':<10} {'batch':>5} {'images/s':>9} {'ms/image':>9}")
    for precision, batch, rate in rows:
        print(f"{precision:<10} {batch:>5} {rate:>9.2f} {1000 / rate:>9.1f}")
    change = abs(fids["bf16"] - fids["fp32"])
    print(
        f"\nFID of {n_pair} emoji test images vs their OpenCV Telea inpainting: fp32 {fids['fp32']:.3f}, "
        f"bf16 {fids['bf16']:.3f} (|change| {change:.3f}: {'over' if change > 0.1 else 'within'} 0.1)"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    figures.update(
        {
            "fid_fp32": round(fids["fp32"], 4),
            "fid_bf16": round(fids["bf16"], 4),
            "bf16_fid_change": round(change, 4),
            "fid_stays_fp32": change > 0.1,
            "pair_images": n_pair,
        }
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
