#!/usr/bin/env bash
# The decoding ablation of MODEL_CARD.md: the first 300 emoji test images of each benchmark, one sweep folder
# per setting; the greedy 4.5 square sweep also scores T = 1 (one-step), Telea and the oracle.
# About 15 minutes on 2 CPU cores.   usage: scripts/ablate-decoding.sh [MODEL] [OUT]
set -euo pipefail
MODEL=${1:-maskgit/weights/emoji.safetensors}
OUT=${2:-runs/ablate-decoding}
N=300
for masks in strokes large; do
  maskgit sweep --model "$MODEL" --masks "$masks" --limit $N --confidence greedy --temperature 4.5 \
      --schedules square --steps 1,4,8,16 --baselines telea,oracle --out "$OUT/$masks-greedy-4.5"
  maskgit sweep --model "$MODEL" --masks "$masks" --limit $N --confidence greedy --temperature 4.5 \
      --schedules cosine --steps 8 --baselines none --out "$OUT/$masks-greedy-4.5-cosine"
  for setting in "greedy 1.0" "sampled 4.5" "noisy-probs 4.5"; do
    set -- $setting
    maskgit sweep --model "$MODEL" --masks "$masks" --limit $N --confidence "$1" --temperature "$2" \
        --schedules square --steps 8 --baselines none --out "$OUT/$masks-$1-$2"
  done
done
python - "$OUT" <<'PY'
import json, pathlib, sys
for folder in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    for line in (folder / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        name = r["key"] if r["kind"] == "baseline" else f"{r['schedule']} T={r['steps']}"
        print(f"{folder.name:<32} {name:<14} FID {r['fid']:7.2f}  KID {r['kid']:.4f}  masked PSNR {r['masked_psnr']:5.2f}")
PY
