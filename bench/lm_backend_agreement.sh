#!/usr/bin/env bash
# `cbs train-lm` on the real-text corpus with backend = cpu (fast) and backend = reference, the
# same model, data order, initialisation and schedule: prints both validation-loss curves (raw and
# EWA weights) and their relative differences, and the wall time of each. "Agree within bf16
# noise": the final validation losses (raw and EWA) within 1e-2 relative, the bf16 bar of the
# trajectory tests (one 2^-8 rounding per GEMM operand; tests/lm/test_fast_cpu_backend.cpp). The
# largest difference anywhere on the curves is printed too: in the steep early phase, where the
# loss falls by ~1% a step, the two runs can be that far apart without having drifted.
# Usage: bench/lm_backend_agreement.sh [STEPS] [CORPUS_DIR]   (defaults: 300, corpus/en-v1-spm2048;
#        scripts/build-corpus.sh --cbs build/cbs --vocab-size 2048 makes the corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
corpus=${2:-corpus/en-v1-spm2048}
[ -f "$corpus/train_000000.bin" ] || {
    echo "lm_backend_agreement: $corpus/train_000000.bin missing (scripts/build-corpus.sh)" >&2
    exit 2
}
vocab=$(/usr/bin/python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['tokenizer']['vocab_size'])" "$corpus/manifest.json")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for backend in cpu reference; do
    start=$(date +%s.%N)
    build/cbs train-lm --quiet --out "$out/$backend.h5" \
        --set backend="$backend" --set data.train="$corpus/train_000000.bin" \
        --set data.val="$corpus/val_000000.bin" --set model.vocab="$vocab" \
        --set model.d_model=128 --set model.layers=4 --set model.heads=4 --set model.context=128 \
        --set batch=16 --set steps="$steps" --set lr=0.003 --set warmup.fraction=0.05 \
        --set ewa.decays='[0.9, 0.99]' --set eval.every=$((steps / 6)) --set eval.sequences=128 \
        >/dev/null
    echo "$backend: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s wall"
done
/usr/bin/python3 - "$out" <<'PY'
import sys, h5py, numpy as np
def curves(path):
    with h5py.File(path) as f:
        run = f["runs"][list(f["runs"])[0]]
        return run["step"][()], run["risk"][()], run["risk_ewa"][()]
s, rc, ec = curves(f"{sys.argv[1]}/cpu.h5")
s2, rr, er = curves(f"{sys.argv[1]}/reference.h5")
assert (s == s2).all()
print(f"{'step':>6} {'val cpu':>10} {'val ref':>10} {'rel':>9} {'ewa cpu':>10} {'ewa ref':>10} {'rel':>9}")
for i in range(len(s)):
    print(f"{s[i]:>6} {rc[i]:>10.5f} {rr[i]:>10.5f} {abs(rc[i] - rr[i]) / rr[i]:>9.2e} "
          f"{ec[i]:>10.5f} {er[i]:>10.5f} {abs(ec[i] - er[i]) / er[i]:>9.2e}")
worst = max(np.max(np.abs(rc - rr) / rr), np.max(np.abs(ec - er) / er))
final = max(abs(rc[-1] - rr[-1]) / rr[-1], abs(ec[-1] - er[-1]) / er[-1])
print(f"largest relative difference on the curves {worst:.2e}")
print(f"final validation losses: relative difference {final:.2e} (bound 1e-2): "
      f"{'PASS' if final <= 1e-2 else 'FAIL'}")
sys.exit(0 if final <= 1e-2 else 1)
PY
