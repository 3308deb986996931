#!/usr/bin/env bash
# Run here (CPU machine) before scripts/gpu-train.sh on a lent GPU machine: puts what that machine lacks into
# gpu/ (ignored by git through .git/info/exclude; ~27 MB), to be carried with the repository:
#   gpu/wheels   tensorboardX and protobuf for Python 3.12 (the training log; torch, numpy, OpenCV are there)
#   gpu/home     $MASKGIT_HOME with the four emoji styles' caches (the GPU machine has no npm and no network)
# A lent machine takes a working tree of 64 MiB in all: the tracked files (tests/test_repository.py keeps them under
# 37 MiB) and gpu/. The FID weights (87 MB) do not fit: score the trained model here.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/gpu/" .git/info/exclude 2>/dev/null || echo "/gpu/" >> .git/info/exclude
rm -rf gpu && mkdir -p gpu/wheels gpu/home/emoji
pip download -q --no-deps -d gpu/wheels tensorboardX
pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d gpu/wheels protobuf
maskgit data fetch emoji:google,twitter,google3,fluent
for style in google twitter google3 fluent; do
  cp "${MASKGIT_HOME:-$HOME/.cache/maskgit}"/emoji/emoji-"$style"-*-64px.npz gpu/home/emoji/
done
tracked=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
carried=$(du -sb gpu | cut -f1)
total=$(( (tracked + carried) / 1048576 ))
echo "travels: $(( tracked / 1048576 )) MiB tracked + $(( carried / 1048576 )) MiB gpu/ = $total MiB (limit 64)"
if [ "$total" -ge 64 ]; then
  echo "gpu-prepare: over the 64 MiB a lent GPU machine accepts: keep superseded weights in git history (legs/README.md)" >&2
  exit 1
fi
