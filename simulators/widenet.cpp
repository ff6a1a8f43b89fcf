// Curves of the wide-network simulator (contract in widenet.hpp). The networks advance in
// lockstep from one recorded step to the next (OpenMP over networks inside each segment), so the
// network-averaged risk is known at every recorded step and a target can stop the run early.
#include "simulators/widenet.hpp"

#include "simulators/record_steps.hpp"
#include "simulators/widenet_task.hpp"
#include "simulators/widenet_trainer.hpp"
#include "theory/check.hpp"

#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <vector>

namespace cbs::sim {

namespace {

struct Stats {
    double mean = 0.0;
    double se = 0.0;
};

/// Network-averaged held-out risk and its standard error (widenet.hpp) from per-network,
/// per-point losses losses[s * n + j].
Stats combine(const std::vector<double>& losses, std::size_t networks, std::size_t n) {
    std::vector<double> per_network(networks, 0.0);
    std::vector<double> per_point(n, 0.0);
    for (std::size_t s = 0; s < networks; ++s)
        for (std::size_t j = 0; j < n; ++j) {
            per_network[s] += losses[s * n + j];
            per_point[j] += losses[s * n + j];
        }
    double mean = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        per_point[j] /= static_cast<double>(networks);
        mean += per_point[j];
    }
    mean /= static_cast<double>(n);
    double point_var = 0.0;
    for (double v : per_point)
        point_var += (v - mean) * (v - mean);
    point_var /= static_cast<double>(n - 1);
    double var = point_var / static_cast<double>(n);
    if (networks >= 2) {
        double network_var = 0.0;
        for (double& r : per_network) {
            r /= static_cast<double>(n);
            network_var += (r - mean) * (r - mean);
        }
        var += network_var / static_cast<double>(networks - 1) / static_cast<double>(networks);
    }
    return {mean, std::sqrt(var)};
}

} // namespace

Curve simulate_widenet(const SimOptions& o) {
    CBS_CHECK(o.simulator == SimulatorKind::widenet, "simulator = ", to_string(o.simulator));
    using Trainer = net::Trainer<float>;
    const net::Task task(o);
    const net::HeldOut<float> held = net::make_held_out<float>(task, o);
    const std::int64_t total = o.total_steps();
    const std::vector<std::int64_t> record = record_steps(o, total);
    const auto networks = static_cast<std::size_t>(o.net.seeds);
    const auto n = static_cast<std::size_t>(o.net.eval_samples);
    const double loss_limit = o.divergence_factor * (held.zero_risk + 0.5 * o.sigma2);
    const double risk_limit = o.divergence_factor * held.zero_risk;
    constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

    std::vector<std::unique_ptr<Trainer>> nets(networks);
    std::vector<double> raw(networks * n), ewa(networks * n); // (networks x n), row-major
    std::vector<std::int64_t> diverged_at(networks, never);
    Curve curve;
    for (std::size_t r = 0; r < record.size(); ++r) {
        const std::int64_t until = record[r];
        std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic)
        for (std::size_t s = 0; s < networks; ++s) {
            try {
                if (!nets[s]) nets[s] = std::make_unique<Trainer>(o, task, s);
                Trainer& net = *nets[s];
                while (net.steps_done() < until) {
                    const double loss = net.step(total);
                    if (!std::isfinite(loss) || loss > loss_limit) {
                        diverged_at[s] = net.steps_done();
                        break;
                    }
                }
                if (diverged_at[s] == never) {
                    net.losses(net.weights(), held.X, held.y, raw.data() + s * n);
                    net.losses(net.ewa_weights(), held.X, held.y, ewa.data() + s * n);
                }
            } catch (...) {
#pragma omp critical(widenet_failure)
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);

        std::int64_t first = never;
        for (std::int64_t d : diverged_at)
            first = std::min(first, d);
        Stats risk, risk_ewa;
        if (first == never) {
            risk = combine(raw, networks, n);
            risk_ewa = combine(ewa, networks, n);
            if (!std::isfinite(risk.mean) || !std::isfinite(risk_ewa.mean) ||
                risk.mean > risk_limit)
                first = until;
        }
        if (first != never) {
            curve.diverged = true;
            curve.diverged_step = first;
            break;
        }
        curve.step.push_back(until);
        curve.samples.push_back(until * o.batch);
        curve.risk.push_back(risk.mean);
        curve.risk_ewa.push_back(risk_ewa.mean);
        curve.risk_se.push_back(risk.se);
        curve.risk_ewa_se.push_back(risk_ewa.se);

        if (o.target_risk > 0.0 && risk_ewa.mean <= o.target_risk) {
            curve.target_step = until;
            curve.target_step_interp = static_cast<double>(until);
            const std::size_t k = curve.step.size();
            if (k >= 2 && curve.risk_ewa[k - 2] > o.target_risk && risk_ewa.mean > 0.0) {
                const double t0 = std::log(static_cast<double>(curve.step[k - 2]));
                const double t1 = std::log(static_cast<double>(until));
                const double r0 = std::log(curve.risk_ewa[k - 2]);
                const double r1 = std::log(risk_ewa.mean);
                const double frac = (r0 - std::log(o.target_risk)) / (r0 - r1);
                curve.target_step_interp = std::exp(t0 + frac * (t1 - t0));
            }
            break;
        }
    }
    return curve;
}

} // namespace cbs::sim
