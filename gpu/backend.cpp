// Backend registry: the one place that knows which backends this build has.
#include "gpu/backend.hpp"

#include "gpu/cpu_backend.hpp"
#include "gpu/cuda_backend.hpp"
#include "theory/check.hpp"

#include <fmt/format.h>

namespace cbs::lm {

std::vector<std::string> available_backends() {
    if (cuda_compiled()) return {"cpu", "cuda"};
    return {"cpu"};
}

std::unique_ptr<LmBackend> make_backend(const std::string& name, const ModelConfig& config,
                                        const std::vector<double>& ewa_decays) {
    if (name == "cpu") return std::make_unique<CpuBackend>(config, ewa_decays);
    if (name == "cuda") return make_cuda_backend(config, ewa_decays, CudaPrecision::bf16);
    throw UserError(fmt::format("`backend` = {}: must be cpu or cuda", name));
}

#ifndef CBS_HAVE_CUDA
// A build without CUDA: the entry points of cuda_backend.hpp exist and say so.
bool cuda_compiled() {
    return false;
}
int cuda_device_count() {
    return 0;
}
std::string cuda_device_description() {
    return {};
}
std::unique_ptr<LmBackend> make_cuda_backend(const ModelConfig&, const std::vector<double>&,
                                             CudaPrecision) {
    throw UserError("`backend` = cuda: this cbs was built without CUDA");
}
#endif

} // namespace cbs::lm
