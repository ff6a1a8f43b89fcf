// The exact recursion against closed forms and against itself under refinement.
#include "simulators/recursion.hpp"
#include "theory/tail_sums.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using cbs::sim::Curve;
using cbs::sim::SimOptions;
using cbs::sim::simulate_recursion;

namespace {
SimOptions base() {
    SimOptions o;
    o.a = 2.0;
    o.b = 3.0;
    o.sigma2 = 0.5;
    o.batch = 8;
    o.lr = 0.3;
    o.steps = 2000;
    o.record_points = 40;
    return o;
}

double max_relative_difference(const Curve& x, const Curve& y) {
    REQUIRE(x.step == y.step);
    double worst = 0.0;
    for (std::size_t i = 0; i < x.step.size(); ++i) {
        worst = std::max(worst, std::abs(x.risk[i] - y.risk[i]) / std::abs(y.risk[i]));
        worst = std::max(worst, std::abs(x.risk_ewa[i] - y.risk_ewa[i]) / std::abs(y.risk_ewa[i]));
    }
    return worst;
}
} // namespace

TEST_CASE("one coordinate without gradient noise decays like deterministic heavy-ball + EWA",
          "[recursion]") {
    // M = 1 and an enormous batch remove the gradient noise (q ~ 1/B), so E[e^2] = e_t^2 of the
    // deterministic scalar iteration, computed here independently (plain SGD: (1-eta)^(2t)).
    // b = 60 makes the approximation error (~2^-61) tiny next to the curve, so subtracting it
    // keeps ~1e-11 relative precision over the 100 steps checked.
    for (double beta : {0.0, 0.6}) {
        SimOptions o = base();
        o.b = 60.0;
        o.model_size = 1;
        o.sigma2 = 0.0;
        o.batch = std::int64_t{1} << 52;
        o.lr = 0.05;
        o.momentum = beta;
        o.ewa_decay = 0.9;
        o.steps = 100;
        o.record_mode = cbs::sim::RecordMode::all;
        const Curve c = simulate_recursion(o);
        REQUIRE(c.step.size() == 100);
        const double approx = 0.5 * cbs::theory::power_tail_sum(o.b, 2.0);
        double e = -1.0, m = 0.0, h = 0.0; // lambda_1 = 1, w*_1 = 1, w_0 = 0
        for (int t = 1; t <= 100; ++t) {
            m = beta * m + e;
            e = e - o.lr * m;
            h = o.ewa_decay * h + (1 - o.ewa_decay) * e;
            const double corrected = h / (1.0 - std::pow(o.ewa_decay, t));
            CHECK(c.risk[t - 1] - approx == Approx(0.5 * e * e).epsilon(1e-9));
            CHECK(c.risk_ewa[t - 1] - approx == Approx(0.5 * corrected * corrected).epsilon(1e-9));
        }
        if (beta == 0.0)
            CHECK(c.risk[99] - approx == Approx(0.5 * std::pow(1 - o.lr, 200)).epsilon(1e-9));
    }
}

TEST_CASE("constant-LR SGD converges to its noise-floor fixed point", "[recursion]") {
    // Stationary point of THEORY.md's map for plain SGD: per coordinate
    //   E_i = eta^2 lambda_i (S + s2) / B / (1 - (1 - eta lambda_i)^2 - eta^2 lambda_i^2 / B),
    // and S = sum lambda_i E_i gives S = s2 K / (1 - K) with K = sum_i eta^2 lambda_i^2 / B / D_i.
    SimOptions o = base();
    o.model_size = 50;
    o.sigma2 = 0.7;
    o.batch = 4;
    o.lr = 0.4;
    o.steps = 20000;
    o.ewa_decay = 0.0;
    const double s2 = o.sigma2 + cbs::theory::power_tail_sum(o.b, 51.0);
    double K = 0.0;
    for (int i = 1; i <= 50; ++i) {
        const double lam = std::pow(i, -o.a);
        const double D = 1.0 - std::pow(1.0 - o.lr * lam, 2) - o.lr * o.lr * lam * lam / o.batch;
        K += o.lr * o.lr * lam * lam / o.batch / D;
    }
    const double S = s2 * K / (1.0 - K);
    const double floor = 0.5 * S + 0.5 * cbs::theory::power_tail_sum(o.b, 51.0);
    const Curve c = simulate_recursion(o);
    // Slowest mode (lambda_50 = 4e-4) decays like (1 - 1.6e-4)^(2t): e^-6.4 after 2e4 steps of
    // signal ~50^-3; the remaining transient is < 1e-7 relative.
    CHECK(c.risk.back() == Approx(floor).epsilon(1e-6));
    CHECK(c.risk_ewa.back() == Approx(c.risk.back()).epsilon(1e-15)); // tau = 0: EWA = raw
}

TEST_CASE("infinite-dimensional risk curve is converged in the quadrature", "[recursion]") {
    // Refining every quadrature choice (2x nodes per decade, 10x the frozen cut-off, 2x the exact
    // head) must change the curve by less than the requested tolerance.
    SimOptions plain = base();
    SimOptions momentum_ewa = base();
    momentum_ewa.momentum = 0.8;
    momentum_ewa.lr = 0.06;
    momentum_ewa.ewa_decay = 0.995;
    SimOptions precond_cosine = base();
    precond_cosine.precond_power = 0.3;
    precond_cosine.lr = 0.1;
    precond_cosine.schedule = cbs::sim::Schedule::cosine;
    precond_cosine.warmup_fraction = 0.1;
    SimOptions long_run = base();
    long_run.steps = 100000;
    long_run.a = 1.5;
    long_run.b = 2.5;
    for (const SimOptions& o : {plain, momentum_ewa, precond_cosine, long_run}) {
        for (double tol : {1e-4, 1e-6, 1e-8}) {
            SimOptions ot = o;
            ot.tolerance = tol;
            const Curve ref = simulate_recursion(ot);
            REQUIRE_FALSE(ref.diverged);
            cbs::theory::QuadratureOptions q = cbs::sim::default_quadrature(ot);
            cbs::theory::QuadratureOptions more_nodes = q, more_cutoff = q, more_head = q;
            more_nodes.nodes_per_decade = 2 * cbs::theory::auto_nodes_per_decade(tol);
            more_cutoff.cutoff_scale = 10.0;
            more_head.head = 2 * cbs::theory::auto_head(ot.a, tol);
            INFO("a = " << ot.a << ", momentum = " << ot.momentum << ", p = " << ot.precond_power
                        << ", tol = " << tol);
            CHECK(max_relative_difference(simulate_recursion(ot, more_nodes), ref) < tol);
            CHECK(max_relative_difference(simulate_recursion(ot, more_cutoff), ref) < tol);
            CHECK(max_relative_difference(simulate_recursion(ot, more_head), ref) < tol);
        }
    }
}

TEST_CASE("a diverging run is stopped and marked, not crashed", "[recursion]") {
    SimOptions o = base();
    o.lr = 5.0; // > 2 / lambda_1
    o.steps = 100000;
    const Curve c = simulate_recursion(o);
    CHECK(c.diverged);
    CHECK(c.diverged_step > 0);
    CHECK(c.diverged_step < 200);
    for (std::size_t i = 0; i < c.step.size(); ++i) {
        CHECK(c.step[i] < c.diverged_step);
        CHECK(std::isfinite(c.risk[i]));
    }
    SimOptions stable = base();
    CHECK_FALSE(simulate_recursion(stable).diverged);
}

TEST_CASE("recorded steps and samples follow the record options", "[recursion]") {
    SimOptions o = base();
    o.steps = 1000;
    o.record_points = 20;
    o.record_every = 250;
    const Curve c = simulate_recursion(o);
    REQUIRE(c.step.size() >= 20);
    CHECK(c.step.front() == 1);
    CHECK(c.step.back() == 1000);
    for (std::int64_t k : {250, 500, 750})
        CHECK(std::count(c.step.begin(), c.step.end(), k) == 1);
    for (std::size_t i = 0; i < c.step.size(); ++i)
        CHECK(c.samples[i] == c.step[i] * o.batch);
    SimOptions by_samples = base();
    by_samples.samples = 1001;
    by_samples.batch = 10;
    CHECK(simulate_recursion(by_samples).step.back() == 101);
}

TEST_CASE("target tracking stops at the first step whose EWA risk reaches the target",
          "[recursion]") {
    SimOptions o = base();
    o.steps = 3000;
    o.record_mode = cbs::sim::RecordMode::all;
    const Curve full = simulate_recursion(o);
    const double target = full.risk_ewa[700]; // reached first at step 701 (EWA risk decreasing)
    std::int64_t first = -1;
    for (std::size_t i = 0; i < full.step.size() && first < 0; ++i)
        if (full.risk_ewa[i] <= target) first = full.step[i];
    REQUIRE(first > 1);

    SimOptions t = o;
    t.record_mode = cbs::sim::RecordMode::log;
    t.record_points = 10;
    t.target_risk = target;
    const Curve c = simulate_recursion(t);
    CHECK(c.target_step == first);
    CHECK(c.step.back() == first); // the run ends there
    CHECK(c.risk_ewa.back() == Approx(target).epsilon(1e-14));
    CHECK(c.target_step_interp > first - 1);
    CHECK(c.target_step_interp <= first);

    t.target_risk = 1e-9; // unreachable
    const Curve never = simulate_recursion(t);
    CHECK(never.target_step == -1);
    CHECK(never.step.back() == 3000);
}

TEST_CASE("data.samples with a horizon runs past the budget and records the budget step",
          "[recursion]") {
    SimOptions o = base();
    o.samples = 10000;
    o.batch = 16;
    o.horizon = 3.0;
    o.record_points = 10;
    const Curve c = simulate_recursion(o);
    CHECK(o.budget_steps() == 625);
    CHECK(c.step.back() == 1875);
    CHECK(std::count(c.step.begin(), c.step.end(), 625) == 1);
}

namespace {
/// Closed form of E[h_t^2] for one coordinate (lambda = 1, e_0 = -1) of plain SGD with batch B,
/// step eta and noise variance sigma2, where h_t is the mean of the iterates e_s, lo < s <= t.
/// Derived independently of the recursion's state: v_s = E[e_s^2] obeys v_{s+1} = rho v_s +
/// eta^2 sigma2 / B with rho = (1-eta)^2 + 2 eta^2 / B (the noise (lambda^2 e^2 + lambda S +
/// lambda sigma2) / B with S = e^2), so v_s = A rho^s + v_inf; the noise after step s is
/// independent of e_s, so E[e_s e_r] = alpha^(r-s) v_s for r >= s with alpha = 1 - eta, and
///   t'^2 E[h^2] = sum_s v_s (1 + 2 sum_{r=s+1..t} alpha^(r-s))
///              = sum_s v_s ((1+alpha)/(1-alpha) - 2 alpha^(t-s+1)/(1-alpha)),  t' = t - lo,
/// whose geometric sums are summed in closed form below.
double mean_iterate_second_moment(double eta, double B, double sigma2, int lo, int t) {
    const double alpha = 1.0 - eta;
    const double rho = alpha * alpha + 2.0 * eta * eta / B;
    const double v_inf = eta * eta * sigma2 / B / (1.0 - rho);
    const double A = 1.0 - v_inf; // v_0 = e_0^2 = 1
    const int n = t - lo;
    // sum_{s=lo+1..t} rho^s, and sum_s rho^s alpha^(t+1-s) and sum_s alpha^(t+1-s).
    const double sum_rho = std::pow(rho, lo + 1) * (1.0 - std::pow(rho, n)) / (1.0 - rho);
    const double sum_rho_alpha =
        std::pow(rho, lo + 1) * alpha * (std::pow(rho, n) - std::pow(alpha, n)) / (rho - alpha);
    const double sum_alpha = alpha * (1.0 - std::pow(alpha, n)) / (1.0 - alpha);
    const double K = (1.0 + alpha) / (1.0 - alpha);
    const double total = A * K * sum_rho + v_inf * K * n -
                         2.0 / (1.0 - alpha) * (A * sum_rho_alpha + v_inf * sum_alpha);
    return total / (static_cast<double>(n) * n);
}
} // namespace

TEST_CASE("uniform and tail averages of one noisy coordinate match their closed forms",
          "[recursion][average]") {
    // M = 1: lambda_1 = 1, w*_1 = 1; b = 60 makes the approximation error (~2^-61) negligible.
    // The recursion is exact, so the only differences are rounding (~1e-13); 1e-9 relative is far
    // tighter than the 1e-3 the averages are required to meet, and a wrong weight (1/(t+1) for
    // 1/t, a window off by one step, an EWA-style bias correction) misses by > 1e-3.
    SimOptions o = base();
    o.b = 60.0;
    o.model_size = 1;
    o.sigma2 = 0.5;
    o.batch = 2;
    o.lr = 0.3;
    o.steps = 120;
    o.record_mode = cbs::sim::RecordMode::all;
    const double approx = 0.5 * cbs::theory::power_tail_sum(o.b, 2.0);
    SECTION("uniform: mean of w_1..w_t") {
        o.average = cbs::sim::Average::uniform;
        const Curve c = simulate_recursion(o);
        REQUIRE(c.step.size() == 120);
        for (int t = 1; t <= 120; ++t) {
            INFO("step " << t);
            const double expected = 0.5 * mean_iterate_second_moment(o.lr, 2.0, o.sigma2, 0, t);
            CHECK(c.risk_ewa[t - 1] - approx == Approx(expected).epsilon(1e-9));
        }
        // The average lags the iterate early on and beats its noise floor late.
        CHECK(c.risk_ewa[9] > 1.5 * c.risk[9]);
        CHECK(c.risk_ewa[119] < 0.5 * c.risk[119]);
    }
    SECTION("tail: the current iterate, then the mean after floor((1 - f) * steps)") {
        o.average = cbs::sim::Average::tail;
        o.tail_fraction = 0.3; // window start floor(0.7 * 120) = 84
        REQUIRE(o.average_start() == 84);
        const Curve c = simulate_recursion(o);
        REQUIRE(c.step.size() == 120);
        for (int t = 1; t <= 120; ++t) {
            INFO("step " << t);
            if (t <= 84) {
                CHECK(c.risk_ewa[t - 1] == c.risk[t - 1]);
                continue;
            }
            const double expected = 0.5 * mean_iterate_second_moment(o.lr, 2.0, o.sigma2, 84, t);
            CHECK(c.risk_ewa[t - 1] - approx == Approx(expected).epsilon(1e-9));
        }
    }
}

TEST_CASE("the tail window follows the data budget, tail_fraction = 1 is the uniform average",
          "[recursion][average]") {
    SimOptions o = base();
    o.average = cbs::sim::Average::tail;
    o.samples = 1000;
    o.batch = 8; // budget ceil(1000 / 8) = 125 steps
    o.horizon = 4.0;
    o.tail_fraction = 0.5;
    CHECK(o.average_start() == 62); // floor(0.5 * 125), not of the 500 steps run
    CHECK(o.average_decay(61) == 0.0);
    CHECK(o.average_decay(62) == 0.0); // h_63 = e_63: the first iterate of the window
    CHECK(o.average_decay(63) == 0.5); // h_64 = (e_63 + e_64) / 2
    CHECK(o.average_decay(72) == 10.0 / 11.0);
    o.tail_fraction = 1.0;
    o.horizon = 1.0;
    o.record_points = 30;
    SimOptions uniform = o;
    uniform.average = cbs::sim::Average::uniform;
    const Curve tail = simulate_recursion(o);
    const Curve mean = simulate_recursion(uniform);
    REQUIRE(tail.step == mean.step);
    CHECK(tail.risk_ewa == mean.risk_ewa);
    // ewa.decay plays no part in the uniform average.
    uniform.ewa_decay = 0.5;
    CHECK(simulate_recursion(uniform).risk_ewa == mean.risk_ewa);
}
