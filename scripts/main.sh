#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the main job.
# Today the main job is one exact-recursion simulation of the embedded default configuration,
# written to results/default.h5 (the CBS study replaces it once `cbs run` exists).
# Extra arguments are passed to `cbs simulate` (e.g. --set batch=64).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh
mkdir -p results
./build/cbs simulate --out results/default.h5 "$@"
