#!/usr/bin/env bash
# The generation (sampling) ablation of MODEL_CARD.md: COUNT samples per setting and decoding seed (a
# class-conditional model draws each sample's class as often as in training), scored by `maskgit generate
# --score emoji`: FID and KID against the 747 emoji test images, precision and recall, near-duplicates of the
# training images. Then the table (mean and spread over seeds) and the figure of FID against the guidance scale:
# scripts/generation-table.py. 2-4 minutes per setting and seed on 2 CPU cores (guidance doubles the passes).
#   usage: [COUNT=300] [SEEDS="0 100000 200000"] [ONLY="preset cfg3"] [COPIES_OF=DATA] scripts/ablate-generation.sh
#          [MODEL] [OUT]
# (COPIES_OF: the training data near-copies are counted against; default the shipped model's four styles)
# (ONLY: run just these settings by name; the table still reads every finished folder)
set -euo pipefail
MODEL=${1:-maskgit/weights/emoji.safetensors}
OUT=${2:-runs/ablate-generation}
COUNT=${COUNT:-300}
SEEDS=${SEEDS:-0}
ONLY=${ONLY:-}
COPIES_OF=${COPIES_OF:-emoji:google,twitter,google3,fluent}
mkdir -p "$OUT"
# name | flags over the generate preset; every setting but "preset" runs over BASE (the preset of the ablations on
# legs 5-12: t0 = 3, T = 12) and names its guidance scale and sample temperature, so that its row means what it meant
# when measured whatever the preset is now (a flag given twice: the setting's, the later one, wins)
BASE="--temperature 3 --steps 12"
SETTINGS=(
  "preset|"
  "cfg1|--cfg-scale 1 --sample-temperature 1"
  "cfg2|--cfg-scale 2 --sample-temperature 1"
  "cfg3|--cfg-scale 3 --sample-temperature 1"
  "cfg5|--cfg-scale 5 --sample-temperature 1"
  "cfg3-linear|--cfg-scale 3 --sample-temperature 1 --cfg-schedule linear"
  "cfg3-halton|--cfg-scale 3 --sample-temperature 1 --order halton"
  "cfg3-t1|--cfg-scale 3 --sample-temperature 1 --temperature 1"
  "cfg3-greedy|--cfg-scale 3 --sample-temperature 1 --confidence greedy --temperature 4.5"
  "cfg3-T24|--cfg-scale 3 --sample-temperature 1 --steps 24"
  "s0.8|--cfg-scale 1 --sample-temperature 0.8"
  "cfg3-s0.8|--cfg-scale 3 --sample-temperature 0.8"
  "cfg2-s0.8|--cfg-scale 2 --sample-temperature 0.8"
  "cfg5-s0.8|--cfg-scale 5 --sample-temperature 0.8"
  "cfg4-s0.8|--cfg-scale 4 --sample-temperature 0.8"
  "cfg3-s0.6|--cfg-scale 3 --sample-temperature 0.6"
  "cfg3-s0.8-T20|--cfg-scale 3 --sample-temperature 0.8 --steps 20"
  "cfg3-s0.8-T32|--cfg-scale 3 --sample-temperature 0.8 --steps 32"
  "cfg3-s0.8-halton|--cfg-scale 3 --sample-temperature 0.8 --order halton"
  "cfg3-s0.8-halton-T32|--cfg-scale 3 --sample-temperature 0.8 --order halton --steps 32"
  "cfg3-s0.8-refine2|--cfg-scale 3 --sample-temperature 0.8 --refine-steps 2"
  "cfg3-s0.8-T20-t4.5|--cfg-scale 3 --sample-temperature 0.8 --steps 20 --temperature 4.5"
  "cfg3-s0.8-T20-t6|--cfg-scale 3 --sample-temperature 0.8 --steps 20 --temperature 6"
  "cfg3-s0.8-T32-t4.5|--cfg-scale 3 --sample-temperature 0.8 --steps 32 --temperature 4.5"
)
for setting in "${SETTINGS[@]}"; do
  name=${setting%%|*}
  flags=${setting#*|}
  [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]] && continue
  if [ "$name" != preset ]; then flags="$BASE $flags"; fi
  for seed in $SEEDS; do
    folder="$OUT/$name-seed$seed"
    [ -f "$folder/scores.json" ] && continue
    # shellcheck disable=SC2086
    maskgit generate --model "$MODEL" --count "$COUNT" --seed "$seed" $flags --out "$folder" --score emoji --copies-of "$COPIES_OF" \
        | tail -1 > "$OUT/.scores.tmp"
    mv "$OUT/.scores.tmp" "$folder/scores.json"
  done
done
python scripts/generation-table.py "$OUT"
