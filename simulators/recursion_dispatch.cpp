// Runtime choice of the recursion kernel's SIMD level (see recursion_kernel.hpp).
#include "simulators/recursion_kernel.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace cbs::sim {

#define CBS_DECLARE_KERNEL(isa)                                                                    \
    namespace kernels::isa {                                                                       \
    StepSums step(std::size_t n, const PointArrays& points, MomentArrays& moments,                 \
                  const StepParams& params);                                                       \
    }
#ifdef CBS_HAVE_KERNEL_AVX512
CBS_DECLARE_KERNEL(avx512)
#endif
#ifdef CBS_HAVE_KERNEL_AVX2
CBS_DECLARE_KERNEL(avx2)
#endif
#ifdef CBS_HAVE_KERNEL_BASELINE
CBS_DECLARE_KERNEL(baseline)
#endif
#undef CBS_DECLARE_KERNEL

std::vector<KernelLevel> available_step_kernels() {
    std::vector<KernelLevel> levels;
#ifdef CBS_HAVE_KERNEL_AVX512
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        levels.push_back({"avx512", kernels::avx512::step});
#endif
#ifdef CBS_HAVE_KERNEL_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        levels.push_back({"avx2", kernels::avx2::step});
#endif
#ifdef CBS_HAVE_KERNEL_BASELINE
    levels.push_back({"baseline", kernels::baseline::step});
#endif
    return levels;
}

namespace {
const KernelLevel& chosen() {
    static const KernelLevel choice = [] {
        const std::vector<KernelLevel> levels = available_step_kernels();
        if (levels.empty())
            throw std::runtime_error(
                "this CPU lacks the SIMD level cbs was built for (CMake option CBS_SIMD)");
        if (const char* forced = std::getenv("CBS_KERNEL")) {
            for (const KernelLevel& level : levels)
                if (std::string(forced) == level.name) return level;
            throw std::runtime_error(std::string("CBS_KERNEL=") + forced +
                                     ": not a SIMD level this build and CPU support");
        }
        return levels.front();
    }();
    return choice;
}
} // namespace

StepKernel select_step_kernel() {
    return chosen().kernel;
}

const char* step_kernel_name() {
    return chosen().name;
}

} // namespace cbs::sim
