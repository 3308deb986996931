#!/usr/bin/env bash
# The decoding ablation of MODEL_CARD.md: the first 300 emoji test images of each benchmark, one sweep folder
# per setting; the greedy 4.5 square sweep also scores T = 1 (one-step), Telea and the oracle.
# About 15 minutes on 2 CPU cores.   usage: [FILL=grey] scripts/ablate-decoding.sh [MODEL] [OUT]
# MODEL_CARD.md's table was measured with FILL=grey (the fill in the holes before telea became the default).
set -euo pipefail
MODEL=${1:-maskgit/weights/emoji.safetensors}
OUT=${2:-runs/ablate-decoding}
FILL=${FILL:-telea}
N=300
for masks in strokes large; do
  maskgit sweep --model "$MODEL" --masks "$masks" --fill "$FILL" --limit $N --confidence greedy --temperature 4.5 \
      --schedules square --steps 1,4,8,16 --baselines telea,oracle --out "$OUT/$masks-greedy-4.5"
  maskgit sweep --model "$MODEL" --masks "$masks" --fill "$FILL" --limit $N --confidence greedy --temperature 4.5 \
      --schedules cosine --steps 8 --baselines none --out "$OUT/$masks-greedy-4.5-cosine"
  for setting in "greedy 1.0" "sampled 4.5" "noisy-probs 4.5"; do
    set -- $setting
    maskgit sweep --model "$MODEL" --masks "$masks" --fill "$FILL" --limit $N --confidence "$1" --temperature "$2" \
        --schedules square --steps 8 --baselines none --out "$OUT/$masks-$1-$2"
  done
done
python scripts/print-sweeps.py "$OUT"
