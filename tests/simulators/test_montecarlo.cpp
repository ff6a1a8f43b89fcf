// Monte Carlo SGD against closed forms derived here (not from the recursion), plus determinism,
// standard-error scaling and divergence handling.
#include "simulators/montecarlo.hpp"
#include "simulators/record_steps.hpp"
#include "simulators/schedule.hpp"
#include "theory/tail_sums.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <omp.h>
#include <vector>

using cbs::sim::Curve;
using cbs::sim::SimOptions;
using cbs::sim::simulate_montecarlo;

namespace {
SimOptions base() {
    SimOptions o;
    o.simulator = cbs::sim::SimulatorKind::montecarlo;
    o.a = 2.0;
    o.b = 3.0;
    o.sigma2 = 0.5;
    o.model_size = 8;
    o.batch = 4;
    o.lr = 0.3;
    o.momentum = 0.0;
    o.ewa_decay = 0.9;
    o.steps = 300;
    o.record_points = 30;
    o.mc_seeds = 64;
    o.seed = 7;
    return o;
}

/// Restores the OpenMP thread count on scope exit, so a failing test does not leak its setting.
struct ThreadCount {
    int saved = omp_get_max_threads();
    explicit ThreadCount(int n) { omp_set_num_threads(n); }
    ~ThreadCount() { omp_set_num_threads(saved); }
};

Curve run_with_threads(const SimOptions& o, int threads) {
    const ThreadCount guard(threads);
    return simulate_montecarlo(o);
}

void require_identical(const Curve& x, const Curve& y) {
    REQUIRE(x.step == y.step);
    REQUIRE(x.samples == y.samples);
    REQUIRE(x.risk == y.risk); // bit-identical doubles
    REQUIRE(x.risk_ewa == y.risk_ewa);
    REQUIRE(x.risk_se == y.risk_se);
    REQUIRE(x.risk_ewa_se == y.risk_ewa_se);
    REQUIRE(x.diverged == y.diverged);
    REQUIRE(x.diverged_step == y.diverged_step);
}

/// Exact expected risks of the same SGD, derived independently of the simulators for small M:
/// per coordinate the second moments of u = (e, m, h) (h: un-corrected EWA of e) evolve as
///   m' = beta m + lambda e + zeta,  e' = e - eta_i m',  h' = tau h + (1 - tau) e',
/// with E[zeta_i^2] = (lambda_i^2 E[e_i^2] + lambda_i S + lambda_i sigma_eff2) / B from the
/// Gaussian identity E[x x^T A x x^T] = 2 H A H + tr(HA) H, and S = sum_j lambda_j E[e_j^2].
struct ExactCurve {
    std::vector<double> risk, risk_ewa; // at record_steps()
};

ExactCurve exact_moments(const SimOptions& o) {
    const int M = static_cast<int>(o.model_size);
    const double tail = cbs::theory::power_tail_sum(o.b, o.model_size + 1.0);
    const double sigma_eff2 = o.sigma2 + tail;
    const double beta = o.momentum, tau = o.ewa_decay, B = static_cast<double>(o.batch);
    std::vector<double> lambda(M);
    std::vector<Eigen::Matrix3d> C(M);
    for (int k = 0; k < M; ++k) {
        const double i = k + 1.0;
        lambda[k] = std::pow(i, -o.a);
        C[k].setZero();
        C[k](0, 0) = std::pow(i, o.a - o.b); // e_0 = -w*
    }
    const std::int64_t total = o.total_steps();
    const std::vector<std::int64_t> record = cbs::sim::record_steps(o, total);
    ExactCurve out;
    std::size_t next = 0;
    for (std::int64_t t = 0; t < total && next < record.size(); ++t) {
        double S = 0.0;
        for (int k = 0; k < M; ++k)
            S += lambda[k] * C[k](0, 0);
        const double eta = cbs::sim::learning_rate(o, t, total);
        for (int k = 0; k < M; ++k) {
            const double l = lambda[k];
            const double eta_i = eta * std::pow(l, -o.precond_power);
            Eigen::Matrix3d A;
            A << 1 - eta_i * l, -eta_i * beta, 0, //
                l, beta, 0,                       //
                (1 - tau) * (1 - eta_i * l), -(1 - tau) * eta_i * beta, tau;
            const Eigen::Vector3d c(-eta_i, 1.0, -(1 - tau) * eta_i);
            const double q = (l * l * C[k](0, 0) + l * S + l * sigma_eff2) / B;
            C[k] = (A * C[k] * A.transpose() + c * c.transpose() * q).eval();
        }
        const std::int64_t step = t + 1;
        if (step != record[next]) continue;
        const double corr = 1.0 - std::pow(tau, static_cast<double>(step));
        double r = 0.0, r_ewa = 0.0;
        for (int k = 0; k < M; ++k) {
            r += 0.5 * lambda[k] * C[k](0, 0);
            r_ewa += 0.5 * lambda[k] * C[k](2, 2) / (corr * corr);
        }
        out.risk.push_back(r + 0.5 * tail);
        out.risk_ewa.push_back(r_ewa + 0.5 * tail);
        ++next;
    }
    return out;
}

/// Largest |mc - reference| / se over the curve.
double max_z(const std::vector<double>& mc, const std::vector<double>& se,
             const std::vector<double>& reference) {
    REQUIRE(mc.size() == reference.size());
    REQUIRE(se.size() == reference.size());
    double worst = 0.0;
    for (std::size_t j = 0; j < mc.size(); ++j) {
        REQUIRE(se[j] > 0.0);
        worst = std::max(worst, std::abs(mc[j] - reference[j]) / se[j]);
    }
    return worst;
}
} // namespace

TEST_CASE("montecarlo is deterministic and independent of the thread count", "[montecarlo]") {
    SimOptions o = base();
    o.momentum = 0.5;
    o.precond_power = 0.25;
    o.schedule = cbs::sim::Schedule::cosine;
    o.warmup_fraction = 0.1;
    o.mc_seeds = 24;
    const Curve one = run_with_threads(o, 1);
    const Curve again = run_with_threads(o, 1);
    const Curve two = run_with_threads(o, 2);
    REQUIRE(!one.step.empty());
    REQUIRE(one.step.back() == o.total_steps());
    REQUIRE_FALSE(one.diverged);
    REQUIRE(one.diverged_step == -1);
    for (std::size_t j = 0; j < one.step.size(); ++j)
        REQUIRE(one.samples[j] == one.step[j] * o.batch);
    require_identical(one, again);
    require_identical(one, two);

    // The seed matters: another base seed gives other (but statistically equal) curves.
    o.seed += 1;
    const Curve other = run_with_threads(o, 2);
    REQUIRE(other.step == one.step);
    REQUIRE(other.risk != one.risk);
}

TEST_CASE("montecarlo plain SGD on one coordinate matches the closed-form second moment",
          "[montecarlo]") {
    // M = 1, lambda = 1, w* = 1, plain SGD, constant eta. With g = (1/B) sum_j x_j (x_j e - eps_j)
    // and E[x^4] = 3 lambda^2:
    //   E[e_{t+1}^2] = ((1 - eta lambda)^2 + 2 eta^2 lambda^2 / B) E[e_t^2]
    //                  + eta^2 lambda sigma_eff2 / B,
    // with sigma_eff2 = sigma2 + sum_{i>1} i^-b. B = 2 and eta = 0.4 make the fourth-moment term
    // (0.16) comparable to the contraction (0.36), so the check has power to see it.
    SimOptions o = base();
    o.model_size = 1;
    o.batch = 2;
    o.lr = 0.4;
    o.ewa_decay = 0.0; // EWA = raw weights, exactly
    o.steps = 60;
    o.record_points = 20;
    o.mc_seeds = 4000;
    const Curve c = simulate_montecarlo(o);
    REQUIRE(c.step == cbs::sim::record_steps(o, 60));
    REQUIRE(c.risk_ewa == c.risk); // tau = 0: the corrected EWA weights are the weights

    const double tail = cbs::theory::power_tail_sum(o.b, 2.0);
    const double sigma_eff2 = o.sigma2 + tail;
    const double eta = o.lr, B = static_cast<double>(o.batch);
    auto closed_form = [&](double fourth_moment_factor) {
        std::vector<double> risk;
        double e2 = 1.0; // e_0 = -w* = -1
        for (std::int64_t step = 1; step <= 60; ++step) {
            e2 = ((1 - eta) * (1 - eta) + fourth_moment_factor * eta * eta / B) * e2 +
                 eta * eta * sigma_eff2 / B;
            if (std::find(c.step.begin(), c.step.end(), step) != c.step.end())
                risk.push_back(0.5 * e2 + 0.5 * tail);
        }
        return risk;
    };
    // ~20 correlated points at a fixed seed: 4 standard errors is a ~6e-5 false-alarm rate per
    // point for a Gaussian mean (the SE itself is estimated from 4000 runs, ~2% accurate).
    CHECK(max_z(c.risk, c.risk_se, closed_form(2.0)) < 4.0);
    // Power: the formula with a wrong fourth moment (E[x^4] = lambda^2, factor 0) is rejected.
    CHECK(max_z(c.risk, c.risk_se, closed_form(0.0)) > 10.0);
}

TEST_CASE("montecarlo with momentum, EWA, preconditioning and a schedule matches exact moments",
          "[montecarlo]") {
    // Every branch at once, against the second-moment dynamics derived above for M = 4.
    SimOptions o = base();
    o.model_size = 4;
    o.batch = 3;
    o.lr = 0.2;
    o.momentum = 0.6;
    o.ewa_decay = 0.95;
    o.precond_power = 0.3;
    o.schedule = cbs::sim::Schedule::cosine;
    o.warmup_fraction = 0.1;
    o.final_lr_fraction = 0.1;
    o.steps = 200;
    o.record_points = 30;
    o.mc_seeds = 3000;
    const Curve c = simulate_montecarlo(o);
    const ExactCurve exact = exact_moments(o);
    REQUIRE(c.step == cbs::sim::record_steps(o, o.total_steps()));
    REQUIRE_FALSE(c.diverged);
    // ~60 correlated comparisons at a fixed seed; 4.5 standard errors keeps the false-alarm rate
    // well below 1e-3 for the whole test while a bias of a few percent is still caught.
    CHECK(max_z(c.risk, c.risk_se, exact.risk) < 4.5);
    CHECK(max_z(c.risk_ewa, c.risk_ewa_se, exact.risk_ewa) < 4.5);
    // The EWA averages out gradient noise: at the end it beats the raw weights, as predicted.
    REQUIRE(exact.risk_ewa.back() < exact.risk.back());
    CHECK(c.risk_ewa.back() < c.risk.back());
}

TEST_CASE("montecarlo standard error shrinks like 1/sqrt(runs)", "[montecarlo]") {
    SimOptions o = base();
    o.steps = 200;
    o.record_points = 20;
    o.mc_seeds = 250;
    const Curve few = simulate_montecarlo(o);
    o.mc_seeds = 1000;
    const Curve many = simulate_montecarlo(o);
    REQUIRE(few.step == many.step);
    // Four times the runs: SE ratio 1/2, up to the sampling error of the SE estimates themselves
    // (~ sqrt(kurtosis / n) relative), averaged over the recorded steps.
    double ratio = 0.0, ratio_ewa = 0.0;
    for (std::size_t j = 0; j < few.step.size(); ++j) {
        ratio += many.risk_se[j] / few.risk_se[j];
        ratio_ewa += many.risk_ewa_se[j] / few.risk_ewa_se[j];
    }
    ratio /= static_cast<double>(few.step.size());
    ratio_ewa /= static_cast<double>(few.step.size());
    CHECK(ratio > 0.4);
    CHECK(ratio < 0.6);
    CHECK(ratio_ewa > 0.4);
    CHECK(ratio_ewa < 0.6);
}

TEST_CASE("montecarlo flags divergence and keeps only the steps before it", "[montecarlo]") {
    SECTION("huge learning rate") {
        SimOptions o = base();
        o.lr = 50.0;
        o.steps = 100000; // must stop early, not run (or hang) to the end
        o.mc_seeds = 16;
        const Curve c = run_with_threads(o, 2);
        REQUIRE(c.diverged);
        REQUIRE(c.diverged_step >= 1);
        REQUIRE(c.diverged_step < 20); // risk grows ~ (eta lambda_1)^2 per step
        for (std::size_t j = 0; j < c.step.size(); ++j) {
            REQUIRE(c.step[j] < c.diverged_step);
            REQUIRE(std::isfinite(c.risk[j]));
            REQUIRE(std::isfinite(c.risk_ewa[j]));
            REQUIRE(std::isfinite(c.risk_se[j]));
            REQUIRE(std::isfinite(c.risk_ewa_se[j]));
        }
        require_identical(c, run_with_threads(o, 1));
    }
    SECTION("slowly growing risk: every step before the divergence is recorded") {
        // lambda_1 = 1, eta = 2.3: |1 - eta| = 1.3 > 1, so E[e^2] grows ~1.7x per step and crosses
        // divergence_factor * R_0 = 1e6 R_0 within a few dozen steps (13 at this seed).
        SimOptions o = base();
        o.lr = 2.3;
        o.steps = 5000;
        o.record_mode = cbs::sim::RecordMode::all;
        o.mc_seeds = 16;
        const Curve c = run_with_threads(o, 2);
        REQUIRE(c.diverged);
        REQUIRE(c.diverged_step > 5);
        REQUIRE(c.diverged_step < 100);
        REQUIRE(c.step.size() == static_cast<std::size_t>(c.diverged_step - 1));
        // Before the earliest divergence every run's risk is <= divergence_factor * R_0, with
        // R_0 = 1/2 sum_i i^-b (w = 0, learned and tail coordinates), so the mean is too.
        const double risk0 = 0.5 * cbs::theory::power_tail_sum(o.b, 1.0);
        for (std::size_t j = 0; j < c.step.size(); ++j) {
            REQUIRE(c.step[j] == static_cast<std::int64_t>(j) + 1);
            REQUIRE(std::isfinite(c.risk[j]));
            REQUIRE(c.risk[j] <= o.divergence_factor * risk0);
        }
        REQUIRE(c.risk.back() > 1e3 * risk0); // it was indeed growing, towards the bound
        require_identical(c, run_with_threads(o, 1));
    }
    SECTION("a stable run is not flagged") {
        SimOptions o = base();
        const Curve c = simulate_montecarlo(o);
        REQUIRE_FALSE(c.diverged);
        REQUIRE(c.diverged_step == -1);
        REQUIRE(c.step == cbs::sim::record_steps(o, o.total_steps()));
    }
}
