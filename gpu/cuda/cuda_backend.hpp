// The CUDA backend's host-only entry points (no CUDA types: any .cpp may include this).
//
// "cuda" is the production backend: fp32 master weights, Adam moments and EWA buffers; bf16
// copies of the weights and bf16 activations as matmul operands; cuBLAS GEMMs with fp32
// accumulation. CudaPrecision::fp32 builds the same backend with fp32 operands everywhere (true
// fp32 GEMMs, no TF32): slower, for validation against the CPU reference at fp32 tolerances.
//
// The backend itself is in the module libcbs_cuda.so (cuda_module.hpp), opened on the first call
// of any function below except cuda_compiled(); cbs does not link the CUDA libraries. In a build
// without CUDA (CBS_HAVE_CUDA undefined), or where the module or the CUDA libraries it needs
// cannot be loaded, these still work: cuda_device_count() returns 0, cuda_module_error() says
// why, and make_cuda_backend() throws cbs::UserError with that reason. Thread-safe.
#pragma once

#include "gpu/backend.hpp"

#include <memory>
#include <string>
#include <vector>

namespace cbs::lm {

enum class CudaPrecision { bf16, fp32 };

/// True when this cbs was compiled with the CUDA backend.
bool cuda_compiled();
/// Empty when the CUDA backend module is loaded; otherwise the one-line reason it is not
/// ("this cbs was built without CUDA", "cannot load .../libcbs_cuda.so: libcudart.so.13: ...").
std::string cuda_module_error();
/// Number of usable CUDA devices (0 without CUDA, without the module, a driver or a device).
int cuda_device_count();
/// "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB" for device 0; empty when none.
std::string cuda_device_description();

/// The CUDA backend on device 0, state zeroed (like make_backend). Throws cbs::UserError
/// ("`backend` = cuda: ...") when this build has no CUDA, the module cannot be loaded, or no
/// device is present.
std::unique_ptr<LmBackend> make_cuda_backend(const ModelConfig& config,
                                             const std::vector<double>& ewa_decays,
                                             CudaPrecision precision = CudaPrecision::bf16);

} // namespace cbs::lm
