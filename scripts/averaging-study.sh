#!/usr/bin/env bash
# Runs experiments/studies/averaging.toml one series at a time into results/averaging-<series>.h5
# (issue 17). Resumable: a series whose file exists is skipped. Prints each series' wall time.
# Usage: scripts/averaging-study.sh [series ...]   (default: every series of the file)
set -euo pipefail
cd "$(dirname "$0")/.."
study=experiments/studies/averaging.toml
mapfile -t all < <(sed -n 's/^\[series\.\([A-Za-z0-9_]*\)\].*/\1/p' "$study")
series=("${@:-${all[@]}}")
mkdir -p results
for s in "${series[@]}"; do
    out=results/averaging-$s.h5
    if [[ -f $out ]]; then echo "$s: $out exists, skipped"; continue; fi
    config=results/averaging-$s.toml # the shared part of the study and this series only
    awk -v want="[series.$s]" '
        /^\[series\./ { keep = index($0, want) == 1 }
        !/^\[series\./ && !started { print; next }
        { started = 1 } keep { print }' "$study" > "$config"
    start=$(date +%s)
    "${CBS:-build/cbs}" run "$config" --out "$out" > "results/averaging-$s.txt"
    echo "$s: $(( $(date +%s) - start )) s wall -> $out"
done
