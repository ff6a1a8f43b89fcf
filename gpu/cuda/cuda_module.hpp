// The boundary between cbs and its CUDA backend module, libcbs_cuda.so (host-only: no CUDA types).
//
// The CUDA backend (cuda_backend.cu, cuda_kernels.cu) and its dependencies, libcudart and
// libcublas, live in a shared library that the executable opens with dlopen the first time a
// CUDA backend is asked for (cuda_loader.cpp), so cbs itself has no CUDA library among its
// dependencies. The module exports one C symbol, kCudaModuleSymbol, returning this table.
//
// The module is built in the same build as the executable (same compiler, same standard
// library), so the table passes C++ types; `abi` and `layout` catch a module left over from another
// build (a module rebuilt without cbs, or the reverse), which would otherwise crash.
// Exceptions thrown inside the module (cbs::UserError for "no device", CudaError for a failed CUDA
// call) propagate to the caller as from any other function.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/cuda/cuda_backend.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cbs::lm {

/// Bump whenever CudaModuleApi, LmBackend, ModelConfig or ParamLayout change shape.
inline constexpr int kCudaModuleAbi = 1;
/// The exported `extern "C" const CudaModuleApi* cbs_cuda_module_v1()`.
inline constexpr const char* kCudaModuleSymbol = "cbs_cuda_module_v1";

struct CudaModuleApi {
    int abi = 0;              ///< kCudaModuleAbi of the module's build
    std::uint64_t layout = 0; ///< cuda_module_layout() of the module's build (below)
    /// Usable CUDA devices (0 without a driver or a device; never throws).
    int (*device_count)() = nullptr;
    /// cuda_device_description() of cuda_backend.hpp.
    std::string (*device_description)() = nullptr;
    /// make_cuda_backend() of cuda_backend.hpp: throws cbs::UserError without a device.
    std::unique_ptr<LmBackend> (*make_backend)(const ModelConfig& config,
                                               const std::vector<double>& ewa_decays,
                                               CudaPrecision precision) = nullptr;
};

/// Sizes of what crosses the boundary, as the compiler saw them: differs when one side was built
/// from other sources (with `abi`, which a change that keeps every size must bump).
inline std::uint64_t cuda_module_layout() {
    return (sizeof(CudaModuleApi) << 48) ^ (sizeof(LmBackend) << 40) ^ (sizeof(ModelConfig) << 24) ^
           (sizeof(ParamLayout) << 12) ^ sizeof(ParamTensor);
}

/// Type of the exported entry point.
using CudaModuleEntry = const CudaModuleApi* (*)();

} // namespace cbs::lm
