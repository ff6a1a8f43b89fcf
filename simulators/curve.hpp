// One simulated training curve: the shared output of every simulator (and of the HDF5 schema).
#pragma once

#include <cstdint>
#include <vector>

namespace cbs::sim {

struct Curve {
    std::vector<std::int64_t> step;    ///< recorded steps (updates done), increasing
    std::vector<std::int64_t> samples; ///< samples seen at each step = step * batch
    std::vector<double> risk;          ///< excess risk of the raw weights (incl. approximation)
    std::vector<double> risk_ewa;      ///< excess risk of the bias-corrected EWA weights
    std::vector<double> risk_se;       ///< Monte Carlo only: standard error of `risk`; else empty
    std::vector<double> risk_ewa_se;   ///< Monte Carlo only: standard error of `risk_ewa`
    bool diverged = false;             ///< risk became non-finite or exceeded the divergence bound
    std::int64_t diverged_step = -1;   ///< step at which divergence was detected, -1 if none
    std::int64_t grid_points = 0;      ///< recursion: spectral grid points simulated
    /// With target.risk > 0 (recursion): first step whose EWA risk is <= the target (-1 if none
    /// within the run), and the same interpolated linearly in log risk between that step and the
    /// one before (a continuous steps-to-target for tuning).
    std::int64_t target_step = -1;
    double target_step_interp = -1.0;
};

} // namespace cbs::sim
