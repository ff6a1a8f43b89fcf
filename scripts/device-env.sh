# Sourced by the device scripts (scripts/device-check.sh, scripts/device-study.sh) on the GPU
# machine: unpacks the Debian packages of .devdeps/debs (scripts/device-deps.sh, run beforehand on
# a Debian 12 machine) into the prefix .devdeps/root, and configures + builds cbs in build-device
# against it. Nothing is installed system-wide and no environment variable of the machine's own
# tools changes: the prefix reaches the build through CMAKE_PREFIX_PATH, and our executables find
# its shared libraries through an RPATH (DT_RPATH, which also serves their libraries' own
# dependencies, e.g. libhdf5 -> libcurl), so python3, cmake and nvcc keep the machine's libraries.
# Usage (from the repository root): source scripts/device-env.sh; device_build TARGET...

device_root=$PWD/.devdeps/root

device_unpack() {
    if [ ! -d .devdeps/debs ] || ! ls .devdeps/debs/*.deb >/dev/null 2>&1; then
        echo "device: no packages in .devdeps/debs: run scripts/device-deps.sh here first and" \
            "carry .devdeps/debs" >&2
        return 2
    fi
    rm -rf "$device_root"
    mkdir -p "$device_root"
    local f
    for f in .devdeps/debs/*.deb; do
        if command -v dpkg-deb >/dev/null 2>&1; then
            dpkg-deb -x "$f" "$device_root"
        else # no dpkg: a .deb is an ar archive holding data.tar.*
            local tmp
            tmp=$(mktemp -d)
            (cd "$tmp" && ar x "$OLDPWD/$f")
            tar -xf "$tmp"/data.tar.* -C "$device_root"
            rm -rf "$tmp"
        fi
    done
    # Absolute links (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) point into the prefix.
    local link target
    while IFS= read -r link; do
        target=$(readlink "$link")
        case "$target" in /*) ln -sfn "$device_root$target" "$link" ;; esac
    done < <(find "$device_root" -type l)
    echo "device: unpacked $(ls .devdeps/debs/*.deb | wc -l) packages into $device_root"
}

device_build() {
    local libs="$device_root/usr/lib/x86_64-linux-gnu:$device_root/lib/x86_64-linux-gnu"
    libs="$libs:$device_root/usr/lib/x86_64-linux-gnu/hdf5/serial"
    local extra=(${CBS_DEVICE_CMAKE_ARGS:-}) # e.g. CBS_DEVICE_CMAKE_ARGS=-DCMAKE_CUDA_ARCHITECTURES=90a
    local generator=()
    if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
    cmake -S . -B build-device "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCBS_WITH_MPI=OFF \
        -DCMAKE_PREFIX_PATH="$device_root/usr" \
        -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent -DHDF5_CXX_COMPILER_EXECUTABLE=/nonexistent \
        -DPKG_CONFIG_EXECUTABLE=/nonexistent \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags -Wl,-rpath,$libs -Wl,-rpath-link,$libs" \
        -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$libs" "${extra[@]}"
    cmake --build build-device --parallel "$(nproc)" --target "$@"
}
