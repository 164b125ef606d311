#!/usr/bin/env bash
# Interim main job (until the orchestrator lands): synthesise a GPT, show its per-layer profile,
# run it whole and split at several cut sets, and check the outputs are bitwise-equal.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -x "$BUILD_DIR/bin/edgesplitctl" ]; then
  ./scripts/setup.sh
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target edgesplitctl -j "$(nproc)"
fi
CTL="$BUILD_DIR/bin/edgesplitctl"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== synthesise a GPT-style decoder (8 blocks, d_model 256, seq 64)"
"$CTL" model synth --family gpt --layers 8 --d-model 256 --heads 8 --vocab 2000 --seq 64 --seed 7 --out "$WORK/gpt"
"$CTL" model verify "$WORK/gpt"
echo
"$CTL" model inspect "$WORK/gpt"
echo
echo "== per-layer profile on this machine (the planner's input)"
"$CTL" model profile --model "$WORK/gpt" --runs 20
echo
/usr/bin/python3 - "$WORK/in.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(1).integers(0, 2000, size=(1, 64), dtype=np.int64))
PY
echo "== whole model vs chains of segments"
"$CTL" model run --model "$WORK/gpt" --input "$WORK/in.npy" --output "$WORK/whole.npy"
for cuts in 1 5 3,7 1,2,3,4,5,6,7,8,9; do
  "$CTL" model run --model "$WORK/gpt" --input "$WORK/in.npy" --output "$WORK/split.npy" --cuts "$cuts" >/dev/null
  if cmp -s "$WORK/whole.npy" "$WORK/split.npy"; then
    echo "cuts $cuts: bitwise-equal to the whole model"
  else
    echo "cuts $cuts: DIFFERS from the whole model" >&2
    exit 1
  fi
done
