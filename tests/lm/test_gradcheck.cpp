// Finite-difference gradient check of the CPU reference transformer, for every parameter tensor,
// under SP and muP; then the fp32 backward against the fp64 one.
//
// Bounds. In fp64 the central difference (L(x+h) - L(x-h)) / 2h has truncation error
// h^2 |L'''| / 6 and rounding error ~ eps_64 |L| / h. With h = 1e-5, |L| ~ 2.4 and |L'''| = O(10)
// on these tiny models: truncation ~2e-10, rounding ~3e-11 per element. We require
//   |fd - analytic| <= 1e-8 + 1e-5 |analytic|   per element, and
//   ||fd - analytic|| / ||analytic|| <= 1e-6    per tensor,
// which leaves a margin of ~30x over the worst observed while a wrong term (a missing factor, a
// dropped path) gives O(1) relative error. The fp32 backward repeats the same arithmetic with
// eps_32 = 6e-8 per operation over reductions of length <= N*V ~ 100; its per-tensor relative
// error against fp64 is bounded by 1e-4 (observed ~1e-6, the bound allows sqrt(n)-growth of
// rounding in the longest reductions with a wide margin).
#include "gpu/param_layout.hpp"
#include "gpu/reference/reference_model.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace cbs::lm;

namespace {

ModelConfig tiny_config(Parameterization p) {
    ModelConfig c;
    c.d_model = 16;
    c.layers = 2;
    c.heads = 2;
    c.context = 6;
    c.vocab = 11;
    c.parameterization = p;
    c.mup_base_width = 8; // muP width multiplier 2: the 1/m factors are exercised
    c.init_std = 0.3;     // large enough that every path contributes visibly to the loss
    return c;
}

std::vector<std::uint32_t> random_tokens(std::int64_t batch, const ModelConfig& c,
                                         std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::uint32_t> dist(0, static_cast<std::uint32_t>(c.vocab - 1));
    std::vector<std::uint32_t> t(static_cast<std::size_t>(batch * (c.context + 1)));
    for (auto& x : t)
        x = dist(rng);
    return t;
}

struct TensorError {
    double max_element_excess = 0; // max over elements of |fd - an| - (atol + rtol |an|)
    double relative = 0;           // ||fd - an|| / ||an||
};

void check_gradients(Parameterization p) {
    const ModelConfig config = tiny_config(p);
    const ParamLayout layout = make_param_layout(config);
    const std::vector<float> init = init_parameters(layout, 7);
    std::vector<double> params(init.begin(), init.end());
    // Gains away from 1 so that their gradients are generic.
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0.0, 0.2);
    for (const ParamTensor& t : layout.tensors)
        if (t.role == TensorRole::gain)
            for (std::int64_t i = 0; i < t.size(); ++i)
                params[static_cast<std::size_t>(t.offset + i)] += noise(rng);

    const std::int64_t batch = 2;
    const std::vector<std::uint32_t> tokens = random_tokens(batch, config, 11);
    ReferenceTransformer<double> model(config, layout);
    const double loss = model.forward(params.data(), tokens, batch);
    std::vector<double> grads(params.size(), 0.0);
    model.backward(params.data(), grads.data(), 1.0);
    INFO("loss " << loss);
    CHECK(std::isfinite(loss));

    const double h = 1e-5, atol = 1e-8, rtol = 1e-5;
    std::mt19937 pick(5);
    double worst = 0;
    std::string worst_name;
    for (const ParamTensor& t : layout.tensors) {
        // Every element of small tensors, 40 random ones of larger tensors.
        std::vector<std::int64_t> idx;
        if (t.size() <= 64) {
            for (std::int64_t i = 0; i < t.size(); ++i)
                idx.push_back(i);
        } else {
            std::uniform_int_distribution<std::int64_t> d(0, t.size() - 1);
            for (int k = 0; k < 40; ++k)
                idx.push_back(d(pick));
        }
        double num = 0, den = 0, excess = -1;
        for (std::int64_t i : idx) {
            const auto at = static_cast<std::size_t>(t.offset + i);
            const double saved = params[at];
            params[at] = saved + h;
            const double up = model.forward(params.data(), tokens, batch, false);
            params[at] = saved - h;
            const double down = model.forward(params.data(), tokens, batch, false);
            params[at] = saved;
            const double fd = (up - down) / (2 * h), an = grads[at];
            num += (fd - an) * (fd - an);
            den += an * an;
            excess = std::max(excess, std::abs(fd - an) - (atol + rtol * std::abs(an)));
        }
        const double rel = std::sqrt(num / std::max(den, 1e-300));
        INFO(to_string(p) << " tensor " << t.name << ": relative error " << rel << ", grad norm "
                          << std::sqrt(den));
        CHECK(den > 0); // every tensor receives gradient
        CHECK(excess <= 0);
        CHECK(rel <= 1e-6);
        worst = std::max(worst, rel);
        if (rel >= worst) worst_name = t.name;
    }

    WARN(to_string(p) << ": largest per-tensor relative error vs finite differences " << worst
                      << " (" << worst_name << ")");

    // fp32 backward against fp64 on the same (rounded) parameters.
    std::vector<float> pf(params.begin(), params.end());
    std::vector<double> pd(pf.begin(), pf.end());
    ReferenceTransformer<float> model32(config, layout);
    ReferenceTransformer<double> model64(config, layout);
    const double l32 = model32.forward(pf.data(), tokens, batch);
    const double l64 = model64.forward(pd.data(), tokens, batch);
    CHECK(std::abs(l32 - l64) <= 1e-5 * std::abs(l64));
    std::vector<float> g32(pf.size(), 0.0f);
    std::vector<double> g64(pd.size(), 0.0);
    model32.backward(pf.data(), g32.data(), 1.0);
    model64.backward(pd.data(), g64.data(), 1.0);
    double worst32 = 0;
    for (const ParamTensor& t : layout.tensors) {
        double num = 0, den = 0;
        for (std::int64_t i = 0; i < t.size(); ++i) {
            const auto at = static_cast<std::size_t>(t.offset + i);
            num += (g32[at] - g64[at]) * (g32[at] - g64[at]);
            den += g64[at] * g64[at];
        }
        const double rel = std::sqrt(num / den);
        INFO(to_string(p) << " fp32 vs fp64 " << t.name << ": " << rel);
        CHECK(rel <= 1e-4);
        worst32 = std::max(worst32, rel);
    }
    WARN(to_string(p) << ": largest per-tensor relative error fp32 vs fp64 backward " << worst32);
}

} // namespace

TEST_CASE("CPU transformer gradients match finite differences for every tensor (SP)", "[lm]") {
    check_gradients(Parameterization::sp);
}

TEST_CASE("CPU transformer gradients match finite differences for every tensor (muP)", "[lm]") {
    check_gradients(Parameterization::mup);
}

TEST_CASE("muP at its base width is SP exactly", "[lm]") {
    ModelConfig sp = tiny_config(Parameterization::sp);
    ModelConfig mup = tiny_config(Parameterization::mup);
    mup.mup_base_width = mup.d_model;
    const ParamLayout ls = make_param_layout(sp), lm = make_param_layout(mup);
    const std::vector<float> ps = init_parameters(ls, 1), pm = init_parameters(lm, 1);
    CHECK(ps == pm);
    const auto tokens = random_tokens(2, sp, 1);
    ReferenceTransformer<float> a(sp, ls), b(mup, lm);
    CHECK(a.forward(ps.data(), tokens, 2) == b.forward(pm.data(), tokens, 2));
    // And at width multiplier 2 the hidden tensors carry the muP factors.
    const ParamLayout l2 = make_param_layout(tiny_config(Parameterization::mup));
    CHECK(l2[l2.blocks[0].qkv].lr_multiplier == Approx(0.5));
    CHECK(l2[l2.blocks[0].qkv].init_std == Approx(0.3 / std::sqrt(2.0)));
    CHECK(l2[l2.lm_head].lr_multiplier == 1.0);
    CHECK(tiny_config(Parameterization::mup).logit_multiplier() == Approx(0.5));
}
