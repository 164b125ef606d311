#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test. Non-zero on any failure.
# Usage: ./scripts/test.sh [ctest args...]   (env: BUILD_DIR, default build; JOBS, default nproc;
# FUZZ_SECONDS per fuzz target, default 10, 0 skips the fuzz build and runs). Compiles through
# ccache (setup.sh installs it): a clone at another path reuses what an earlier build compiled.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  # Paths relative to the clone, and no working directory in the hash (-g records it): builds
  # of the same sources in different directories share the cache.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
fi
# -g1 (line tables: backtraces keep file and line) instead of -g: full debug info for
# Boost.Asio/Beast and libtorch templates was a third of a cold build's 19 minutes on 2 cores.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
    "${launcher[@]}" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
# The libFuzzer targets (docs/fuzzing.md): their own clang build, a short run of each. Before
# ctest, so that ctest's summary stays the last word; a fuzz failure still fails the run.
fuzz_status=0
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != 0 ]; then
  JOBS="$JOBS" ./scripts/fuzz.sh "$FUZZ_SECONDS" || fuzz_status=$?
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "$@"
if [ "$fuzz_status" != 0 ]; then
  echo "test: a fuzz target failed (see the fuzz: lines above)" >&2
  exit "$fuzz_status"
fi
