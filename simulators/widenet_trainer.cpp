// One network's one-pass training (contract in widenet_trainer.hpp).
#include "simulators/widenet_trainer.hpp"

#include "simulators/schedule.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>

namespace cbs::sim::net {

template <typename T>
Trainer<T>::Trainer(const SimOptions& options, const Task& task, std::uint64_t stream)
    : options_(options), task_(task),
      model_(options.net.input_dim, options.net.width, options.net.depth, options.net.activation),
      specs_(layout(options.net, task.input_variance())),
      rng_(static_cast<std::uint64_t>(options.seed), 2 * stream + 1) {
    // Initial weights and data come from separate streams, so networks of different widths on
    // the same stream see the same batches (common random numbers across widths).
    Rng init(static_cast<std::uint64_t>(options.seed), 2 * stream);
    theta_ = Mlp<T>::zeros(specs_);
    for (std::size_t k = 0; k < specs_.size(); ++k) {
        if (specs_[k].init_std == 0.0) continue;
        init.fill_normal(theta_[k].data(), theta_[k].size());
        theta_[k] *= static_cast<T>(specs_[k].init_std);
    }
    grad_ = Mlp<T>::zeros(specs_);
    const bool adam = options.net.optimizer == Optimizer::adam;
    if (adam || options.momentum > 0.0) moment1_ = Mlp<T>::zeros(specs_);
    if (adam) moment2_ = Mlp<T>::zeros(specs_);
    if (options.ewa_decay > 0.0) {
        ewa_sum_ = Mlp<T>::zeros(specs_);
        ewa_ = Mlp<T>::zeros(specs_);
    }
}

template <typename T>
double Trainer<T>::step(std::int64_t total) {
    const auto B = static_cast<Eigen::Index>(options_.batch);
    task_.sample(rng_, B, X_, y_);
    const Matrix& f = model_.forward(theta_, X_, cache_);
    d_out_ = (f - y_) / static_cast<T>(B);
    const double loss = 0.5 * static_cast<double>(B) * d_out_.template cast<double>().squaredNorm();
    model_.backward(theta_, X_, d_out_, cache_, grad_);

    const double eta = learning_rate(options_, t_, total);
    const NetOptions& net = options_.net;
    if (net.optimizer == Optimizer::adam) {
        const double step = static_cast<double>(t_ + 1);
        const T b1(net.adam_beta1), b2(net.adam_beta2), eps(net.adam_eps);
        // 1 - beta^(t+1) without cancellation for beta near 1 (log(0) = -inf gives 1 for beta = 0)
        const double bc1 = -std::expm1(step * std::log(net.adam_beta1));
        const double bc2 = -std::expm1(step * std::log(net.adam_beta2));
        const T inv_bc2 = static_cast<T>(1.0 / bc2);
        for (std::size_t k = 0; k < theta_.size(); ++k) {
            auto m = moment1_[k].array();
            auto v = moment2_[k].array();
            const auto g = grad_[k].array();
            m = b1 * m + (T(1) - b1) * g;
            v = b2 * v + (T(1) - b2) * g.square();
            const T lr = static_cast<T>(eta * specs_[k].lr_mult / bc1);
            theta_[k].array() -= lr * m / ((v * inv_bc2).sqrt() + eps);
        }
    } else if (options_.momentum > 0.0) {
        const T beta(options_.momentum);
        for (std::size_t k = 0; k < theta_.size(); ++k) {
            moment1_[k] = beta * moment1_[k] + grad_[k];
            theta_[k].noalias() -= static_cast<T>(eta * specs_[k].lr_mult) * moment1_[k];
        }
    } else {
        for (std::size_t k = 0; k < theta_.size(); ++k)
            theta_[k].noalias() -= static_cast<T>(eta * specs_[k].lr_mult) * grad_[k];
    }
    if (options_.ewa_decay > 0.0) {
        const T tau(options_.ewa_decay);
        for (std::size_t k = 0; k < theta_.size(); ++k)
            ewa_sum_[k] = tau * ewa_sum_[k] + (T(1) - tau) * theta_[k];
    }
    ++t_;
    return loss;
}

template <typename T>
const typename Trainer<T>::Params& Trainer<T>::ewa_weights() {
    if (options_.ewa_decay == 0.0 || t_ == 0) return theta_;
    // 1 - tau^t without cancellation for tau near 1.
    const double correction = -std::expm1(static_cast<double>(t_) * std::log(options_.ewa_decay));
    const T scale = static_cast<T>(1.0 / correction);
    for (std::size_t k = 0; k < theta_.size(); ++k)
        ewa_[k] = scale * ewa_sum_[k];
    return ewa_;
}

template <typename T>
void Trainer<T>::losses(const Params& p, const Matrix& X, const Matrix& y, double* out) {
    constexpr Eigen::Index chunk = 1024;
    for (Eigen::Index j0 = 0; j0 < X.cols(); j0 += chunk) {
        const Eigen::Index n = std::min(chunk, X.cols() - j0);
        const Matrix& f = model_.forward(p, X.middleCols(j0, n), eval_cache_);
        for (Eigen::Index j = 0; j < n; ++j) {
            const double r = static_cast<double>(f(0, j)) - static_cast<double>(y(0, j0 + j));
            out[j0 + j] = 0.5 * r * r;
        }
    }
}

template <typename T>
std::vector<double> Trainer<T>::mean_abs_activations(const Matrix& X) {
    model_.forward(theta_, X, eval_cache_);
    std::vector<double> out;
    for (const Matrix& a : eval_cache_.post)
        out.push_back(a.template cast<double>().cwiseAbs().mean());
    out.push_back(eval_cache_.out.template cast<double>().cwiseAbs().mean());
    return out;
}

template <typename T>
double Trainer<T>::gemm_flops_per_step() const {
    const double B = static_cast<double>(options_.batch);
    const double N = static_cast<double>(options_.net.width);
    const double d = static_cast<double>(options_.net.input_dim);
    const double hidden = static_cast<double>(options_.net.depth - 1);
    // forward W x, weight gradient, and (hidden layers only) the backward product W^T dH;
    // the output layer's three products are 2NB each.
    return 2.0 * N * d * B * 2.0 + hidden * 2.0 * N * N * B * 3.0 + 3.0 * 2.0 * N * B;
}

template class Trainer<float>;
template class Trainer<double>;

} // namespace cbs::sim::net
