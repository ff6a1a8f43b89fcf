// One step of the second-moment recursion for all points; see recursion_kernel.hpp and
// THEORY.md section 2. With eta_i = eta * pre_i, alpha = 1 - eta_i lambda, gamma = -eta_i beta and
// noise variance q = lambda (lambda ee / B + (S + sigma^2) / B):
//   e' = alpha e + gamma m - eta_i zeta,  m' = lambda e + beta m + zeta,  h' = tau h + (1-tau) e'
// so the moments update as written below (zeta is independent of the state, E[zeta^2] = q).
// This file is compiled once per SIMD level with CBS_KERNEL_ISA naming the level.
#include "simulators/recursion_kernel.hpp"

#ifndef CBS_KERNEL_ISA
#error "CBS_KERNEL_ISA must name the SIMD level this file is compiled for"
#endif

namespace cbs::sim::kernels::CBS_KERNEL_ISA {

StepSums step(std::size_t n, const PointArrays& points, MomentArrays& moments,
              const StepParams& params) {
    const double* __restrict lambda = points.lambda;
    const double* __restrict pre = points.pre;
    const double* __restrict weight = points.weight;
    double* __restrict ee = moments.ee;
    double* __restrict em = moments.em;
    double* __restrict mm = moments.mm;
    double* __restrict eh = moments.eh;
    double* __restrict mh = moments.mh;
    double* __restrict hh = moments.hh;
    const double eta = params.eta, beta = params.beta, tau = params.tau;
    const double inv_batch = params.inv_batch, noise = params.noise;
    const double one_minus_tau = 1.0 - tau;

    double s = 0.0, h = 0.0;
#pragma omp simd reduction(+ : s, h)
    for (std::size_t i = 0; i < n; ++i) {
        const double lam = lambda[i];
        const double eta_i = eta * pre[i];
        const double alpha = 1.0 - eta_i * lam;
        const double gamma = -eta_i * beta;
        const double e2 = ee[i], em0 = em[i], m2 = mm[i], eh0 = eh[i], mh0 = mh[i];
        const double q = lam * (lam * e2 * inv_batch + noise);

        const double ee1 =
            alpha * alpha * e2 + 2.0 * alpha * gamma * em0 + gamma * gamma * m2 + eta_i * eta_i * q;
        const double em1 =
            alpha * lam * e2 + (alpha * beta + gamma * lam) * em0 + gamma * beta * m2 - eta_i * q;
        const double mm1 = lam * lam * e2 + 2.0 * lam * beta * em0 + beta * beta * m2 + q;
        const double xh = alpha * eh0 + gamma * mh0; // E[e' h]
        const double yh = lam * eh0 + beta * mh0;    // E[m' h]
        const double eh1 = one_minus_tau * ee1 + tau * xh;
        const double mh1 = one_minus_tau * em1 + tau * yh;
        const double hh1 = one_minus_tau * one_minus_tau * ee1 + 2.0 * tau * one_minus_tau * xh +
                           tau * tau * hh[i];

        ee[i] = ee1;
        em[i] = em1;
        mm[i] = mm1;
        eh[i] = eh1;
        mh[i] = mh1;
        hh[i] = hh1;
        s += weight[i] * ee1;
        h += weight[i] * hh1;
    }
    return {s, h};
}

} // namespace cbs::sim::kernels::CBS_KERNEL_ISA
