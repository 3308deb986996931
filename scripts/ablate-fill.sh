#!/usr/bin/env bash
# The fill ablation of MODEL_CARD.md: what the tokenizer sees in the holes (grey, the seeds' choice, or an
# OpenCV fill from the known pixels), with the default decoding (greedy, square, T = 4) on all 747 emoji
# test images of each benchmark. About 15 minutes on 2 CPU cores.   usage: scripts/ablate-fill.sh [MODEL] [OUT]
set -euo pipefail
MODEL=${1:-maskgit/weights/emoji.safetensors}
OUT=${2:-runs/ablate-fill}
for masks in strokes large; do
  for fill in grey telea navier-stokes; do
    maskgit sweep --model "$MODEL" --masks "$masks" --fill "$fill" --schedules square --steps 4 \
        --baselines none --out "$OUT/$masks-$fill"
  done
done
python scripts/print-sweeps.py "$OUT"
