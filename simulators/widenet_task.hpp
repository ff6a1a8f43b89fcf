// Data of the wide-network simulator: Gaussian inputs with the power-law spectrum of THEORY.md
// section 1 and targets from a linear teacher (source condition) or a fixed random teacher net.
//
//  - x ~ N(0, H), H = diag(lambda_1..lambda_d), lambda_i = i^-a (spectrum.a, net.input_dim = d).
//  - task = linear : y*(x) = <w*, x>, w*_i = i^((a-b)/2), i.e. lambda_i (w*_i)^2 = i^-b
//                    (spectrum.b): the least-squares problem of THEORY.md section 1 in d
//                    dimensions.
//  - task = teacher: y*(x) = (1/sqrt(K)) sum_k v_k phi(<u_k, x> / sqrt(tr H)), K = teacher.width,
//                    u_k ~ N(0, I_d), v_k ~ N(0, 1), phi = net.activation; drawn once from the
//                    simulation's seed (stream kTeacherStream), the same for every network trained.
//  - training labels y = y*(x) + eps, eps ~ N(0, noise.sigma2); the risk is the excess risk
//    1/2 E (f(x) - y*(x))^2, estimated on a fixed held-out set of clean targets.
#pragma once

#include "simulators/sim_options.hpp"
#include "simulators/widenet_rng.hpp"

#include <Eigen/Dense>

namespace cbs::sim::net {

class Task {
public:
    /// Precondition: options.validate() passed (uses spectrum.a/b, noise.sigma2, net.*, seed).
    explicit Task(const SimOptions& options);

    /// tr(H) = sum_{i <= d} i^-a = E |x|^2.
    double input_variance() const { return input_variance_; }
    double noise_sd() const { return noise_sd_; }

    /// X (d x B) <- fresh inputs; y (1 x B) <- noisy labels. Draws from rng only.
    template <typename T>
    void sample(Rng& rng, Eigen::Index batch, Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& X,
                Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& y) const;

    /// y (1 x B) <- y*(X), the clean targets.
    template <typename T>
    void clean_targets(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& X,
                       Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& y) const;

private:
    NetTask kind_;
    Activation activation_;
    Eigen::VectorXd sqrt_lambda_;    // (d)
    Eigen::VectorXd w_star_;         // (d), linear task
    Eigen::MatrixXd teacher_in_;     // (K x d) u_k / sqrt(tr H), teacher task
    Eigen::RowVectorXd teacher_out_; // (K) v_k / sqrt(K)
    double input_variance_ = 0.0;
    double noise_sd_ = 0.0;
};

/// The fixed held-out set: inputs (d x n) and clean targets (1 x n), from stream kHeldOutStream of
/// the simulation's seed (so every network of a simulation, and every width, sees the same set).
template <typename T>
struct HeldOut {
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> X, y;
    double zero_risk = 0.0; ///< 1/2 mean y*^2: the risk of the zero predictor
};

template <typename T>
HeldOut<T> make_held_out(const Task& task, const SimOptions& options);

} // namespace cbs::sim::net
