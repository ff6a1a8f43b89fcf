#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer)
# in ./build-asan and runs it with CTest; any sanitizer report fails the test that triggered it.
# Usage: scripts/sanitize.sh [extra ctest arguments]. CBS_JOBS sets build/test parallelism.
# Compiles through ccache when it is installed (scripts/ccache.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/ccache.sh
jobs=${CBS_JOBS:-$(nproc)}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ -f build-asan/CMakeCache.txt ]; then generator=(); fi # keep the generator it was made with
# -O1 (not Release's -O3): instrumented -O3 builds of the Eigen-heavy sources take several times
# longer to compile, and -O1 is what the sanitizers' documentation recommends. NDEBUG as in
# Release, so the code under test is the code users run. CBS_SANITIZE adds -g1 and frame pointers.
# relocatable_debug: scripts/ccache.sh.
cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG $relocatable_debug" \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG $relocatable_debug" \
    -DCBS_SANITIZE=address,undefined "${launcher[@]}" >/dev/null
cmake --build build-asan --parallel "$jobs"

# halt_on_error / abort_on_error: the first report ends the process with a failure, so CTest
# counts it; detect_leaks: leaks in our code fail too (suppressions and why: tests/sanitizers/).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1:detect_odr_violation=2"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
cd build-asan
# The gpu label needs a device and is covered by scripts/test.sh on GPU machines.
ctest --output-on-failure --label-exclude gpu --parallel "$jobs" "$@"
