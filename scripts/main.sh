#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the main job: the embedded
# default CBS study (`cbs run`): CBS vs data size and vs model size for SGD, momentum and EWA on
# power-law least squares, with fits and the theory's predictions side by side.
# Writes results/study.h5 (runs, /cbs and /fits tables), results/study-summary.txt and the report
# results/study-report/report.html (+ report.md with PNG figures; claims table at the top). Committed
# study files in data/results/ (the LM CBS study, docs/results-lm.md) join that report.
# Extra arguments go to `cbs run` (e.g. --set study.lr_refine=3, or a study TOML file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh
mkdir -p results
./build/cbs run --out results/study.h5 "$@" | tee results/study-summary.txt
scripts/main-report.sh ./build/cbs results/study.h5 data/results results/study-report
