// Backend registry: the one place that knows which backends this build has.
#include "gpu/backend.hpp"

#include "gpu/cpu_backend.hpp"
#include "theory/check.hpp"

#include <fmt/format.h>

namespace cbs::lm {

std::vector<std::string> available_backends() {
    return {"cpu"};
}

std::unique_ptr<LmBackend> make_backend(const std::string& name, const ModelConfig& config,
                                        const std::vector<double>& ewa_decays) {
    if (name == "cpu") return std::make_unique<CpuBackend>(config, ewa_decays);
    if (name == "cuda")
        throw UserError(fmt::format("`backend` = {}: this cbs was built without CUDA", name));
    throw UserError(fmt::format("`backend` = {}: must be cpu or cuda", name));
}

} // namespace cbs::lm
