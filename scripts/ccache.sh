# Sourced by scripts/build.sh, sanitize.sh and fuzz.sh (from the repository root): when ccache is
# installed (scripts/setup-deps.sh installs it), sets `launcher` to the CMake arguments that
# compile through it, so a rebuild after a small change (CI, a fresh build directory) takes cached
# objects for every unchanged source. Without ccache, `launcher` is empty and builds are as before.
# CCACHE_BASEDIR (default: the repository root) makes the cache hit across checkouts and work
# trees in different directories; CCACHE_DIR and the cache size are ccache's own settings.
launcher=()
if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # nvcc too, where the CUDA backend is built (an unused launcher variable would warn otherwise).
    if command -v nvcc >/dev/null 2>&1; then launcher+=(-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache); fi
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)}
fi

# Adds the launcher to an existing build directory configured without it (a build tree made
# before ccache was installed): cmake -B DIR with only these variables keeps everything else.
use_ccache_in() {
    local dir=$1
    if [ ${#launcher[@]} -gt 0 ] && [ -f "$dir/CMakeCache.txt" ] &&
        ! grep -q '^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=ccache$' "$dir/CMakeCache.txt"; then
        cmake -S . -B "$dir" "${launcher[@]}" >/dev/null
    fi
}

# Debug information (the sanitizer and fuzz builds compile with -g1) names the directory it was
# compiled in, so ccache keys such objects on that directory too, and a fresh clone elsewhere (CI)
# would miss the cache for all of them. Mapping the repository root to "." takes the directory
# out of the key (ccache's hash_dir setting explains the rule) and leaves stack traces with paths
# relative to the repository. For CMAKE_<LANG>_FLAGS of those builds.
relocatable_debug="-fdebug-prefix-map=$(pwd)=."
