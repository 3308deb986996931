#!/usr/bin/env bash
# Stage 2 on one GPU in one call (configs/transformer-emoji-gpu.yaml: 6 minutes of training, ~8 in all), then the
# results into $OUT: the run's best model (tokenizer + transformer, fp16) cut into 15 MB parts, since a file coming
# back may hold 16 MiB at most, and the run's metrics.jsonl and config.yaml. Needs gpu/ from scripts/gpu-prepare.sh,
# carried with the repository:
#   run(command="bash scripts/gpu-train.sh", carry=["gpu"], timeout_s=600)
# Back here, join the parts into one model and score it:
#   cat FILES_AT/emoji.safetensors.part* > emoji-gpu.safetensors && maskgit demo --model emoji-gpu.safetensors
# Extra arguments go to `maskgit train` (a CPU smoke test: bash scripts/gpu-train.sh --set minutes=0 --set max_steps=8).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
RUN=runs/transformer-emoji-gpu
mkdir -p "$OUT"
python -c "import tensorboardX" 2>/dev/null || pip install -q --no-deps gpu/wheels/*.whl
export MASKGIT_HOME=$PWD/gpu/home PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
start=$(date +%s)
# the device call ends at 600 s: stop training by 540 and keep the best model so far (written after each epoch)
timeout 540 python -m maskgit.cli train --config configs/transformer-emoji-gpu.yaml --no-progress "$@" || echo "stopped at 540 s"
echo "stage 2: $(( $(date +%s) - start )) s"
split -b 15m -d "$RUN/best.safetensors" "$OUT/emoji.safetensors.part"
cp "$RUN/metrics.jsonl" "$RUN/config.yaml" "$OUT/"
ls -la "$OUT"
