// Wide-network training step vs Eigen's own GEMM at the same shapes (single thread, float).
// A step's matrix work is, per hidden N x N layer, three products of shapes (N x N)(N x B),
// (N x B)(B x N) and (N x N)^T(N x B); the step's rate counts only those FLOPs (plus the thin
// input/output products), so rate / GEMM rate is the fraction of time spent doing useful
// matrix work (the rest: sampling, activations, optimizer update, EWA).
// Usage: bench_widenet [repeats]   (goal: >= 70% of the GEMM rate for width >= 1024)
#include "bench/bench_args.hpp"
#include "simulators/widenet_task.hpp"
#include "simulators/widenet_trainer.hpp"

#include <Eigen/Dense>
#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace cbs::sim;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// GFLOP/s of Eigen's GEMM on the three hidden-layer products of one step (width N, batch B).
double gemm_rate(Eigen::Index N, Eigen::Index B, int repeats) {
    const Eigen::MatrixXf W = Eigen::MatrixXf::Random(N, N);
    const Eigen::MatrixXf X = Eigen::MatrixXf::Random(N, B);
    Eigen::MatrixXf H(N, B), G(N, N), D(N, B);
    H.noalias() = W * X; // warm-up
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) {
        H.noalias() = W * X;
        G.noalias() = H * X.transpose();
        D.noalias() = W.transpose() * H;
    }
    const double t = seconds_since(start);
    return 3.0 * 2.0 * N * N * B * repeats / t * 1e-9;
}

} // namespace

int main(int argc, char** argv) {
    const int repeats = static_cast<int>(cbs::bench::count_argument(
        argc, argv, 20, 100000, "usage: bench_widenet [repeats (default 20)]"));
    Eigen::setNbThreads(1);
    std::printf("bench_widenet: one thread, float, depth 3 (two N x N layers), relu, d = 32\n");
    std::printf("%7s %6s %-5s %-4s %12s %12s %12s %8s\n", "width", "batch", "opt", "ewa", "step ms",
                "step GF/s", "GEMM GF/s", "ratio");
    for (std::int64_t N : {256, 1024, 2048})
        for (std::int64_t B : {64, 256})
            for (Optimizer opt : {Optimizer::sgd, Optimizer::adam})
                for (double tau : {0.0, 0.99}) {
                    SimOptions o;
                    o.simulator = SimulatorKind::widenet;
                    o.net.width = N;
                    o.net.depth = 3;
                    o.net.input_dim = 32;
                    o.net.optimizer = opt;
                    o.batch = B;
                    o.lr = opt == Optimizer::adam ? 1e-4 : 1e-3;
                    o.ewa_decay = tau;
                    o.steps = 1000000;
                    o.validate();
                    const net::Task task(o);
                    net::Trainer<float> trainer(o, task, 0);
                    trainer.step(o.steps); // warm-up (allocations)
                    const auto start = std::chrono::steady_clock::now();
                    for (int r = 0; r < repeats; ++r)
                        trainer.step(o.steps);
                    const double t = seconds_since(start) / repeats;
                    const double step_rate = trainer.gemm_flops_per_step() / t * 1e-9;
                    const double gemm = gemm_rate(N, B, repeats);
                    std::printf("%7lld %6lld %-5s %-4s %12.3f %12.1f %12.1f %7.0f%%\n",
                                static_cast<long long>(N), static_cast<long long>(B),
                                to_string(opt), tau > 0 ? "on" : "off", t * 1e3, step_rate, gemm,
                                100.0 * step_rate / gemm);
                }
    return 0;
}
