// Backend registry: the one place that knows which backends this build has.
#include "gpu/backend.hpp"

#include "gpu/cuda/cuda_backend.hpp"
#include "gpu/reference/reference_backend.hpp"
#include "theory/check.hpp"

#ifdef CBS_HAVE_ONEDNN
#include "gpu/cpu/cpu_backend.hpp"
#endif

#include <cstdio>
#include <fmt/format.h>
#include <mutex>

namespace cbs::lm {

std::vector<std::string> available_backends() {
    std::vector<std::string> names{"cpu", "reference"};
    if (cuda_compiled()) names.push_back("cuda");
    return names;
}

std::unique_ptr<LmBackend> make_backend(const std::string& name, const ModelConfig& config,
                                        const std::vector<double>& ewa_decays) {
    if (name == "reference") return std::make_unique<ReferenceBackend>(config, ewa_decays);
    if (name == "cpu") {
#ifdef CBS_HAVE_ONEDNN
        return std::make_unique<FastCpuBackend>(config, ewa_decays);
#else
        // Once per process, also when a sweep creates backends on several threads.
        static std::once_flag said;
        std::call_once(said, [] {
            std::fputs("cbs: this cbs was built without oneDNN: backend = cpu runs the (slower) "
                       "reference backend\n",
                       stderr);
        });
        return std::make_unique<ReferenceBackend>(config, ewa_decays);
#endif
    }
    if (name == "cuda") return make_cuda_backend(config, ewa_decays, CudaPrecision::bf16);
    throw UserError(fmt::format("`backend` = {}: must be cpu, reference or cuda", name));
}

} // namespace cbs::lm
