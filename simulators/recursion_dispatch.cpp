// Runtime choice of the recursion kernel's SIMD level (see recursion_kernel.hpp).
#include "simulators/recursion_kernel.hpp"

#include <stdexcept>

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

namespace {
struct Choice {
    StepKernel kernel;
    const char* name;
};

Choice choose() {
#ifdef CBS_HAVE_KERNEL_AVX512
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return {kernels::avx512::step, "avx512"};
#endif
#ifdef CBS_HAVE_KERNEL_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return {kernels::avx2::step, "avx2"};
#endif
#ifdef CBS_HAVE_KERNEL_BASELINE
    return {kernels::baseline::step, "baseline"};
#else
    return {nullptr, "none"}; // a single forced level the CPU lacks: select_step_kernel() fails
#endif
}

const Choice& chosen() {
    static const Choice choice = choose();
    return choice;
}
} // namespace

StepKernel select_step_kernel() {
    const Choice& c = chosen();
    if (c.kernel == nullptr)
        throw std::runtime_error("this CPU lacks the SIMD level cbs was built for (CBS_SIMD)");
    return c.kernel;
}

const char* step_kernel_name() {
    return chosen().name;
}

} // namespace cbs::sim
