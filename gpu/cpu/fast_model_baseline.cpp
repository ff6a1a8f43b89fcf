// The fast model compiled for baseline x86-64 (SSE2): see fast_model_impl.hpp.
#define CBS_FAST_NS baseline
#define CBS_FAST_ISA_NAME "baseline"
#include "gpu/cpu/fast_model_impl.hpp"

namespace cbs::lm::cpu {
std::unique_ptr<FastModel> make_fast_model_baseline(const ModelConfig& config,
                                                    const ParamLayout& layout, OperandType type) {
    return baseline::make(config, layout, type);
}
} // namespace cbs::lm::cpu
