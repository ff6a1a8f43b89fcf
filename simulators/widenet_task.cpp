// Inputs, teachers and the held-out set of the wide-network simulator (contract in the header).
#include "simulators/widenet_task.hpp"

#include "simulators/widenet_model.hpp"
#include "theory/check.hpp"

#include <cmath>

namespace cbs::sim::net {

Task::Task(const SimOptions& o) : kind_(o.net.task), activation_(o.net.activation) {
    const auto d = static_cast<Eigen::Index>(o.net.input_dim);
    sqrt_lambda_.resize(d);
    w_star_.resize(d);
    for (Eigen::Index k = 0; k < d; ++k) {
        const double i = static_cast<double>(k + 1);
        sqrt_lambda_[k] = std::pow(i, -0.5 * o.a);
        w_star_[k] = std::pow(i, 0.5 * (o.a - o.b));
        input_variance_ += sqrt_lambda_[k] * sqrt_lambda_[k];
    }
    noise_sd_ = std::sqrt(o.sigma2);
    if (kind_ == NetTask::teacher) {
        const auto K = static_cast<Eigen::Index>(o.net.teacher_width);
        Rng rng(static_cast<std::uint64_t>(o.seed), kTeacherStream);
        teacher_in_.resize(K, d);
        teacher_out_.resize(K);
        rng.fill_normal(teacher_in_.data(), teacher_in_.size());
        rng.fill_normal(teacher_out_.data(), teacher_out_.size());
        teacher_in_ /= std::sqrt(input_variance_);
        teacher_out_ /= std::sqrt(static_cast<double>(K));
    }
}

template <typename T>
void Task::clean_targets(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& X,
                         Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& y) const {
    CBS_CHECK(X.rows() == sqrt_lambda_.size(), "X has ", X.rows(), " rows");
    y.resize(1, X.cols());
    if (kind_ == NetTask::linear) {
        y.noalias() = w_star_.transpose().cast<T>() * X;
        return;
    }
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    const Matrix pre = teacher_in_.cast<T>() * X;
    Matrix post;
    ActivationFn<T>{activation_}.apply(pre, post);
    y.noalias() = teacher_out_.cast<T>() * post;
}

template <typename T>
void Task::sample(Rng& rng, Eigen::Index batch, Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& X,
                  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& y) const {
    X.resize(sqrt_lambda_.size(), batch);
    rng.fill_normal(X.data(), X.size());
    X.array().colwise() *= sqrt_lambda_.cast<T>().array();
    clean_targets(X, y);
    if (noise_sd_ > 0.0) {
        Eigen::Matrix<T, 1, Eigen::Dynamic> eps(batch);
        rng.fill_normal(eps.data(), eps.size());
        y.row(0) += static_cast<T>(noise_sd_) * eps;
    }
}

template <typename T>
HeldOut<T> make_held_out(const Task& task, const SimOptions& o) {
    HeldOut<T> h;
    Rng rng(static_cast<std::uint64_t>(o.seed), kHeldOutStream);
    // The held-out set never has label noise: the risk is measured against y*.
    const auto n = static_cast<Eigen::Index>(o.net.eval_samples);
    const auto d = static_cast<Eigen::Index>(o.net.input_dim);
    h.X.resize(d, n);
    rng.fill_normal(h.X.data(), h.X.size());
    Eigen::VectorXd sqrt_lambda(d);
    for (Eigen::Index k = 0; k < d; ++k)
        sqrt_lambda[k] = std::pow(static_cast<double>(k + 1), -0.5 * o.a);
    h.X.array().colwise() *= sqrt_lambda.cast<T>().array();
    task.clean_targets(h.X, h.y);
    h.zero_risk = 0.5 * h.y.template cast<double>().squaredNorm() / static_cast<double>(n);
    return h;
}

template void Task::sample<float>(Rng&, Eigen::Index, Eigen::MatrixXf&, Eigen::MatrixXf&) const;
template void Task::sample<double>(Rng&, Eigen::Index, Eigen::MatrixXd&, Eigen::MatrixXd&) const;
template void Task::clean_targets<float>(const Eigen::MatrixXf&, Eigen::MatrixXf&) const;
template void Task::clean_targets<double>(const Eigen::MatrixXd&, Eigen::MatrixXd&) const;
template HeldOut<float> make_held_out<float>(const Task&, const SimOptions&);
template HeldOut<double> make_held_out<double>(const Task&, const SimOptions&);

} // namespace cbs::sim::net
