#!/usr/bin/env bash
# The GPU checks of the CUDA LM backend in one run ON THE GPU MACHINE (issue 6). Beforehand, here:
# scripts/device-deps.sh (the Debian packages the build needs, into .devdeps/). Then one device
# call, carrying .devdeps/debs (not .devdeps/root, the unpacked prefix):
#     scripts/device-check.sh            (about 5 minutes on an H100/H200; writes under $OUT)
# Steps, each logged to $OUT/device-check.log (or results/device/ without $OUT):
#  1. unpack .devdeps and build cbs, test_gpu and bench_lm in build-device (scripts/device-env.sh)
#  2. ctest -L gpu: every kernel and the backend against the CPU reference, determinism
#  3. the PyTorch oracle (scripts/torch_oracle.py, the machine's own python3 with torch) on the
#     cuda-fp32 and cuda (bf16) backends: loss, every gradient, 10 AdamW steps ($OUT/oracle-*.json)
#  4. throughput: bench_lm (ours) and scripts/torch_bench.py (torch.compile) on the study's 85M
#     shape (context 512) and GPT-2 124M (context 1024), same device, same run ($OUT/bench.txt)
# Exit code: the number of failed steps (0 = all passed); every step runs even if one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-results/device}
mkdir -p "$out"
log=$out/device-check.log
exec > >(tee "$log") 2>&1
failed=0
step() {
    local name=$1
    shift
    local start=$SECONDS
    echo "==== device-check: $name"
    if "$@"; then
        echo "==== device-check: $name passed ($((SECONDS - start)) s)"
    else
        echo "==== device-check: $name FAILED (exit $?, $((SECONDS - start)) s)"
        failed=$((failed + 1))
    fi
}

echo "device-check: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# shellcheck source=scripts/device-env.sh
source scripts/device-env.sh
step "unpack packages" device_unpack
[ "$failed" = 0 ] && step "build" device_build cbs test_gpu bench_lm
[ "$failed" = 0 ] || exit "$failed"
step "gpu tests" ctest --test-dir build-device -L gpu --output-on-failure
oracle() {
    local backend=$1
    build-device/bench/bench_lm --dump-oracle "build-device/oracle-$backend" --backend "$backend" &&
        python3 scripts/torch_oracle.py "build-device/oracle-$backend" &&
        python3 scripts/torch_oracle.py "build-device/oracle-$backend" --json >"$out/oracle-$backend.json"
}
step "oracle cuda-fp32" oracle cuda-fp32
step "oracle cuda (bf16)" oracle cuda
bench() {
    {
        echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
        build-device/bench/bench_lm --backend cuda --shape all --steps 20 --warmup 5
        PYTHONUNBUFFERED=1 python3 scripts/torch_bench.py --shape all --steps 20 --warmup 5
    } | tee "$out/bench.txt"
}
step "benchmark (ours vs torch.compile)" bench
echo "device-check: $failed step(s) failed"
exit "$failed"
