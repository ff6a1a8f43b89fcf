#include "simulators/recursion.hpp"

#include "simulators/record_steps.hpp"
#include "simulators/recursion_kernel.hpp"
#include "simulators/schedule.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cbs::sim {

theory::QuadratureOptions default_quadrature(const SimOptions& options) {
    theory::QuadratureOptions q;
    q.tolerance = options.tolerance;
    return q;
}

namespace {

/// The grid of a user-given spectrum: every learned coordinate exact (count 1), nothing frozen;
/// the signal of the coordinates beyond model.size is the approximation signal (THEORY.md s. 1).
theory::SpectralGrid file_grid(const UserSpectrum& spectrum, double learned) {
    theory::SpectralGrid grid;
    const auto m = static_cast<std::size_t>(learned);
    CBS_CHECK(m >= 1 && m <= spectrum.dimension(), "learned coordinates ", m);
    for (std::size_t i = 0; i < m; ++i) {
        grid.index.push_back(static_cast<double>(i + 1));
        grid.count.push_back(1.0);
        grid.lambda.push_back(spectrum.lambda[i]);
        grid.initial_error2.push_back(spectrum.signal[i] / spectrum.lambda[i]);
    }
    for (std::size_t i = m; i < spectrum.dimension(); ++i)
        grid.approximation_signal += spectrum.signal[i];
    grid.head = static_cast<int>(std::min<std::size_t>(m, 1u << 30));
    grid.first_frozen = static_cast<double>(m + 1);
    return grid;
}

} // namespace

Curve simulate_recursion(const SimOptions& options) {
    return simulate_recursion(options, default_quadrature(options));
}

Curve simulate_recursion(const SimOptions& o, const theory::QuadratureOptions& quadrature) {
    const std::int64_t total = o.total_steps();
    CBS_CHECK(total >= 1, "total steps = ", total);

    // Coordinate i moves by at most (effective time) * lambda_i^(1-p) / (1 - beta) relative to its
    // initial error: this "drive" sets where the spectral grid may freeze the tail.
    const double drive = effective_time(o, total) / (1.0 - o.momentum);
    const theory::SpectralGrid grid =
        o.spectrum ? file_grid(*o.spectrum, o.learned_dimension())
                   : theory::build_spectral_grid(theory::PowerLawSpectrum{o.a, o.b}, o.model_size,
                                                 drive, o.precond_power, quadrature);

    const std::size_t n = grid.size();
    std::vector<double> pre(n), weight(n);
    for (std::size_t i = 0; i < n; ++i) {
        pre[i] = o.precond_power == 0.0 ? 1.0 : std::pow(grid.lambda[i], -o.precond_power);
        weight[i] = grid.count[i] * grid.lambda[i];
    }
    // Moments start at w = 0, m = 0, h = 0: only E[e^2] = (w*_i)^2 is non-zero.
    std::vector<double> ee = grid.initial_error2, em(n, 0.0), mm(n, 0.0), eh(n, 0.0), mh(n, 0.0),
                        hh(n, 0.0);
    const PointArrays points{grid.lambda.data(), pre.data(), weight.data()};
    MomentArrays moments{ee.data(), em.data(), mm.data(), eh.data(), mh.data(), hh.data()};

    // Unlearned coordinates (beyond M) act as label noise and add a constant to the risk; frozen
    // coordinates (beyond the grid) keep their initial error, in S and in both risks.
    const double sigma_eff2 = o.sigma2 + grid.approximation_signal;
    const double constant_signal = grid.frozen_signal + grid.approximation_signal;
    double S = grid.frozen_signal;
    for (std::size_t i = 0; i < n; ++i)
        S += weight[i] * ee[i];
    const double risk0 = 0.5 * (S + grid.approximation_signal);
    const double risk_limit = o.divergence_factor * risk0;

    const std::vector<std::int64_t> record = record_steps(o, total);
    Curve curve;
    curve.grid_points = static_cast<std::int64_t>(n);
    curve.step.reserve(record.size());
    curve.risk.reserve(record.size());
    curve.risk_ewa.reserve(record.size());

    const StepKernel kernel = select_step_kernel();
    const double inv_batch = 1.0 / static_cast<double>(o.batch);
    const bool ewa = o.average == Average::ewa;
    const double log_tau = o.ewa_decay > 0.0 ? std::log(o.ewa_decay) : 0.0;
    std::size_t next = 0;
    double previous_risk_ewa = risk0;
    for (std::int64_t t = 0; t < total && next < record.size(); ++t) {
        // The average's decay: constant for EWA, 1 - 1/(count) for uniform and tail averages.
        const StepParams params{learning_rate(o, t, total), o.momentum, o.average_decay(t),
                                inv_batch, (S + sigma_eff2) * inv_batch};
        const StepSums sums = kernel(n, points, moments, params);
        S = sums.s + grid.frozen_signal;
        const std::int64_t step = t + 1;
        const double risk = 0.5 * (sums.s + constant_signal);
        if (!std::isfinite(risk) || risk > risk_limit) {
            curve.diverged = true;
            curve.diverged_step = step;
            break;
        }
        const bool tracking = o.target_risk > 0.0;
        if (step != record[next] && !tracking) continue;
        // EWA bias correction 1 / (1 - tau^t); frozen coordinates' corrected EWA is their e_0.
        // Uniform and tail averages are means (weights summing to 1): no correction.
        const double correction =
            ewa && o.ewa_decay > 0.0 ? -std::expm1(static_cast<double>(step) * log_tau) : 1.0;
        const double risk_ewa = 0.5 * (sums.h / (correction * correction) + constant_signal);
        const bool reached = tracking && risk_ewa <= o.target_risk;
        if (tracking) {
            if (reached) {
                curve.target_step = step;
                curve.target_step_interp = static_cast<double>(step);
                if (step > 1 && previous_risk_ewa > o.target_risk) // crossing inside (step-1, step]
                    curve.target_step_interp = step - std::log(o.target_risk / risk_ewa) /
                                                          std::log(previous_risk_ewa / risk_ewa);
            }
            previous_risk_ewa = risk_ewa;
            if (step != record[next] && !reached) continue;
        }
        curve.step.push_back(step);
        curve.samples.push_back(step * o.batch);
        curve.risk.push_back(risk);
        curve.risk_ewa.push_back(risk_ewa);
        if (step == record[next]) ++next;
        if (reached) break; // the run's job is done: the curve ends at the target
    }
    return curve;
}

} // namespace cbs::sim
