// Forward/backward of the wide network (contract in widenet_model.hpp). Matrix products go
// through Eigen's GEMM (the batch is the GEMM's third dimension); everything else is one fused
// element-wise pass per layer.
#include "simulators/widenet_model.hpp"

#include "theory/check.hpp"

#include <cmath>

namespace cbs::sim::net {

const char* to_string(TensorKind k) {
    switch (k) {
    case TensorKind::input_weight:
        return "input_weight";
    case TensorKind::hidden_weight:
        return "hidden_weight";
    case TensorKind::output_weight:
        return "output_weight";
    case TensorKind::bias:
        return "bias";
    case TensorKind::output_bias:
        return "output_bias";
    }
    return "?";
}

std::vector<TensorSpec> layout(const NetOptions& o, double input_variance) {
    CBS_CHECK(input_variance > 0.0, "input_variance = ", input_variance);
    const auto N = static_cast<Eigen::Index>(o.width);
    const auto d = static_cast<Eigen::Index>(o.input_dim);
    const double m = static_cast<double>(o.width) / static_cast<double>(o.base_width);
    const bool adam = o.optimizer == Optimizer::adam;
    const Parameterization p = o.param;

    // Learning-rate multipliers per tensor kind (table in the header).
    double lr_input = 1.0, lr_hidden = 1.0, lr_output = 1.0;
    if (p == Parameterization::mup) {
        lr_input = adam ? 1.0 : m;
        lr_hidden = adam ? 1.0 / m : 1.0;
        lr_output = 1.0 / m;
    } else if (p == Parameterization::ntk) {
        lr_hidden = lr_output = adam ? 1.0 / std::sqrt(m) : 1.0 / m;
    }
    const double output_std = o.zero_readout ? 0.0
                              : p == Parameterization::mup
                                  ? 1.0 / std::sqrt(static_cast<double>(N) * m)
                                  : 1.0 / std::sqrt(static_cast<double>(N));

    std::vector<TensorSpec> specs;
    for (std::int64_t l = 0; l < o.depth; ++l) {
        if (l == 0)
            specs.push_back(
                {TensorKind::input_weight, N, d, 1.0 / std::sqrt(input_variance), lr_input});
        else
            specs.push_back({TensorKind::hidden_weight, N, N,
                             1.0 / std::sqrt(static_cast<double>(N)), lr_hidden});
        specs.push_back({TensorKind::bias, N, 1, 0.0, lr_input});
    }
    specs.push_back({TensorKind::output_weight, 1, N, output_std, lr_output});
    specs.push_back({TensorKind::output_bias, 1, 1, 0.0, 1.0});
    return specs;
}

// ---- activations -----------------------------------------------------------------------------

namespace {
// gelu(x) = x/2 (1 + tanh(u)), u = c (x + k x^3)
constexpr double kGeluC = 0.79788456080286535588; // sqrt(2/pi)
constexpr double kGeluK = 0.044715;
} // namespace

template <typename T>
void ActivationFn<T>::apply(const Matrix& pre, Matrix& post) const {
    post.resize(pre.rows(), pre.cols());
    switch (kind) {
    case Activation::relu:
        post.array() = pre.array().max(T(0));
        break;
    case Activation::tanh:
        post.array() = pre.array().tanh();
        break;
    case Activation::gelu: {
        const T c(kGeluC), k(kGeluK);
        const auto x = pre.array();
        post.array() = T(0.5) * x * (T(1) + (c * (x + k * x.cube())).tanh());
        break;
    }
    }
}

template <typename T>
void ActivationFn<T>::backward(const Matrix& pre, const Matrix& post, const Matrix& d_post,
                               Matrix& d_pre) const {
    d_pre.resize(pre.rows(), pre.cols());
    switch (kind) {
    case Activation::relu:
        d_pre.array() = (pre.array() > T(0)).select(d_post.array(), T(0));
        break;
    case Activation::tanh:
        d_pre.array() = d_post.array() * (T(1) - post.array().square());
        break;
    case Activation::gelu: {
        const T c(kGeluC), k(kGeluK);
        const auto x = pre.array();
        const auto t = (c * (x + k * x.cube())).tanh();
        d_pre.array() =
            d_post.array() * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t.square()) * c *
                                                        (T(1) + T(3) * k * x.square()));
        break;
    }
    }
}

// ---- network ---------------------------------------------------------------------------------

template <typename T>
Mlp<T>::Mlp(std::int64_t input_dim, std::int64_t width, std::int64_t depth, Activation activation)
    : input_dim_(input_dim), width_(width), depth_(depth) {
    CBS_CHECK(input_dim >= 1 && width >= 1 && depth >= 1, "d = ", input_dim, " N = ", width,
              " L = ", depth);
    phi_.kind = activation;
}

template <typename T>
typename Mlp<T>::Params Mlp<T>::zeros(const std::vector<TensorSpec>& specs) {
    Params p;
    p.reserve(specs.size());
    for (const TensorSpec& s : specs)
        p.push_back(Matrix::Zero(s.rows, s.cols));
    return p;
}

template <typename T>
const typename Mlp<T>::Matrix& Mlp<T>::forward(const Params& p, const Matrix& X,
                                               Cache& cache) const {
    const auto L = static_cast<std::size_t>(depth_);
    CBS_CHECK(p.size() == 2 * L + 2, "tensors: ", p.size());
    CBS_CHECK(X.rows() == input_dim_, "X has ", X.rows(), " rows, d = ", input_dim_);
    cache.pre.resize(L);
    cache.post.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
        const Matrix& in = l == 0 ? X : cache.post[l - 1];
        Matrix& h = cache.pre[l];
        h.resize(width_, X.cols());
        h.noalias() = p[weight_index(l)] * in;
        h.colwise() += p[bias_index(l)].col(0);
        phi_.apply(h, cache.post[l]);
    }
    cache.out.resize(1, X.cols());
    cache.out.noalias() = p[2 * L] * cache.post[L - 1];
    cache.out.array() += p[2 * L + 1](0, 0);
    return cache.out;
}

template <typename T>
void Mlp<T>::backward(const Params& p, const Matrix& X, const Matrix& d_out, Cache& cache,
                      Params& grad) const {
    const auto L = static_cast<std::size_t>(depth_);
    CBS_CHECK(grad.size() == p.size(), "gradient tensors: ", grad.size());
    CBS_CHECK(d_out.rows() == 1 && d_out.cols() == X.cols(), "d_out is ", d_out.rows(), "x",
              d_out.cols());
    grad[2 * L].noalias() = d_out * cache.post[L - 1].transpose();
    grad[2 * L + 1](0, 0) = d_out.sum();
    cache.d_post.resize(width_, X.cols());
    cache.d_post.noalias() = p[2 * L].transpose() * d_out;
    for (std::size_t l = L; l-- > 0;) {
        phi_.backward(cache.pre[l], cache.post[l], cache.d_post, cache.d_pre);
        const Matrix& in = l == 0 ? X : cache.post[l - 1];
        grad[weight_index(l)].noalias() = cache.d_pre * in.transpose();
        grad[bias_index(l)].col(0) = cache.d_pre.rowwise().sum();
        if (l > 0) cache.d_post.noalias() = p[weight_index(l)].transpose() * cache.d_pre;
    }
}

template struct ActivationFn<float>;
template struct ActivationFn<double>;
template class Mlp<float>;
template class Mlp<double>;

} // namespace cbs::sim::net
