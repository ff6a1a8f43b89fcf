// Comparing a fast LM backend with the CPU reference, shared by the fast CPU backend's tests
// (tests/lm/test_fast_cpu_backend.cpp) and the CUDA tests (tests/gpu/): random inputs, bf16
// rounding on the host, norm-relative errors, and the checks themselves (forward and every
// gradient tensor, the AdamW + EWA update, the gradient norm, evaluation with raw and EWA
// weights, 10-step trajectories, determinism), each taking the backend under test as a factory.
// Catch2 assertions: include after catch2/catch.hpp's configuration.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/optimizer.hpp"
#include "gpu/param_layout.hpp"
#include "gpu/reference/reference_backend.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <span>

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

/// Forward + backward on both: the loss's relative error <= loss_tol and every tensor's relative
/// L2 gradient error <= grad_tol; the gradient's padding stays exactly zero.
inline void compare_forward_backward(const ModelConfig& c, const Factory& make, double loss_tol,
                                     double grad_tol) {
    Pair p = make_pair(c, make);
    const std::int64_t batch = 3;
    const auto tokens = test_tokens(c, batch, 7);
    p.ref->zero_grad();
    p.fast->zero_grad();
    const double lr = p.ref->forward_backward(tokens, batch, 0.8);
    const double lf = p.fast->forward_backward(tokens, batch, 0.8);
    INFO("reference loss " << lr << ", " << p.fast->name() << " loss " << lf);
    CHECK(std::abs(lf - lr) <= loss_tol * std::abs(lr));
    const auto gr = state(*p.ref, StateKind::grads), gf = state(*p.fast, StateKind::grads);
    for (const ParamTensor& t : p.ref->layout().tensors) {
        const double e = rel_l2(tensor(gf, t), tensor(gr, t));
        INFO(t.name << ": relative L2 gradient error " << e);
        CHECK(e <= grad_tol);
    }
    CHECK(padding_abs_sum(p.fast->layout(), gf) == 0);
}

/// Two AdamW + EWA updates (muP LR multipliers, weight decay, clipping scale, five decays) on
/// random state: params, moments and every EWA buffer within worst_ratio(atol, rtol) <= 1 of
/// optimizer.cpp's; padding stays zero.
inline void compare_optimizer(const Factory& make, double atol, double rtol) {
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
    for (StateKind k : {StateKind::params, StateKind::adam_m, StateKind::adam_v}) {
        INFO("state kind " << static_cast<int>(k));
        CHECK(worst_ratio(state(*p.fast, k), state(*p.ref, k), atol, rtol) <= 1);
        CHECK(padding_abs_sum(layout, state(*p.fast, k)) == 0);
    }
    for (std::size_t k = 0; k < decays.size(); ++k) {
        const auto e = state(*p.fast, StateKind::ewa, static_cast<int>(k));
        CHECK(worst_ratio(e, state(*p.ref, StateKind::ewa, static_cast<int>(k)), atol, rtol) <= 1);
        CHECK(padding_abs_sum(layout, e) == 0);
    }
}

/// The squared gradient norm equals the reference's (both sum fp32 squares in double, in
/// different orders: ~1e-16 relative per addition) and is bitwise reproducible.
inline void compare_grad_norm(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::sp);
    Pair p = make_pair(c, make);
    const auto g = randn(static_cast<std::size_t>(p.ref->layout().total), 21, 0.1);
    p.ref->set_state({StateKind::grads, 0}, g);
    p.fast->set_state({StateKind::grads, 0}, g);
    const double a = p.fast->grad_norm_squared();
    CHECK(a == Approx(p.ref->grad_norm_squared()).epsilon(1e-12));
    CHECK(p.fast->grad_norm_squared() == a);
    CHECK(squared_norm(g) == Approx(a).epsilon(1e-12));
}

/// Evaluation with the raw weights and with bias-corrected EWA weights: relative error <= tol.
inline void compare_evaluate(const Factory& make, double tol) {
    const ModelConfig c = small_config(Parameterization::sp);
    const std::vector<double> decays = {0.9};
    Pair p = make_pair(c, make, decays);
    std::vector<float> xi = test_params(p.ref->layout(), 77);
    for (float& e : xi)
        e *= static_cast<float>(1 - std::pow(0.9, 5)); // a buffer after 5 updates
    p.ref->set_state({StateKind::ewa, 0}, xi);
    p.fast->set_state({StateKind::ewa, 0}, xi);
    const auto tokens = test_tokens(c, 5, 9);
    const double raw = p.ref->evaluate(tokens, 5, -1, 5), avg = p.ref->evaluate(tokens, 5, 0, 5);
    CHECK(std::abs(raw - avg) > 0.01 * raw); // the two weight sets really differ
    for (int k : {-1, 0}) {
        const double lr = p.ref->evaluate(tokens, 5, k, 5);
        const double lf = p.fast->evaluate(tokens, 5, k, 5);
        INFO("ewa index " << k << ": reference " << lr << ", " << p.fast->name() << " " << lf);
        CHECK(std::abs(lf - lr) <= tol * lr);
    }
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

/// 10-step loss trajectories (muP) agree within tol relative at every step, and the model learns.
inline void compare_trajectories(const Factory& make, double tol) {
    const ModelConfig c = small_config(Parameterization::mup);
    Pair p = make_pair(c, make, {0.95});
    const auto lr = ten_steps(*p.ref, c), lf = ten_steps(*p.fast, c);
    for (std::size_t i = 0; i < lr.size(); ++i) {
        INFO("step " << i + 1 << ": reference " << lr[i] << ", " << p.fast->name() << " " << lf[i]);
        CHECK(std::abs(lf[i] - lr[i]) <= tol * lr[i]);
    }
    CHECK(lf.back() < lf.front()); // it learns
}

/// Two backends from `make` given the same start run bit-identical steps, parameters and EWA;
/// the same forward/backward twice gives identical gradients.
inline void check_deterministic(const Factory& make) {
    const ModelConfig c = small_config(Parameterization::sp);
    auto a = make(c, {0.9});
    auto b = make(c, {0.9});
    const auto init = test_params(a->layout(), 5);
    a->set_state({StateKind::params, 0}, init);
    b->set_state({StateKind::params, 0}, init);
    const auto la = ten_steps(*a, c), lb = ten_steps(*b, c);
    CHECK(la == lb);
    CHECK(state(*a, StateKind::params) == state(*b, StateKind::params));
    CHECK(state(*a, StateKind::ewa) == state(*b, StateKind::ewa));
    const auto tokens = test_tokens(c, 4, 3);
    a->zero_grad();
    a->forward_backward(tokens, 4, 1.0);
    const auto g1 = state(*a, StateKind::grads);
    a->zero_grad();
    a->forward_backward(tokens, 4, 1.0);
    CHECK(state(*a, StateKind::grads) == g1);
}

} // namespace backend_compare
