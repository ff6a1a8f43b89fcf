#!/usr/bin/env bash
# The empirical LM CBS study (experiments/studies/lm_gpu.toml) ON THE GPU MACHINE, resumable
# across device calls, each of which may run at most 10 minutes. Beforehand, here:
#   scripts/device-deps.sh                       (packages for the build, into .devdeps/)
#   scripts/build-corpus.sh --cbs build/cbs      (corpus/en-v1/*.jsonl.gz, 31 MB, and its
#                                                 SentencePiece model; data/README.md)
# Each device call carries .devdeps/debs, corpus/en-v1, corpus/en-v1-spm8192/tokenizer.model
# (58 MB with the tree, under the 64 MiB a call takes) and, after the first call,
# results/lm_gpu.h5 (copy it back from the call's files), and runs
#   scripts/device-study.sh [SECONDS]            (default 480: training stops after that)
# It builds cbs if needed, re-tokenizes the corpus with the carried model (the same model gives
# byte-identical shards: data/README.md), and runs `cbs run` under `timeout`: SIGTERM ends the
# sweep after the trainings in flight, with every finished run in results/lm_gpu.h5, so the next
# call resumes; the call that finishes the study prints the CBS table and fits. The study file
# goes to $OUT/lm_gpu.h5 (small: curves only) and the log to $OUT/device-study.log. No report
# there (its python may lack matplotlib): `build/cbs report results/lm_gpu.h5 --out ...` here.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-480}
out=${OUT:-results/device}
mkdir -p "$out" results
exec > >(tee "$out/device-study.log") 2>&1
echo "device-study: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)," \
    "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
# shellcheck source=scripts/device-env.sh
source scripts/device-env.sh
if [ ! -x build-device/cbs ]; then
    device_unpack && device_build cbs || exit 1
fi
spm=corpus/en-v1-spm8192
if [ ! -f "$spm/train_000000.bin" ]; then
    if [ ! -f "$spm/tokenizer.model" ] || ! ls corpus/en-v1/*.jsonl.gz >/dev/null 2>&1; then
        echo "device-study: carry corpus/en-v1 and $spm/tokenizer.model (scripts/build-corpus.sh" \
            "--cbs build/cbs makes them)" >&2
        exit 2
    fi
    rm -rf corpus/prepared
    build-device/cbs prepare-data corpus/en-v1/*.jsonl.gz --model "$spm/tokenizer.model" \
        --out-dir corpus/prepared || exit 1
    mv corpus/prepared/*.bin corpus/prepared/manifest.json "$spm"/
fi
# SIGTERM at the limit: the sweep stops after the trainings in flight and checkpoints (exit 2 and
# "rerun the same command to resume"); SIGKILL 90 s later only if that hangs.
timeout -s TERM -k 90 "$seconds" build-device/cbs run experiments/studies/lm_gpu.toml \
    --out results/lm_gpu.h5 --no-report
rc=$?
cp results/lm_gpu.h5 "$out/lm_gpu.h5" 2>/dev/null || true
case $rc in
0) echo "device-study: study complete: $out/lm_gpu.h5" ;;
124 | 2) echo "device-study: stopped at the time limit; carry results/lm_gpu.h5 and call again" ;;
*) echo "device-study: cbs run failed (exit $rc)" ;;
esac
exit "$rc"
