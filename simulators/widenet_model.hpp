// The fully connected network of the wide-network simulator: parameter layout, per-tensor
// initialisation and learning-rate multipliers of each parameterization (THEORY.md section 4),
// and the forward/backward passes as GEMMs over a batch.
//
// Network with L = depth hidden layers of width N on inputs x in R^d (one column per sample):
//     h_1 = W_1 x + b_1,  a_l = phi(h_l),  h_l = W_l a_{l-1} + b_l (l = 2..L),
//     f = w_out a_L + b_out                                             (a scalar per sample)
// Parameter tensors, in this order (index k):
//     k = 2l   : W_{l+1}  (N x d) for l = 0 (input weights), (N x N) for l >= 1 (hidden weights)
//     k = 2l+1 : b_{l+1}  (N x 1) biases
//     k = 2L   : w_out    (1 x N) output weights
//     k = 2L+1 : b_out    (1 x 1) output bias
// Weights are stored as the *effective* weights (what multiplies the activations), so the
// forward pass is the same for every parameterization; a parameterization is the initial
// standard deviation and the learning-rate multiplier of each tensor (see layout()).
#pragma once

#include "simulators/sim_options.hpp"

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace cbs::sim::net {

enum class TensorKind { input_weight, hidden_weight, output_weight, bias, output_bias };
const char* to_string(TensorKind k);

struct TensorSpec {
    TensorKind kind = TensorKind::bias;
    Eigen::Index rows = 0, cols = 0;
    double init_std = 0.0; ///< entries start as init_std * N(0, 1) (0 = zero init)
    double lr_mult = 1.0;  ///< the tensor's step is lr_mult * eta_t * (SGD or Adam direction)
};

/// Per-tensor scales of THEORY.md section 4, normalised so that all three parameterizations
/// coincide at N = net.base_width (the `mup` package's convention: hyper-parameters tuned at the
/// base width carry over). With m = N / base_width and the input layer's fan-in taken as
/// input_variance = tr(H) = E|x|^2 (so pre-activations are O(1) for any spectrum):
///
///   tensor          init std           SGD lr mult            Adam lr mult
///   sp   all        1/sqrt(fan_in)     1                      1
///   mup  W_1, b     1/sqrt(fan_in)     m      (fan_out)       1
///        W_l        1/sqrt(N)          1                      1/m    (1/fan_in)
///        w_out      1/sqrt(N m)        1/m    (1/fan_in)      1/m    (1/fan_in)
///   ntk  W_1, b     1/sqrt(fan_in)     1                      1
///        W_l, w_out 1/sqrt(N)          1/m    (1/fan_in)      1/sqrt(m)
/// Biases start at zero; b_out has multiplier 1 everywhere (its fan-in is 1). net.zero_readout
/// starts w_out at zero instead (the table's "or zero"): no random initial function.
/// ntk: weights w / sqrt(fan_in) with w ~ N(0, 1) trained at a global LR: on effective weights
/// the SGD step is eta / fan_in and the (scale-free) Adam step eta / sqrt(fan_in).
std::vector<TensorSpec> layout(const NetOptions& options, double input_variance);

/// Index of the tensors (see the file comment).
inline std::size_t weight_index(std::size_t layer) {
    return 2 * layer;
}
inline std::size_t bias_index(std::size_t layer) {
    return 2 * layer + 1;
}

/// phi and the product dH = dA (.) phi'(H). gelu is the tanh approximation (as GPT-2 uses).
template <typename T>
struct ActivationFn {
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    Activation kind = Activation::relu;
    /// post = phi(pre); same shapes.
    void apply(const Matrix& pre, Matrix& post) const;
    /// d_pre = d_post (.) phi'(pre); post = phi(pre) is passed for tanh's cheap derivative.
    void backward(const Matrix& pre, const Matrix& post, const Matrix& d_post, Matrix& d_pre) const;
};

/// The network function and its gradient. Thread-safe for concurrent calls with distinct caches.
template <typename T>
class Mlp {
public:
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using Params = std::vector<Matrix>;

    /// Activations kept by forward() for backward(); sized on first use, reused after.
    struct Cache {
        std::vector<Matrix> pre, post; ///< h_l and a_l, each (N x B)
        Matrix out;                    ///< f, (1 x B)
        Matrix d_post, d_pre;          ///< backward scratch, (N x B)
    };

    Mlp(std::int64_t input_dim, std::int64_t width, std::int64_t depth, Activation activation);

    /// Tensors shaped as `specs` (from layout()), all zero.
    static Params zeros(const std::vector<TensorSpec>& specs);

    /// f (1 x B) for inputs X (d x B); keeps h_l, a_l in the cache. Returns cache.out.
    const Matrix& forward(const Params& p, const Matrix& X, Cache& cache) const;

    /// Gradient of sum_j d_out_j f(x_j) w.r.t. every tensor, given forward(p, X, cache) was the
    /// last call on this cache. d_out is (1 x B): for the loss (1/B) sum_j 1/2 (f_j - y_j)^2 it is
    /// (f - y) / B. grad must already hold tensors of the right shapes (zeros(specs)).
    void backward(const Params& p, const Matrix& X, const Matrix& d_out, Cache& cache,
                  Params& grad) const;

    std::int64_t depth() const { return depth_; }
    std::int64_t width() const { return width_; }
    std::int64_t input_dim() const { return input_dim_; }

private:
    std::int64_t input_dim_, width_, depth_;
    ActivationFn<T> phi_;
};

extern template struct ActivationFn<float>;
extern template struct ActivationFn<double>;
extern template class Mlp<float>;
extern template class Mlp<double>;

} // namespace cbs::sim::net
