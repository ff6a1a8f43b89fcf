// One wide network trained one-pass: initialisation, fresh mini-batches, SGD / heavy-ball / Adam
// with the per-tensor LR multipliers of its parameterization, the LR schedule, and the EWA of the
// weights. The building block of simulate_widenet (curves), the coordinate check and the bench.
//
// Update t (0-based) of `total`, with eta_t = learning_rate(options, t, total) and, per tensor,
// step size eta_t * lr_mult (widenet_model.hpp):
//   g   = gradient of (1/B) sum_j 1/2 (f(x_j) - y_j)^2 on B fresh samples
//   sgd : m <- beta m + g, w <- w - eta m          (PyTorch heavy ball; beta = momentum, 0 = plain)
//   adam: m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2,
//         w <- w - eta (m / (1-b1^(t+1))) / (sqrt(v / (1-b2^(t+1))) + eps)
//   EWA : xi <- tau xi + (1 - tau) w  (xi_0 = 0), read as xi / (1 - tau^(t+1)).
// Randomness: network `stream` of a simulation draws its initial weights from Rng(seed, 2 stream)
// and its batches from Rng(seed, 2 stream + 1), so the batches do not depend on the width. Not
// thread-safe: one trainer per thread.
#pragma once

#include "simulators/sim_options.hpp"
#include "simulators/widenet_model.hpp"
#include "simulators/widenet_rng.hpp"
#include "simulators/widenet_task.hpp"

#include <cstdint>
#include <vector>

namespace cbs::sim::net {

template <typename T>
class Trainer {
public:
    using Matrix = typename Mlp<T>::Matrix;
    using Params = typename Mlp<T>::Params;

    /// Precondition: options.validate() passed; `task` outlives the trainer (options are copied).
    Trainer(const SimOptions& options, const Task& task, std::uint64_t stream);

    /// Update number steps_done() of `total`. Returns the mini-batch loss before the update.
    double step(std::int64_t total);

    std::int64_t steps_done() const { return t_; }
    const Params& weights() const { return theta_; }
    /// Bias-corrected EWA weights after steps_done() updates (the raw weights if none or tau = 0).
    const Params& ewa_weights();
    const Mlp<T>& model() const { return model_; }
    const std::vector<TensorSpec>& specs() const { return specs_; }

    /// out[j] = 1/2 (f(x_j) - y_j)^2 for the columns of X (d x n) with weights p (chunked, so
    /// any n). out has n entries.
    void losses(const Params& p, const Matrix& X, const Matrix& y, double* out);

    /// Mean |a_l| over all units and columns of X for each hidden layer l = 1..L, then mean |f|.
    std::vector<double> mean_abs_activations(const Matrix& X);

    /// FLOPs of one update's matrix products (forward + backward GEMMs) at batch B.
    double gemm_flops_per_step() const;

private:
    SimOptions options_;
    const Task& task_;
    Mlp<T> model_;
    std::vector<TensorSpec> specs_;
    Rng rng_;
    Params theta_, grad_, moment1_, moment2_, ewa_sum_, ewa_;
    typename Mlp<T>::Cache cache_, eval_cache_;
    Matrix X_, y_, d_out_;
    std::int64_t t_ = 0;
};

extern template class Trainer<float>;
extern template class Trainer<double>;

} // namespace cbs::sim::net
