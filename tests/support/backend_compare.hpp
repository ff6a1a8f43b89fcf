// Comparing a fast LM backend with the CPU reference, shared by the fast CPU backend's tests
// (tests/lm/test_fast_cpu_backend.cpp) and the CUDA tests (tests/gpu/): random inputs, bf16
// rounding on the host, norm-relative errors, and the checks themselves (forward and every
// gradient tensor, the AdamW + EWA update, the gradient norm, evaluation with raw and EWA
// weights, 10-step trajectories, determinism), each taking the backend under test as a factory
// and returning what it measured; the tests state the bounds and assert.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/optimizer.hpp"
#include "gpu/param_layout.hpp"
#include "gpu/reference/reference_backend.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace backend_compare {

using Vec = std::vector<float>;

inline Vec randn(std::size_t n, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> dist(0.0, 1.0);
    Vec v(n);
    for (float& x : v)
        x = static_cast<float>(shift + scale * dist(rng));
    return v;
}

/// Round-to-nearest-even to bfloat16, returned as float (finite inputs).
inline float round_bf16(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

inline Vec round_bf16(const Vec& v) {
    Vec r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        r[i] = round_bf16(v[i]);
    return r;
}

/// ||a - ref|| / ||ref|| (NaN anywhere in a gives NaN, which fails every bound).
template <typename A, typename B>
double rel_l2(const A& a, const B& ref) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(ref[i]);
        num += d * d;
        den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
    }
    return std::sqrt(num) / std::sqrt(den > 0 ? den : 1e-300);
}

/// max_i |a - ref| / (atol + rtol |ref|): <= 1 means every element passes.
template <typename A, typename B>
double worst_ratio(const A& a, const B& ref, double atol, double rtol) {
    double w = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(ref[i]));
        const double r = d / (atol + rtol * std::abs(static_cast<double>(ref[i])));
        if (!(r <= w)) w = r; // NaN propagates
    }
    return w;
}

// ---- the checks ------------------------------------------------------------------------------

using namespace cbs::lm;

/// Makes the backend under test (state zeroed, like make_backend).
using Factory =
    std::function<std::unique_ptr<LmBackend>(const ModelConfig&, const std::vector<double>&)>;

inline ModelConfig small_config(Parameterization p) {
    ModelConfig c;
    c.d_model = 64;
    c.layers = 2;
    c.heads = 4;
    c.context = 24;
    c.vocab = 97; // odd: no dimension is a multiple of anything convenient
    c.parameterization = p;
    c.mup_base_width = 32; // width multiplier 2 under muP
    c.init_std = 0.05;     // larger than default: attention is far from uniform
    return c;
}

// A width that is not a multiple of kAlignment (64) or of any kernel's block size: the gains and
// both embeddings end in padding, so the chunk-to-tensor table of a fused optimizer and the
// "padding stays zero" contract are exercised (with d_model = 64 no tensor has padding at all).
// Context 37 > 32: each warp-per-row softmax lane covers more than one column.
inline ModelConfig odd_config(Parameterization p) {
    ModelConfig c = small_config(p);
    c.d_model = 48; // head_dim 12; muP width multiplier 1.5
    c.context = 37;
    return c;
}

// Zeroes the padding of a flat buffer (the layout's invariant for every state buffer).
inline void zero_padding(const ParamLayout& layout, std::vector<float>& flat) {
    std::int64_t end = 0;
    for (const ParamTensor& t : layout.tensors) {
        std::fill(flat.begin() + end, flat.begin() + t.offset, 0.0f);
        end = t.offset + t.size();
    }
    std::fill(flat.begin() + end, flat.end(), 0.0f);
}

// Sum of |x| over the padding of a flat buffer (between tensors and after the last one).
inline double padding_abs_sum(const ParamLayout& layout, const std::vector<float>& flat) {
    double pad = 0;
    std::int64_t end = 0;
    for (const ParamTensor& t : layout.tensors) {
        for (std::int64_t i = end; i < t.offset; ++i)
            pad += std::abs(flat[static_cast<std::size_t>(i)]);
        end = t.offset + t.size();
    }
    for (std::int64_t i = end; i < layout.total; ++i)
        pad += std::abs(flat[static_cast<std::size_t>(i)]);
    return pad;
}

// Initial weights with the gains moved off 1, so every gain gradient path matters.
inline std::vector<float> test_params(const ParamLayout& layout, std::uint64_t seed) {
    std::vector<float> p = init_parameters(layout, seed);
    const Vec noise = randn(p.size(), seed + 1, 0.2);
    for (const ParamTensor& t : layout.tensors)
        if (t.role == TensorRole::gain)
            for (std::int64_t i = 0; i < t.size(); ++i)
                p[t.offset + i] += noise[t.offset + i];
    return p;
}

inline std::vector<std::uint32_t> test_tokens(const ModelConfig& c, std::int64_t batch,
                                              std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::uint32_t> t(static_cast<std::size_t>(batch * (c.context + 1)));
    for (auto& x : t)
        x = static_cast<std::uint32_t>(rng() % static_cast<std::uint64_t>(c.vocab));
    t[0] = t[1] = t[2] = 5; // repeated tokens: the embedding scatter-add sums several rows
    return t;
}

inline std::vector<float> state(const LmBackend& b, StateKind k, int ewa = 0) {
    std::vector<float> v(static_cast<std::size_t>(b.layout().total));
    b.get_state({k, ewa}, v);
    return v;
}

inline std::span<const float> tensor(const std::vector<float>& flat, const ParamTensor& t) {
    return std::span<const float>(flat).subspan(static_cast<std::size_t>(t.offset),
                                                static_cast<std::size_t>(t.size()));
}

/// The reference ("ref") and the backend under test ("fast") with the same test_params.
struct Pair {
    std::unique_ptr<LmBackend> ref, fast;
};

inline Pair make_pair(const ModelConfig& c, const Factory& make,
                      const std::vector<double>& decays = {}) {
    Pair p{std::make_unique<ReferenceBackend>(c, decays), make(c, decays)};
    const std::vector<float> params = test_params(p.ref->layout(), 42);
    p.ref->set_state({StateKind::params, 0}, params);
    p.fast->set_state({StateKind::params, 0}, params);
    return p;
}

/// Forward + backward on both backends, measured: the loss's relative error, the worst tensor's
/// relative L2 gradient error (and its name), and |x| summed over the gradient's padding.
struct ForwardBackwardErrors {
    double loss = 0, grad = 0, padding = 0;
    std::string worst_tensor;
};

/// "d_model 48, mup: loss error .., worst gradient .. (tensor)", for a failing check's message.
inline std::string describe(const ModelConfig& c, const ForwardBackwardErrors& e) {
    return "d_model " + std::to_string(c.d_model) + ", " + to_string(c.parameterization) +
           ": loss error " + std::to_string(e.loss) + ", worst gradient " + std::to_string(e.grad) +
           " (" + e.worst_tensor + ")";
}

inline ForwardBackwardErrors forward_backward_errors(const ModelConfig& c, const Factory& make) {
    Pair p = make_pair(c, make);
    const std::int64_t batch = 3;
    const auto tokens = test_tokens(c, batch, 7);
    p.ref->zero_grad();
    p.fast->zero_grad();
    const double lr = p.ref->forward_backward(tokens, batch, 0.8);
    const double lf = p.fast->forward_backward(tokens, batch, 0.8);
    ForwardBackwardErrors e;
    e.loss = std::abs(lf - lr) / std::abs(lr);
    const auto gr = state(*p.ref, StateKind::grads), gf = state(*p.fast, StateKind::grads);
    for (const ParamTensor& t : p.ref->layout().tensors) {
        const double err = rel_l2(tensor(gf, t), tensor(gr, t));
        if (!(err <= e.grad)) { // NaN counts as worst
            e.grad = err;
            e.worst_tensor = t.name;
        }
    }
    e.padding = padding_abs_sum(p.fast->layout(), gf);
    return e;
}

/// Two AdamW + EWA updates (muP LR multipliers, weight decay, clipping scale, five decays) on
/// random state with zero padding: the largest worst_ratio(atol, rtol) of the backend's params,
/// moments and EWA buffers against optimizer.cpp's (<= 1: every element within bounds), and
/// |x| summed over the padding of all of them.
struct OptimizerErrors {
    double worst_ratio = 0, padding = 0;
};

inline OptimizerErrors optimizer_errors(const Factory& make, double atol, double rtol) {
    const ModelConfig c = odd_config(Parameterization::mup);
    const std::vector<double> decays = {0.9, 0.99, 0.995, 0.999, 0.9999};
    Pair p = make_pair(c, make, decays);
    const ParamLayout& layout = p.ref->layout();
    const auto total = static_cast<std::size_t>(layout.total);
    std::vector<float> g = randn(total, 3, 1e-2), m = randn(total, 4, 1e-3);
    std::vector<float> v = randn(total, 5, 1e-5);
    for (float& x : v)
        x = std::abs(x);
    std::vector<std::vector<float>> ewa;
    for (std::size_t k = 0; k < decays.size(); ++k)
        ewa.push_back(randn(total, 10 + k, 0.05));
    for (std::vector<float>* b : {&g, &m, &v})
        zero_padding(layout, *b);
    for (std::vector<float>& e : ewa)
        zero_padding(layout, e);
    for (LmBackend* b : {p.ref.get(), p.fast.get()}) {
        b->set_state({StateKind::grads, 0}, g);
        b->set_state({StateKind::adam_m, 0}, m);
        b->set_state({StateKind::adam_v, 0}, v);
        for (std::size_t k = 0; k < decays.size(); ++k)
            b->set_state({StateKind::ewa, static_cast<int>(k)}, ewa[k]);
    }
    OptimizerStep s;
    s.lr = 3e-3;
    s.weight_decay = 0.1;
    s.grad_scale = 0.5;
    s.step = 3;
    for (int rep = 0; rep < 2; ++rep) {
        p.ref->optimizer_step(s);
        p.fast->optimizer_step(s);
        ++s.step;
    }
    OptimizerErrors e;
    auto add = [&](StateKind k, int index) {
        const auto f = state(*p.fast, k, index);
        const double r = worst_ratio(f, state(*p.ref, k, index), atol, rtol);
        if (!(r <= e.worst_ratio)) e.worst_ratio = r; // NaN propagates
        e.padding += padding_abs_sum(layout, f);
    };
    for (StateKind k : {StateKind::params, StateKind::adam_m, StateKind::adam_v})
        add(k, 0);
    for (std::size_t k = 0; k < decays.size(); ++k)
        add(StateKind::ewa, static_cast<int>(k));
    return e;
}

/// The squared gradient norm of the same random gradients: the reference's, the backend's twice
/// (reproducibility) and optimizer.hpp's squared_norm of the host copy.
struct GradNorms {
    double ref = 0, fast = 0, fast_again = 0, host = 0;
};

inline GradNorms grad_norms(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::sp);
    Pair p = make_pair(c, make);
    const auto g = randn(static_cast<std::size_t>(p.ref->layout().total), 21, 0.1);
    p.ref->set_state({StateKind::grads, 0}, g);
    p.fast->set_state({StateKind::grads, 0}, g);
    GradNorms n;
    n.fast = p.fast->grad_norm_squared();
    n.fast_again = p.fast->grad_norm_squared();
    n.ref = p.ref->grad_norm_squared();
    n.host = squared_norm(g);
    return n;
}

/// Mean loss with the raw weights and with bias-corrected EWA weights (a buffer after 5 updates,
/// unlike the raw weights): each backend's relative error against the reference, and how far
/// the two weight sets' losses are apart (so that the EWA path is really exercised).
struct EvaluateErrors {
    double raw = 0, ewa = 0, raw_vs_ewa = 0;
};

inline EvaluateErrors evaluate_errors(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::sp);
    Pair p = make_pair(c, make, {0.9});
    std::vector<float> xi = test_params(p.ref->layout(), 77);
    for (float& e : xi)
        e *= static_cast<float>(1 - std::pow(0.9, 5));
    p.ref->set_state({StateKind::ewa, 0}, xi);
    p.fast->set_state({StateKind::ewa, 0}, xi);
    const auto tokens = test_tokens(c, 5, 9);
    const double raw = p.ref->evaluate(tokens, 5, -1, 5), avg = p.ref->evaluate(tokens, 5, 0, 5);
    EvaluateErrors e;
    e.raw = std::abs(p.fast->evaluate(tokens, 5, -1, 5) - raw) / raw;
    e.ewa = std::abs(p.fast->evaluate(tokens, 5, 0, 5) - avg) / avg;
    e.raw_vs_ewa = std::abs(raw - avg) / raw;
    return e;
}

/// Ten steps of the training loop's inner sequence: two accumulated micro-batches, the gradient
/// norm, clipping, AdamW + EWA. Returns the per-step losses.
inline std::vector<double> ten_steps(LmBackend& b, const ModelConfig& c) {
    std::vector<double> losses;
    OptimizerStep s;
    s.lr = 3e-3;
    s.beta1 = 0.9;
    s.beta2 = 0.95;
    for (std::int64_t step = 1; step <= 10; ++step) {
        b.zero_grad();
        double loss = 0;
        for (int micro = 0; micro < 2; ++micro)
            loss += 0.5 * b.forward_backward(test_tokens(c, 2, 100 + 2 * step + micro), 2, 0.5);
        const double norm = std::sqrt(b.grad_norm_squared());
        s.grad_scale = norm > 1.0 ? 1.0 / norm : 1.0;
        s.step = step;
        b.optimizer_step(s);
        losses.push_back(loss);
    }
    return losses;
}

/// 10-step loss trajectories (muP) of both: the worst per-step relative difference, and the
/// backend's first and last loss (it must learn).
struct TrajectoryErrors {
    double worst = 0, first = 0, last = 0;
};

inline TrajectoryErrors trajectory_errors(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::mup);
    Pair p = make_pair(c, make, {0.95});
    const auto lr = ten_steps(*p.ref, c), lf = ten_steps(*p.fast, c);
    TrajectoryErrors e;
    for (std::size_t i = 0; i < lr.size(); ++i) {
        const double d = std::abs(lf[i] - lr[i]) / lr[i];
        if (!(d <= e.worst)) e.worst = d;
    }
    e.first = lf.front();
    e.last = lf.back();
    return e;
}

/// Two backends from `make` given the same start: whether ten steps give bit-identical losses,
/// parameters and EWA, and whether the same forward/backward twice gives identical gradients.
struct Determinism {
    bool losses = false, params = false, ewa = false, grads = false;
};

inline Determinism determinism(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::sp);
    auto a = make(c, {0.9});
    auto b = make(c, {0.9});
    const auto init = test_params(a->layout(), 5);
    a->set_state({StateKind::params, 0}, init);
    b->set_state({StateKind::params, 0}, init);
    Determinism d;
    d.losses = ten_steps(*a, c) == ten_steps(*b, c);
    d.params = state(*a, StateKind::params) == state(*b, StateKind::params);
    d.ewa = state(*a, StateKind::ewa) == state(*b, StateKind::ewa);
    const auto tokens = test_tokens(c, 4, 3);
    a->zero_grad();
    a->forward_backward(tokens, 4, 1.0);
    const auto g1 = state(*a, StateKind::grads);
    a->zero_grad();
    a->forward_backward(tokens, 4, 1.0);
    d.grads = state(*a, StateKind::grads) == g1;
    return d;
}

} // namespace backend_compare
