#!/usr/bin/env bash
# Both training stages on one GPU in one call (~11 minutes on an H100), then the results into $OUT:
#   emoji.safetensors (tokenizer + transformer, fp16), both runs' metrics.jsonl and config.yaml.
# Needs gpu/ from scripts/gpu-prepare.sh, carried with the repository. With the device tool:
#   run(command="bash scripts/gpu-train.sh", carry=["gpu"], timeout_s=600)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
mkdir -p "$OUT"
pip install -q --no-deps gpu/wheels/*.whl
export MASKGIT_HOME=$PWD/gpu/home PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
start=$(date +%s)
python -m maskgit.cli train-tokenizer --config configs/tokenizer-emoji-gpu.yaml 2>&1 | tr '\r' '\n' | grep -v "it/s\]\|step/s\]" || true
echo "tokenizer: $(( $(date +%s) - start )) s"
python -m maskgit.cli train --config configs/transformer-emoji-gpu.yaml 2>&1 | tr '\r' '\n' | grep -v "it/s\]\|step/s\]" || true
echo "both stages: $(( $(date +%s) - start )) s"
cp runs/transformer-emoji-gpu/best.safetensors "$OUT/emoji.safetensors"
for stage in tokenizer transformer; do
  cp "runs/$stage-emoji-gpu/metrics.jsonl" "$OUT/$stage-metrics.jsonl"
  cp "runs/$stage-emoji-gpu/config.yaml" "$OUT/$stage-config.yaml"
done
ls -la "$OUT"
