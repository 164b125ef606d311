#!/usr/bin/env bash
# Installs every Debian 12 package edgesplit needs to build, test and run its demo.
# Idempotent: does nothing (and prints nothing) when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  clang-14 libclang-rt-14-dev   # the libFuzzer targets (scripts/fuzz.sh, docs/fuzzing.md)
  libboost1.81-dev
  libprotobuf-dev protobuf-compiler
  libtorch-dev libopenblas0-pthread
  libyaml-cpp-dev
  prometheus-cpp-dev
  catch2
  libsentencepiece-dev sentencepiece python3-sentencepiece   # tokenizers: C++ library, spm_train, the Python binding tests compare with
  python3 python3-torch python3-torchvision python3-numpy python3-yaml
  python3-jinja2   # the exporter reads a checkpoint's Jinja chat template (scripts/es_chat_template.py)
  iproute2 curl procps
  systemd   # systemd-analyze verify for the units (test/systemd)
  libsystemd-dev   # sd_notify: Type=notify readiness, STATUS and the watchdog (common/systemd)
  chromium   # headless browser for the web view test (test/orchestrator/web)
  prometheus   # prometheus and promtool for test/prometheus (the packaged server is stopped below)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts its own Prometheus service on install where systemd runs; the tests start
  # their own server on a free loopback port, so do not leave the packaged one running.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# Debian's libtorch computes with whichever libblas.so.3 is selected. The reference BLAS is
# ~20x slower on transformer blocks than OpenBLAS (pthread flavour), so select OpenBLAS.
arch_dir=/usr/lib/x86_64-linux-gnu
if [ -e "$arch_dir/openblas-pthread/libblas.so.3" ]; then
  current=$(readlink -f "$arch_dir/libblas.so.3" || true)
  if [[ "$current" != *openblas-pthread* ]]; then
    $SUDO update-alternatives --set "libblas.so.3-x86_64-linux-gnu" \
      "$arch_dir/openblas-pthread/libblas.so.3" >/dev/null
  fi
  if [ -e "$arch_dir/openblas-pthread/liblapack.so.3" ]; then
    current=$(readlink -f "$arch_dir/liblapack.so.3" || true)
    if [[ "$current" != *openblas-pthread* ]]; then
      $SUDO update-alternatives --set "liblapack.so.3-x86_64-linux-gnu" \
        "$arch_dir/openblas-pthread/liblapack.so.3" >/dev/null
    fi
  fi
fi
