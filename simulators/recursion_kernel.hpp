// The inner loop of the exact risk recursion (THEORY.md section 2): one step of the 3x3
// second-moment map for every grid point, fused with the two reductions the next step needs.
// Compiled once per SIMD level (recursion_kernel.cpp with CBS_KERNEL_ISA); select_step_kernel()
// picks the best level the running CPU supports, so binaries never depend on the build host.
#pragma once

#include <cstddef>
#include <vector>

namespace cbs::sim {

/// Per-point second moments of u = (e, m, h), symmetric: ee = E[e^2], em = E[e m], ...
/// Each array has one entry per grid point, per coordinate (not multiplied by the count).
struct MomentArrays {
    double* ee;
    double* em;
    double* mm;
    double* eh;
    double* mh;
    double* hh;
};

/// Constant per-point data.
struct PointArrays {
    const double* lambda; ///< eigenvalue lambda_i
    const double* pre;    ///< preconditioner lambda_i^-p (1 for plain SGD)
    const double* weight; ///< count_i * lambda_i: weight of ee, hh in S and the risks
};

struct StepParams {
    double eta;       ///< this step's learning rate eta_t (before preconditioning)
    double beta;      ///< momentum
    double tau;       ///< EWA decay
    double inv_batch; ///< 1 / B
    double noise;     ///< (S_t + sigma_eff^2) / B, S_t = sum_i weight_i ee_i before the step
};

/// Sums over points after the step: s = sum weight*ee' (= S_{t+1}), h = sum weight*hh'.
struct StepSums {
    double s;
    double h;
};

using StepKernel = StepSums (*)(std::size_t n, const PointArrays& points, MomentArrays& moments,
                                const StepParams& params);

/// A compiled SIMD level the running CPU can execute.
struct KernelLevel {
    const char* name; ///< "avx512", "avx2" or "baseline"
    StepKernel kernel;
};

/// Every compiled level this CPU supports, best first (tests compare them; benchmarks time them).
std::vector<KernelLevel> available_step_kernels();

/// The kernel for the best SIMD level available (CBS_SIMD at configure time, CPU at run time).
/// The environment variable CBS_KERNEL=avx512|avx2|baseline forces a level (if available).
StepKernel select_step_kernel();
/// Name of the level select_step_kernel() picks.
const char* step_kernel_name();

} // namespace cbs::sim
