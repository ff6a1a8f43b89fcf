#!/usr/bin/env bash
# Runs experiments/studies/averaging.toml one series at a time into results/averaging-<series>.h5
# (issue 17). Resumable: a series whose file exists is skipped. Prints each series' wall time.
# Usage: scripts/averaging-study.sh [series ...]   (default: every series of the file)
# DEEP=1: the top of the n range again with study.max_steps = 1e6 (n = 1e7, 1e8, 1e9), so the
# anchor batch size n / max_steps stays well below the CBS where the CBS grows slowly; files are
# results/averaging-<series>-deep.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
study=experiments/studies/averaging.toml
mapfile -t all < <(sed -n 's/^\[series\.\([A-Za-z0-9_]*\)\].*/\1/p' "$study")
series=("${@:-${all[@]}}")
mkdir -p results
for s in "${series[@]}"; do
    tag=$s${DEEP:+-deep}
    out=results/averaging-$tag.h5
    if [[ -f $out ]]; then echo "$s: $out exists, skipped"; continue; fi
    config=results/averaging-$tag.toml # the shared part of the study and this series only
    awk -v want="[series.$s]" '
        /^\[series\./ { keep = index($0, want) == 1 }
        !/^\[series\./ && !started { print; next }
        { started = 1 } keep { print }' "$study" > "$config"
    if [[ -n ${DEEP:-} ]]; then
        sed -i -e 's/^max_steps = .*/max_steps = 1000000/' \
            -e 's/^data.samples = .*/data.samples = [10000000, 100000000, 1000000000]/' "$config"
    fi
    start=$(date +%s)
    "${CBS:-build/cbs}" run "$config" --out "$out" > "results/averaging-$tag.txt"
    echo "$tag: $(( $(date +%s) - start )) s wall -> $out"
done
