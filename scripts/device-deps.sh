#!/usr/bin/env bash
# Run HERE, on a Debian 12 machine with its package mirror: fetches the Debian packages that the
# GPU machine's build needs into .devdeps/debs/ (git-ignored), so that they travel with the working
# tree (carry .devdeps/debs) to a machine that has nvcc, CMake, ninja and g++ but no package registry
# and none of our -dev packages. scripts/device-check.sh unpacks them there into .devdeps/root
# (`dpkg -x`, nothing installed system-wide) and points CMake at that prefix.
#
#   dev:     headers, CMake configs and link-time .so files of every library CMakeLists.txt finds
#            (MPI is left out: the device build configures with -DCBS_WITH_MPI=OFF)
#   runtime: the shared libraries those link to, closed over their own dependencies: the list is
#            `ldd build/cbs build/bench/bench_lm build/tests/test_gpu` on a Debian 12 build, mapped
#            to packages with `dpkg -S`, less glibc, libgcc, libstdc++ and libgomp (the compiler's own
#            serve: a newer OpenMP runtime must not be shadowed by gcc 12's) and the CUDA libraries
#            (the machine's CUDA 13 toolkit serves).
# Usage: scripts/device-deps.sh        (about 25 MB of .deb files; prints their total size)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=(
    libeigen3-dev libboost1.74-dev libhdf5-dev libtomlplusplus-dev libcli11-dev libfmt-dev catch2
    libsentencepiece-dev zlib1g-dev nlohmann-json3-dev
)
runtime=(
    libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100 libsz2 libaec0 libcurl4
    libssl3 libbrotli1 libnghttp2-14 libidn2-0 libunistring2 libpsl5 librtmp1 libssh2-1 libzstd1
    libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libffi8 libtasn1-6 libldap-2.5-0
    libsasl2-2 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2
    libfmt9 libtomlplusplus3 libsentencepiece0 zlib1g
)
mkdir -p .devdeps/debs
rm -f .devdeps/debs/*.deb
(cd .devdeps/debs && apt-get download "${dev[@]}" "${runtime[@]}")
du -sh .devdeps/debs | awk '{print "device-deps: " $1 " of packages in .devdeps/debs"}'
ls .devdeps/debs | wc -l | awk '{print "device-deps: " $1 " files; carry .devdeps/debs with the run"}'
