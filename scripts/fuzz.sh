#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (clang, AddressSanitizer + UBSan) in ./build-fuzz and
# runs each for a fixed time, starting from the committed seeds in tests/fuzz/corpus/<target>/.
# Prints a table (target, executions, crashes) and exits non-zero if any target found a crash;
# the crashing input is kept in build-fuzz/artifacts/<target>/ (reproduce: build-fuzz/fuzz/<target>
# <file>). New interesting inputs collect in build-fuzz/corpus/<target>/, never in the seeds.
# Usage: scripts/fuzz.sh [seconds-per-target (default 60; 0 = build only)] [target ...].
# CBS_JOBS: build jobs (default: all cores). CBS_FUZZ_JOBS: targets fuzzed side by side, one core
# each (default: all cores). CBS_FUZZ_SEED: libFuzzer's -seed (default 0: random).
# Compiles through ccache when it is installed (scripts/ccache.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/ccache.sh
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_toml_config fuzz_set_argument fuzz_token_shard fuzz_study_reader
        fuzz_curve_logs fuzz_tensorboard_reader)
fi
jobs=${CBS_JOBS:-$(nproc)}
# Targets fuzzed side by side (below); checked before anything is built.
parallel=${CBS_FUZZ_JOBS:-$(nproc)}
if ! [[ $parallel =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: CBS_FUZZ_JOBS = '$parallel': must be a whole number >= 1" >&2
    exit 2
fi

generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f build-fuzz/CMakeCache.txt ]; then generator=(-G Ninja); fi
# -O1 as scripts/sanitize.sh (fast to compile, what libFuzzer's documentation uses); NDEBUG as in
# Release. CBS_FUZZ adds coverage instrumentation, AddressSanitizer and UBSan to every library.
cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG $relocatable_debug" \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG $relocatable_debug" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCBS_FUZZ=ON "${launcher[@]}" >/dev/null
cmake --build build-fuzz --parallel "$jobs" --target "${targets[@]}"
if [ "$seconds" = 0 ]; then exit 0; fi # build only

# Inputs larger than this are not generated: the formats' interesting structure is in the first
# few KB, and small inputs keep the executions per second high. Study seeds are real files, larger.
max_len() {
    case "$1" in
    fuzz_study_reader) echo 65536 ;;
    fuzz_token_shard) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_odr_violation=2"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"

# A crash's owner: the first stack frame outside the sanitizer runtime, libFuzzer, libc and
# libstdc++ (and libFuzzer's main: a report whose only frames are those, such as an out-of-memory
# stop, names no owner). Frames inside libhdf5 are bugs of HDF5 1.10's reader on hostile files
# (tests/fuzz/README.md), which cbs can neither fix nor catch; they are counted apart and do not
# fail the run. Everything else is ours. A timeout input is replayed with -timeout=10, so that
# libFuzzer aborts it with the stack of the loop it hangs in.
crash_owner() {
    local frame
    frame=$("$1" -timeout=10 -rss_limit_mb=2048 "$2" 2>&1 | grep -E '^ +#[0-9]+ ' |
        grep -vE ' in (__asan|__interceptor|__sanitizer|__ubsan|__lsan|operator new|operator delete|malloc|calloc|realloc|free|mem(cpy|move|set|cmp)|str[a-z]*|abort|raise|gsignal|__GI_|__libc|__str|__mem|__pthread|pthread_|std::terminate|__cxa_|fuzzer::|LLVMFuzzerRunDriver|main( |$))' |
        grep -vE '\((/[^ ]*/)?(libc|libstdc\+\+|libgcc_s)\.so' |
        head -n 1)
    if [ -z "$frame" ]; then
        echo none # the replay reports nothing: not reproducible alone (state built up in-process)
    elif grep -q 'libhdf5' <<<"$frame"; then
        echo hdf5
    else
        echo ours
    fi
    sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in /    first frame: /' <<<"$frame" >&2
}

# Fuzzes one target for `seconds`, then sorts its findings by owner. Writes its messages to
# build-fuzz/logs/<target>.report (by its caller), its table row to .row, and returns 1 when it
# found a crash in cbs's code (or libFuzzer failed with nothing kept that explains it).
fuzz_target() {
    local t=$1
    local work=build-fuzz/corpus/$t
    local artifacts=build-fuzz/artifacts/$t
    local log=build-fuzz/logs/$t.log
    mkdir -p "$work" "$artifacts" # (build-fuzz/logs: made by the caller)
    rm -f "$artifacts"/*
    local dict=()
    if [ -f "tests/fuzz/$t.dict" ]; then dict=(-dict="tests/fuzz/$t.dict"); fi
    # -fork=1 with -ignore_*: a crash ends only the worker process; fuzzing goes on and every
    # crashing input is kept, so one run reports all the crashes it can find. -timeout=5: an
    # input runs in milliseconds; libhdf5's endless loops (tests/fuzz/README.md) would otherwise
    # eat the minute.
    local rc=0
    "build-fuzz/fuzz/$t" "$work" "tests/fuzz/corpus/$t" "${dict[@]}" \
        -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
        -seed="${CBS_FUZZ_SEED:-0}" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
    local execs ours=0 hdf5=0 unreproduced=0 failed=0
    execs=$(grep -oE '^#[0-9]+:' "$log" | tail -n 1 | tr -d '#:')
    for input in "$artifacts"/*; do
        [ -f "$input" ] || continue
        echo "fuzz: $t: $input"
        case "$(crash_owner "build-fuzz/fuzz/$t" "$input")" in
        hdf5) hdf5=$((hdf5 + 1)) ;;
        none) unreproduced=$((unreproduced + 1)) ;;
        *) ours=$((ours + 1)) ;;
        esac
    done
    # With -fork, libFuzzer's exit code is that of a worker that found something (77 crash, 70
    # timeout, ...), whoever owns it: it fails the run only when no kept input explains it.
    if [ "$ours" -ne 0 ] || { [ "$rc" -ne 0 ] && [ $((hdf5 + unreproduced)) -eq 0 ]; }; then
        failed=1
        echo "fuzz: $t FAILED (exit $rc, $ours crashes in cbs code); reproduce: build-fuzz/fuzz/$t FILE"
        tail -n 20 "$log"
    fi
    printf '%-20s %12s %8s %14s %13s\n' "$t" "${execs:-?}" "$ours" "$hdf5" "$unreproduced" \
        >"build-fuzz/logs/$t.row"
    return "$failed"
}

# The targets run side by side, CBS_FUZZ_JOBS at a time (default: one per core). Each target is
# one libFuzzer worker process on one core for the full `seconds`, so running them together
# shortens the stage, not any target's fuzzing.
mkdir -p build-fuzz/logs
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    rm -f "build-fuzz/logs/$t."{row,status,report}
    echo "fuzz: $t for ${seconds}s (log: build-fuzz/logs/$t.log)"
    (
        rc=0
        fuzz_target "$t" || rc=$?
        echo "$rc" >"build-fuzz/logs/$t.status"
    ) >"build-fuzz/logs/$t.report" 2>&1 &
done
wait
status=0
for t in "${targets[@]}"; do
    cat "build-fuzz/logs/$t.report"
    if [ "$(cat "build-fuzz/logs/$t.status" 2>/dev/null)" != 0 ]; then status=1; fi
done

echo
printf '%-20s %12s %8s %14s %13s\n' target executions crashes "libhdf5-only" "unreproduced"
for t in "${targets[@]}"; do cat "build-fuzz/logs/$t.row" 2>/dev/null || printf '%-20s %12s\n' "$t" "(no result)"; done
exit "$status"
