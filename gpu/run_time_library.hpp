// Shared libraries opened at run time (dlopen) for the heavy optional parts of cbs: the CUDA
// backend (libcbs_cuda.so, gpu/cuda/cuda_module.hpp) and MPI (libcbs_mpi.so,
// experiments/mpi/mpi_module.hpp). The executable itself needs neither the CUDA runtime nor an
// MPI library, so `cbs --version` or `cbs simulate` start fast and run where neither is
// installed; the library is opened the first time it is asked for and stays open until exit.
//
// Where a library is looked for, in order: beside the running executable (/proc/self/exe's
// directory: build/ in a build tree, the install's bin/), then by its name through the dynamic
// loader's own search (the program's RUNPATH, LD_LIBRARY_PATH, the system's directories).
#pragma once

#include <string>

namespace cbs {

/// Result of open_run_time_library: a handle, or (handle null) a one-line reason that names the
/// file and what the dynamic loader said (e.g. a missing libcudart.so.13).
struct RunTimeLibrary {
    void* handle = nullptr;
    std::string error;
};

/// Opens `file_name` (e.g. "libcbs_cuda.so") with RTLD_NOW, and RTLD_GLOBAL when `global` (MPI
/// implementations load their own plugins, which look for libmpi's symbols globally).
/// Thread-compatible: callers open each library once (a function-local static).
RunTimeLibrary open_run_time_library(const std::string& file_name, bool global);

/// The address of `symbol` in an opened library, or nullptr (with the loader's reason in `error`).
void* run_time_symbol(void* handle, const char* symbol, std::string& error);

/// Directory of the running executable, without a trailing slash ("" if it cannot be read).
std::string executable_directory();

} // namespace cbs
