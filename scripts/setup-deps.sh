#!/usr/bin/env bash
# Installs every build and run dependency of cbs from Debian 12's packages.
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
# Usage: scripts/setup-deps.sh [--fuzz]
set -euo pipefail
packages=(
    build-essential cmake ninja-build pkg-config git
    ccache # compiler cache: rebuilds (CI, fresh build directories) reuse unchanged objects
    libeigen3-dev libboost-math-dev libhdf5-dev catch2
    libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev
    libsentencepiece-dev zlib1g-dev # data/: tokenizers, gzip inputs (cbs prepare-data)
    libdnnl-dev # gpu/cpu/: the fast CPU LM backend (oneDNN GEMMs); optional, cbs builds without it
    python3 python3-numpy python3-h5py python3-matplotlib # `cbs report` figures (matplotlib)
    libopenmpi-dev openmpi-bin # optional: `mpirun -np K cbs sweep` (CMake finds MPI if present)
)
# `setup-deps.sh --fuzz` adds what scripts/fuzz.sh needs (CI's fuzz stage): clang with its libFuzzer
# and sanitizer runtimes, LLVM's OpenMP for clang builds, and llvm-symbolizer for readable traces.
if [ "${1:-}" = "--fuzz" ]; then
    packages+=(clang libclang-rt-14-dev libomp-dev llvm)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-deps: all ${#packages[@]} packages present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
