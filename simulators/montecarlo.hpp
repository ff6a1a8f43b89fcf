// Monte Carlo SGD on finite-dimensional power-law least squares: the independent check of the
// exact recursion. Same optimizer, same options, sampled Gaussian data, averaged over seeds.
//
// Contract (THEORY.md sections 1-2, finite M = model.size):
//  - x ~ N(0, diag(lambda_1..lambda_M)), lambda_i = i^-a; w*_i = i^((a-b)/2) (all positive);
//    y = <w*, x> + eps with eps ~ N(0, sigma2 + sum_{i>M} i^-b) (the unlearned tail acts as noise).
//  - w_0 = 0, m_0 = 0, xi_0 = 0. Step t = 0..T-1 draws B fresh samples:
//      g = (1/B) sum_j x_j (x_j^T w - y_j), m <- beta m + g, w <- w - eta_t lambda^-p (.) m,
//      xi <- tau_t xi + (1 - tau_t) w. Reported EWA weights xi / (1 - tau^(t+1)) after t+1
//      updates (average = ewa, tau_t = ewa.decay); average = uniform | tail: tau_t =
//      SimOptions::average_decay(t), xi is the mean of the averaged iterates, reported as is.
//  - risk(w) = 1/2 sum_i lambda_i (w_i - w*_i)^2 + 1/2 sum_{i>M} i^-b (exact expectation over
//  data).
//  - Curve: mean over options.mc_seeds independent runs at record_steps(), with standard errors
//    (sample standard deviation / sqrt(runs)). Run k's random stream depends only on
//    (options.seed, k), so results do not depend on the number of threads (OpenMP over runs).
//  - Divergence: if any run's risk becomes non-finite or exceeds divergence_factor * R_0, the curve
//    is marked diverged at the first such step and holds only the recorded steps before it.
//  - With spectrum.file (spectrum_file.hpp) lambda_i and w*_i = sqrt(signal_i / lambda_i) come
//    from the file, M = model.size or the file's dimension, and the tail is the file's i > M.
// Precondition: options.validate() passed and learned_dimension() is finite.
#pragma once

#include "simulators/curve.hpp"
#include "simulators/sim_options.hpp"

namespace cbs::sim {

Curve simulate_montecarlo(const SimOptions& options);

} // namespace cbs::sim
