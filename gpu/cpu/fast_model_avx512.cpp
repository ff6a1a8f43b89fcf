// The fast model compiled for AVX-512 (F, BW, VL, DQ): see fast_model_impl.hpp and the flags in
// gpu/CMakeLists.txt. Only called when the running CPU has these (fast_model.cpp checks).
#define CBS_FAST_NS avx512
#define CBS_FAST_ISA_NAME "avx512"
#include "gpu/cpu/fast_model_impl.hpp"

namespace cbs::lm::cpu {
std::unique_ptr<FastModel> make_fast_model_avx512(const ModelConfig& config,
                                                  const ParamLayout& layout, OperandType type) {
    return avx512::make(config, layout, type);
}
} // namespace cbs::lm::cpu
