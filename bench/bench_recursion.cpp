// Benchmark of the exact risk recursion (not a test): coordinate-steps per second single- and
// multi-threaded, and the cost of the same curve by Monte Carlo SGD at 1% relative accuracy.
// Usage: bench_recursion [steps]   (default 200000 recursion steps)
#include "bench/bench_args.hpp"
#include "simulators/montecarlo.hpp"
#include "simulators/recursion.hpp"
#include "simulators/recursion_kernel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <omp.h>
#include <vector>

using cbs::sim::SimOptions;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

SimOptions momentum_ewa_config(std::int64_t steps) {
    SimOptions o;
    o.a = 2.0;
    o.b = 3.0;
    o.sigma2 = 0.5;
    o.batch = 16;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.ewa_decay = 0.999;
    o.steps = steps;
    o.record_points = 100;
    return o;
}

/// Best of `repeats` timings of one recursion run; returns coordinate-steps per second.
double recursion_rate(const SimOptions& o, const cbs::theory::QuadratureOptions& q, int repeats,
                      std::int64_t* points) {
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        const cbs::sim::Curve c = cbs::sim::simulate_recursion(o, q);
        best = std::min(best, seconds_since(start));
        *points = c.grid_points;
    }
    return static_cast<double>(*points) * static_cast<double>(o.total_steps()) / best;
}

} // namespace

int main(int argc, char** argv) {
    const std::int64_t steps = cbs::bench::count_argument(
        argc, argv, 200000, 1000000000, "usage: bench_recursion [steps (default 200000)]");
    const int threads = omp_get_max_threads();
    std::printf("bench_recursion: kernel %s, %d OpenMP threads available\n",
                cbs::sim::step_kernel_name(), threads);
    std::printf(
        "config: a=2 b=3 sigma2=0.5 B=16 lr=0.05 momentum=0.9 ewa.decay=0.999, %lld steps\n\n",
        static_cast<long long>(steps));

    // 1. Single-threaded, default grid (M = inf, tolerance 1e-6) and larger exact grids.
    std::printf("%-44s %12s %16s\n", "case", "grid points", "coord-steps/s");
    SimOptions o = momentum_ewa_config(steps);
    std::int64_t points = 0;
    const double rate_default = recursion_rate(o, cbs::sim::default_quadrature(o), 3, &points);
    std::printf("%-44s %12lld %16.3e\n", "1 thread, M = inf, tol 1e-6",
                static_cast<long long>(points), rate_default);
    for (const int head : {4096, 65536}) {
        SimOptions big = o;
        big.model_size = head;
        big.steps = std::max<std::int64_t>(1000, steps * 500 / head);
        cbs::theory::QuadratureOptions q = cbs::sim::default_quadrature(big);
        q.head = head;
        const double rate = recursion_rate(big, q, 3, &points);
        char label[64];
        std::snprintf(label, sizeof label, "1 thread, M = %d exact coordinates", head);
        std::printf("%-44s %12lld %16.3e\n", label, static_cast<long long>(points), rate);
    }

    // 2. Multi-threaded: independent runs in parallel (how sweeps use the cores).
    const int runs = 2 * threads;
    const auto start = std::chrono::steady_clock::now();
    std::int64_t total_points = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : total_points)
    for (int r = 0; r < runs; ++r) {
        SimOptions orun = o;
        orun.lr = 0.05 * (1.0 + 0.01 * r);
        total_points += cbs::sim::simulate_recursion(orun).grid_points;
    }
    const double mt_rate =
        static_cast<double>(total_points) * static_cast<double>(steps) / seconds_since(start);
    char label[64];
    std::snprintf(label, sizeof label, "%d threads, %d independent runs", threads, runs);
    std::printf("%-44s %12s %16.3e  (%.3e per thread)\n\n", label, "", mt_rate, mt_rate / threads);

    // 3. Monte Carlo cost of the same curve (finite M so Monte Carlo can run it) at 1% accuracy.
    SimOptions mc = momentum_ewa_config(2000);
    mc.model_size = 256;
    mc.mc_seeds = 64;
    mc.simulator = cbs::sim::SimulatorKind::montecarlo;
    mc.record_points = 30;
    const auto mc_start = std::chrono::steady_clock::now();
    const cbs::sim::Curve mcc = cbs::sim::simulate_montecarlo(mc);
    const double mc_seconds = seconds_since(mc_start);
    double worst_rel_se = 0.0;
    for (std::size_t i = 0; i < mcc.step.size(); ++i)
        worst_rel_se = std::max(
            {worst_rel_se, mcc.risk_se[i] / mcc.risk[i], mcc.risk_ewa_se[i] / mcc.risk_ewa[i]});
    const double seeds_needed = mc.mc_seeds * std::pow(worst_rel_se / 0.01, 2.0);
    const double mc_needed_seconds = mc_seconds * seeds_needed / mc.mc_seeds;
    SimOptions rec = mc;
    rec.simulator = cbs::sim::SimulatorKind::recursion;
    const auto rec_start = std::chrono::steady_clock::now();
    const cbs::sim::Curve recc = cbs::sim::simulate_recursion(rec);
    const double rec_seconds = seconds_since(rec_start);
    std::printf("same curve, M = 256, B = 16, 2000 steps (momentum + EWA):\n");
    std::printf("  recursion (exact, %lld points): %.4f s\n",
                static_cast<long long>(recc.grid_points), rec_seconds);
    std::printf("  Monte Carlo, %lld seeds on %d threads: %.3f s, worst relative SE %.3f\n",
                static_cast<long long>(mc.mc_seeds), threads, mc_seconds, worst_rel_se);
    std::printf("  Monte Carlo at 1%% relative SE: ~%.0f seeds, ~%.1f s (%.0fx the recursion)\n",
                seeds_needed, mc_needed_seconds, mc_needed_seconds / rec_seconds);
    return 0;
}
