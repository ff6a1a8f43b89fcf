#!/usr/bin/env bash
# Benchmark (not a test): wall time of the default study (`cbs run`), of the μP width study
# (experiments/studies/width.toml; goal: under 10 minutes on 2 cores) and the sweep runner's rate.
# Usage: bench/bench_study.sh [build-dir]   (default: build)
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
start=$(date +%s.%N)
"$build/cbs" run --quiet --no-report --out "$tmp/study.h5" > "$tmp/summary.txt"
end=$(date +%s.%N)
echo "default study (cbs run): $(echo "$end - $start" | bc) s, $(grep -o '[0-9]* simulations' "$tmp/summary.txt")"
start=$(date +%s.%N)
"$build/cbs" run --quiet --no-report "$(dirname "$0")/../experiments/studies/width.toml" \
    --out "$tmp/width.h5" > "$tmp/width.txt"
end=$(date +%s.%N)
echo "width study (cbs run width.toml): $(echo "$end - $start" | bc) s, $(grep -o '[0-9]* simulations' "$tmp/width.txt")"
# Sweep runner: 2 data sizes x 11 batch sizes x 6 learning rates = 132 recursion runs.
"$build/cbs" sweep --set 'batch=[1,2,4,8,16,32,64,128,256,512,1024]' \
    --set 'lr=[0.03,0.06,0.12,0.25,0.5,1.0]' --set ewa.decay=0.999 \
    --set 'data.samples=[10000,100000]' --set data.horizon=4 --set record=400 \
    --set quadrature.tol=1e-4 --out "$tmp/sweep.h5" 2>/dev/null | grep "runs/s"
