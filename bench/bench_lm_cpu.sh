#!/usr/bin/env bash
# The fast CPU backend against PyTorch on this CPU, side by side in one run: for each shape,
# bench_lm --backend cpu (and the reference, and fp32 operands) and scripts/torch_bench.py on the
# CPU (Debian's python3-torch, bf16 autocast, eager, the same thread count), then the ratio of
# tokens/s. Shapes: the issue's two (C, L, H, T, V, batch) = (128, 5, 4, 128, 256, 16) and
# (256, 4, 4, 128, 8192, 32); `--85m` adds the study's 85M model (bench_lm only: minutes a step).
# Usage: bench/bench_lm_cpu.sh [--threads N] [--steps S] [--85m]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 steps=10 big=0
while [ $# -gt 0 ]; do
    case $1 in
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --85m) big=1; shift ;;
    -h | --help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "bench_lm_cpu: unknown option $1" >&2; exit 2 ;;
    esac
done
bench=build/bench/bench_lm
[ -x $bench ] || { echo "bench_lm_cpu: $bench missing: run scripts/build.sh first" >&2; exit 2; }
export OMP_NUM_THREADS=$threads
echo "# $(date -u +%F' '%H:%M) UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(nproc) cores, $threads threads, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
uptime
run_shape() { # C L H T V B
    local args=(--shape 1m --d-model "$1" --layers "$2" --heads "$3" --context "$4" --vocab "$5"
                --batch "$6" --steps "$steps" --warmup 3)
    local ours torch
    ours=$($bench --backend cpu "${args[@]}" | tail -1)
    echo "$ours"
    $bench --backend cpu-fp32 "${args[@]}" | tail -1
    if [ "$1" -le 128 ]; then $bench --backend reference "${args[@]}" --steps 3 --warmup 1 | tail -1; fi
    torch=$(/usr/bin/python3 scripts/torch_bench.py --device cpu --threads "$threads" "${args[@]}" |
        tail -1) || { echo "torch_bench failed or PyTorch missing (apt-get install python3-torch)"; return; }
    echo "$torch"
    awk -v a="$(echo "$ours" | awk '{print $6}')" -v b="$(echo "$torch" | awk '{print $6}')" \
        'BEGIN { printf "ratio cpu / torch: %.2fx tokens/s\n\n", a / b }'
}
printf '%-14s %-10s %6s %6s %10s %12s %9s %9s %8s\n' shape backend batch ctx ms/step tokens/s \
    flop/tok GFLOP/s "of peak"
run_shape 128 5 4 128 256 16
run_shape 256 4 4 128 8192 32
if [ $big = 1 ]; then
    $bench --backend cpu --shape 85m --steps 3 --warmup 1 | tail -1
fi
