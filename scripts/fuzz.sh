#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz (clang-14, ASan + UBSan, in their own build dir) and
# runs each: first every input of test/fuzz/regressions/<target>/ once, then fuzzing for N
# seconds from test/fuzz/corpus/<target>/. Non-zero on any crash, sanitizer report, leak or
# timeout; the crashing input is in $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/. See docs/fuzzing.md.
# Usage: ./scripts/fuzz.sh [SECONDS] [TARGET...]   (SECONDS per target, default 20; default: all)
#        ./scripts/fuzz.sh --seeds                 rewrites the generated seeds of test/fuzz/corpus
# Env: FUZZ_BUILD_DIR (default build-fuzz), JOBS (build, default nproc), FUZZ_PARALLEL (targets
# fuzzed at once, default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
PARALLEL=${FUZZ_PARALLEL:-$(nproc)}
TARGETS_ALL=(fuzz_frame fuzz_control fuzz_json fuzz_rest fuzz_npy fuzz_manifest fuzz_instance)

seeds=false
if [ "${1:-}" = "--seeds" ]; then seeds=true; shift; fi
SECS=${1:-20}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${TARGETS_ALL[@]}")

if [ ! -f "$BUILD/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DEDGESPLIT_FUZZ=ON -DCMAKE_BUILD_TYPE=Fuzz \
    "${launcher[@]}" >/dev/null
fi
if $seeds; then
  cmake --build "$BUILD" --target fuzz_make_seeds -j "$JOBS"
  "$BUILD/fuzz/fuzz_make_seeds" test/fuzz/corpus
  echo "fuzz: seeds written to test/fuzz/corpus (hand-written seeds there are kept)"
  exit 0
fi
cmake --build "$BUILD" --target fuzz_targets -j "$JOBS"

# Runs one target; prints one summary line. Leaves its log in $BUILD/fuzz-logs/<target>.log.
run_one() {
  local t=$1 bin="$BUILD/fuzz/$1" log="$BUILD/fuzz-logs/$1.log" art="$BUILD/fuzz-artifacts/$1"
  local work="$BUILD/fuzz-corpus/$1" reg="test/fuzz/regressions/$1" seeds="test/fuzz/corpus/$1"
  mkdir -p "$work" "$art"
  : >"$log"
  local inputs=()
  for f in "$reg"/*; do if [ -f "$f" ]; then inputs+=("$f"); fi; done
  if [ ${#inputs[@]} -gt 0 ]; then
    if ! "$bin" -timeout=10 "${inputs[@]}" >>"$log" 2>&1; then
      echo "fuzz: $t FAILED on a regression input (log: $log)"
      return 1
    fi
  fi
  # The work corpus (first dir) keeps what earlier runs learned; seeds and regressions are read only.
  if ! "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$art/" "$work" "$seeds" "$reg" >>"$log" 2>&1; then
    echo "fuzz: $t FAILED (log: $log, input: $(ls -t "$art" | head -1 | sed "s|^|$art/|"))"
    grep -a -m 3 -E "^SUMMARY|ERROR: " "$log" | sed 's/^/  /' || true
    return 1
  fi
  local runs cov
  runs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  echo "fuzz: $t ok: ${#inputs[@]} regression inputs, $runs runs in ${SECS}s, coverage $cov"
}

mkdir -p "$BUILD/fuzz-logs"
status=0
pids=()
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$PARALLEL" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
