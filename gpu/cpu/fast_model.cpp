// Picks the fast model's compiled variant from the running CPU (never from the build host).
#include "gpu/cpu/fast_model.hpp"

namespace cbs::lm::cpu {

std::unique_ptr<FastModel> make_fast_model(const ModelConfig& config, const ParamLayout& layout,
                                           OperandType type) {
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512) return make_fast_model_avx512(config, layout, type);
    return make_fast_model_baseline(config, layout, type);
}

} // namespace cbs::lm::cpu
