#!/usr/bin/env bash
# Configures (Release) and builds cbs into ./build. Extra arguments go to cmake's configure step.
# Compiles through ccache when it is installed (scripts/ccache.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ccache.sh
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
else
    use_ccache_in build
fi
cmake --build build --parallel "$(nproc)"
