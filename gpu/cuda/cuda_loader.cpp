// cuda_backend.hpp's entry points on the host side: open the CUDA backend module
// (libcbs_cuda.so, cuda_module.hpp) on first use and forward to it. Plain C++: compiled into every
// build, with or without CUDA, and linked without any CUDA library.
#include "gpu/cuda/cuda_backend.hpp"
#include "gpu/cuda/cuda_module.hpp"
#include "gpu/run_time_library.hpp"
#include "theory/check.hpp"

#include <fmt/format.h>

namespace cbs::lm {

namespace {

/// The loaded module's table, or the one-line reason there is none.
struct CudaModule {
    const CudaModuleApi* api = nullptr;
    std::string error;
};

CudaModule load_cuda_module() {
    CudaModule m;
#ifndef CBS_HAVE_CUDA
    m.error = "this cbs was built without CUDA (nvcc was not found at configure time)";
#else
    const RunTimeLibrary lib = open_run_time_library(CBS_CUDA_MODULE_FILE, false);
    if (lib.handle == nullptr) {
        m.error = lib.error;
        return m;
    }
    void* entry = run_time_symbol(lib.handle, kCudaModuleSymbol, m.error);
    if (entry == nullptr) return m;
    const CudaModuleApi* api = reinterpret_cast<CudaModuleEntry>(entry)();
    if (api == nullptr || api->abi != kCudaModuleAbi || api->layout != cuda_module_layout()) {
        m.error = fmt::format("{} is from another build of cbs: rebuild both (cmake --build)",
                              CBS_CUDA_MODULE_FILE);
        return m;
    }
    m.api = api; // the library stays open until exit: backends' code lives in it
#endif
    return m;
}

/// Loaded once per process (thread-safe: backends are made on several threads in sweeps).
const CudaModule& cuda_module() {
    static const CudaModule module = load_cuda_module();
    return module;
}

} // namespace

bool cuda_compiled() {
#ifdef CBS_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

std::string cuda_module_error() {
    return cuda_module().error;
}

int cuda_device_count() {
    const CudaModule& m = cuda_module();
    return m.api != nullptr ? m.api->device_count() : 0;
}

std::string cuda_device_description() {
    const CudaModule& m = cuda_module();
    return m.api != nullptr ? m.api->device_description() : std::string();
}

std::unique_ptr<LmBackend> make_cuda_backend(const ModelConfig& config,
                                             const std::vector<double>& ewa_decays,
                                             CudaPrecision precision) {
    const CudaModule& m = cuda_module();
    if (m.api == nullptr) throw UserError(fmt::format("`backend` = cuda: {}", m.error));
    return m.api->make_backend(config, ewa_decays, precision);
}

} // namespace cbs::lm
