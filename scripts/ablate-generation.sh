#!/usr/bin/env bash
# The generation ablation of MODEL_CARD.md: 300 samples per setting, FID against the 747 emoji test images
# and the share of samples that nearly duplicate a training image. About 10 minutes on 2 CPU cores.
#   usage: scripts/ablate-generation.sh [MODEL] [OUT]
set -euo pipefail
MODEL=${1:-maskgit/weights/emoji.safetensors}
OUT=${2:-runs/ablate-generation}
mkdir -p "$OUT"
for setting in "sampled 1.0 12 cosine" "sampled 2.0 12 cosine" "sampled 3.0 12 cosine" "sampled 2.0 24 cosine" \
               "greedy 4.5 12 cosine" "noisy-probs 4.5 12 cosine"; do
  set -- $setting
  name="$1-t$2-T$3-$4"
  maskgit generate --model "$MODEL" --count 300 --confidence "$1" --temperature "$2" --steps "$3" --schedule "$4" \
      --out "$OUT/$name" --score emoji | tail -1 | sed "s/^/$name /" | tee -a "$OUT/scores.txt"
done
