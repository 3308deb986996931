#!/usr/bin/env bash
# Issue 21's recipe ablation at an equal CPU budget: four transformers trained from scratch on the leg-3
# tokenizer (configs/transformer-emoji-4styles.yaml), the same minutes each, nothing else running:
#   uniform   MaskGIT's uniform masks only (today's recipe)
#   mix       + hole-shaped masks (mask_mix), each hole row filled and tokenized as inpainting sees it
#   hint      + the fill hint (model.fill_hint: the filled image's token and its depth in the hole)
#   codebook  + targets that know the codebook (codebook_smoothing 0.1, embedding_from_codebook)
# Each arm trains for MINUTES (default 20) of this machine's time (`minutes`: the steps that fit, sized from the
# speed of its first steps, so an arm whose steps cost more runs fewer); every arm is resumable (rerun the
# script). Then each model is scored on the first 300 test images of both benchmarks with 3 decoding seeds
# (the default rule), and the table printed (mean and spread over seeds).
#   usage: [MINUTES=20] scripts/ablate-recipe.sh [OUT]
set -euo pipefail
OUT=${1:-runs/ablate-recipe}
MIX="mask_mix={uniform: 0.4, strokes: 0.2, large: 0.2, boxes: 0.1, outpaint: 0.1}"
declare -A SETS=(
  [uniform]=""
  [mix]="--set \"$MIX\""
  [hint]="--set \"$MIX\" --set model.fill_hint=true"
  [codebook]="--set \"$MIX\" --set model.fill_hint=true --set codebook_smoothing=0.1 --set embedding_from_codebook=true"
)
MINUTES=${MINUTES:-20}
for arm in uniform mix hint codebook; do
  run="$OUT/$arm"
  resume=""
  [ -d "$run/checkpoints" ] && resume="--resume"
  [ -f "$run/model.safetensors" ] && continue
  eval maskgit train --config configs/transformer-emoji-4styles.yaml --set out_dir="$run" \
      --set minutes="$MINUTES" "${SETS[$arm]}" $resume
done
for arm in uniform mix hint codebook; do
  for masks in strokes large; do
    for seed in 0 100000 200000; do
      baselines=none
      [ "$arm" = uniform ] && [ "$seed" = 0 ] && baselines=telea,oracle
      maskgit sweep --model "$OUT/$arm/best.safetensors" --masks "$masks" --limit 300 --schedules square \
          --steps 4 --seed "$seed" --baselines "$baselines" --out "$OUT/sweeps/$masks-$arm-seed$seed"
    done
  done
done
python scripts/print-sweeps.py "$OUT/sweeps" --spread
