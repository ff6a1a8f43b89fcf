// The optimizer arithmetic of gpu/optimizer.hpp against an independent fp64 transcription of
// PyTorch's AdamW (torch.optim.AdamW, decoupled weight decay) and of the EWA definition: the CPU
// check of AdamW, clipping's gradient scale and the bias-corrected EWA that needs no PyTorch.
#include "gpu/optimizer.hpp"
#include "gpu/param_layout.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

using namespace cbs::lm;

namespace {

ModelConfig tiny_mup_config() {
    ModelConfig c;
    c.d_model = 32;
    c.layers = 1;
    c.heads = 2;
    c.context = 8;
    c.vocab = 16;
    c.parameterization = Parameterization::mup;
    c.mup_base_width = 16; // width multiplier 2: hidden LR multipliers differ from 1
    return c;
}

// One AdamW step in double, written from PyTorch's AdamW documentation, element by element.
struct ReferenceAdamW {
    std::vector<double> p, m, v;
    void step(const ParamLayout& layout, const OptimizerStep& s, const std::vector<double>& g) {
        const double bc1 = 1 - std::pow(s.beta1, static_cast<double>(s.step));
        const double bc2 = 1 - std::pow(s.beta2, static_cast<double>(s.step));
        for (const ParamTensor& t : layout.tensors) {
            const double lr = s.lr * t.lr_multiplier;
            for (std::int64_t k = 0; k < t.size(); ++k) {
                const auto i = static_cast<std::size_t>(t.offset + k);
                if (t.weight_decay) p[i] *= 1 - lr * s.weight_decay;
                const double gi = s.grad_scale * g[i];
                m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi;
                v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi;
                p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + s.eps);
            }
        }
    }
};

} // namespace

TEST_CASE("AdamW with decoupled weight decay, LR multipliers and a clipping scale matches an fp64 "
          "transcription of PyTorch's AdamW",
          "[lm]") {
    const ParamLayout layout = make_param_layout(tiny_mup_config());
    // The layout must exercise what the test claims: tensors with and without weight decay, and
    // LR multipliers other than 1.
    bool decayed = false, undecayed = false, multiplied = false;
    for (const ParamTensor& t : layout.tensors) {
        (t.weight_decay ? decayed : undecayed) = true;
        multiplied = multiplied || t.lr_multiplier != 1.0;
    }
    REQUIRE((decayed && undecayed && multiplied));

    const auto n = static_cast<std::size_t>(layout.total);
    std::vector<float> params = init_parameters(layout, 7), m(n, 0.0f), v(n, 0.0f);
    ReferenceAdamW ref{
        {params.begin(), params.end()}, std::vector<double>(n), std::vector<double>(n)};

    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal(0.0, 1e-3);
    OptimizerStep s;
    s.lr = 3e-3;
    s.beta1 = 0.9;
    s.beta2 = 0.95;
    s.eps = 1e-4; // comparable to |g| so that the clipping scale changes the update
    s.weight_decay = 0.1;
    for (std::int64_t step = 1; step <= 6; ++step) {
        std::vector<double> g(n, 0.0);
        for (const ParamTensor& t : layout.tensors)
            for (std::int64_t k = 0; k < t.size(); ++k)
                g[static_cast<std::size_t>(t.offset + k)] = normal(rng);
        const std::vector<float> gf(g.begin(), g.end());
        for (std::size_t i = 0; i < n; ++i)
            g[i] = gf[i]; // the reference sees the same (fp32-rounded) gradient
        s.step = step;
        s.grad_scale = step % 2 ? 0.25 : 1.0; // clipping active on odd steps
        adamw_update(layout, s, params, gf, m, v);
        ref.step(layout, s, g);
    }
    // Each step is a handful of fp32 operations per element (relative rounding ~6e-8 each); the
    // update is lr * O(1), so after 6 steps the parameters agree to ~1e-6 of lr plus ~1e-6 of
    // their size. The bound is 10x that.
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double err = std::abs(params[i] - ref.p[i]);
        worst = std::max(worst, err / (1e-7 + 1e-5 * std::abs(ref.p[i])));
    }
    INFO("worst error / bound " << worst);
    CHECK(worst <= 1.0);
    // Padding between tensors stays exactly zero.
    std::vector<bool> used(n, false);
    for (const ParamTensor& t : layout.tensors)
        for (std::int64_t k = 0; k < t.size(); ++k)
            used[static_cast<std::size_t>(t.offset + k)] = true;
    for (std::size_t i = 0; i < n; ++i)
        if (!used[i]) REQUIRE(params[i] == 0.0f);

    // The clipping scale is wired in: the same step without it moves the parameters differently.
    std::vector<float> p1 = params, p2 = params, m1 = m, m2 = m, v1 = v, v2 = v;
    const std::vector<float> g(n, 1e-3f);
    s.step = 7;
    s.grad_scale = 1.0;
    adamw_update(layout, s, p1, g, m1, v1);
    s.grad_scale = 0.1;
    adamw_update(layout, s, p2, g, m2, v2);
    CHECK(p1 != p2);
}

TEST_CASE("EWA buffers of several decays, read bias-corrected, are the normalised geometric "
          "averages of the iterates",
          "[lm]") {
    const std::size_t n = 5;
    const std::int64_t steps = 40;
    for (const double tau : {0.5, 0.9, 0.99}) {
        std::vector<float> ewa(n, 0.0f); // zero-initialised, as in the study
        std::vector<std::vector<float>> iterates;
        for (std::int64_t t = 1; t <= steps; ++t) {
            std::vector<float> theta(n);
            for (std::size_t i = 0; i < n; ++i)
                theta[i] = static_cast<float>(std::sin(0.3 * static_cast<double>(t) + i) + 2.0);
            iterates.push_back(theta);
            ewa_update(tau, ewa, theta);
        }
        std::vector<float> corrected(n);
        ewa_bias_corrected(tau, steps, ewa, corrected);
        for (std::size_t i = 0; i < n; ++i) {
            // sum_k (1 - tau) tau^(T-k) theta_k / (1 - tau^T): weights sum to one.
            double num = 0, den = 0;
            for (std::int64_t k = 1; k <= steps; ++k) {
                const double w = (1 - tau) * std::pow(tau, static_cast<double>(steps - k));
                num += w * iterates[static_cast<std::size_t>(k - 1)][i];
                den += w;
            }
            CHECK(den == Approx(1 - std::pow(tau, static_cast<double>(steps))).epsilon(1e-12));
            // 40 fp32 multiply-adds of O(1) values: ~40 * 6e-8 relative; bound 1e-5.
            CHECK(corrected[i] == Approx(num / den).epsilon(1e-5));
        }
    }
    // Constant iterates: the corrected average is the constant itself at every step (the point
    // of the correction: no pull towards the zero initialisation).
    std::vector<float> ewa(3, 0.0f), corrected(3);
    const std::vector<float> theta = {1.5f, -2.0f, 0.25f};
    for (std::int64_t t = 1; t <= 10; ++t) {
        ewa_update(0.999, ewa, theta);
        ewa_bias_corrected(0.999, t, ewa, corrected);
        for (std::size_t i = 0; i < 3; ++i)
            CHECK(corrected[i] == Approx(theta[i]).epsilon(1e-4));
        CHECK(std::abs(ewa[0]) < 0.02f); // uncorrected, it is still near zero
    }
}

TEST_CASE("the squared gradient norm behind clipping is the fp64 sum of squares", "[lm]") {
    std::mt19937_64 rng(11);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    for (const std::size_t n :
         {std::size_t{1}, std::size_t{63}, std::size_t{1000}, std::size_t{300001}}) {
        std::vector<float> x(n);
        long double ref = 0;
        for (float& e : x) {
            e = normal(rng);
            ref += static_cast<long double>(e) * e;
        }
        // Double accumulation over at most n terms: relative error <= n * 2^-53 ~ 3e-11 here.
        CHECK(squared_norm(x) == Approx(static_cast<double>(ref)).epsilon(1e-10));
    }
}
