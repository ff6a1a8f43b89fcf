#include "gpu/param_layout.hpp"

#include "theory/check.hpp"

#include <cmath>
#include <fmt/format.h>

namespace cbs::lm {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Uniform in (0, 1): 53 random bits, never exactly 0 (log is taken).
double uniform_open(std::uint64_t bits) {
    return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

} // namespace

ParamLayout make_param_layout(const ModelConfig& config) {
    config.validate();
    const std::int64_t c = config.d_model;
    const double m = config.width_multiplier();
    const double std0 = config.init_std;
    const double residual_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(config.layers));
    // muP: hidden matrices have both dimensions growing with width: init ~ 1/sqrt(fan_in) relative
    // to the base model, Adam LR ~ 1/fan_in. Vector-like tensors (embedding, gains, read-out with
    // the 1/m output multiplier) keep base init and LR.
    const double hidden_std = std0 / std::sqrt(m);
    const double hidden_lr = 1.0 / m;

    ParamLayout layout;
    auto add = [&](std::string name, TensorRole role, std::int64_t rows, std::int64_t cols) {
        ParamTensor t;
        t.name = std::move(name);
        t.role = role;
        t.rows = rows;
        t.cols = cols;
        t.offset = layout.total;
        switch (role) {
        case TensorRole::embedding:
        case TensorRole::readout:
            t.init_std = std0;
            break;
        case TensorRole::gain:
            t.init_std = 0;
            t.weight_decay = false;
            break;
        case TensorRole::hidden:
            t.init_std = hidden_std;
            t.lr_multiplier = hidden_lr;
            break;
        case TensorRole::residual:
            t.init_std = hidden_std * residual_scale;
            t.lr_multiplier = hidden_lr;
            break;
        }
        layout.total += (t.size() + kAlignment - 1) / kAlignment * kAlignment;
        layout.tensors.push_back(std::move(t));
        return static_cast<int>(layout.tensors.size() - 1);
    };

    layout.wte = add("wte", TensorRole::embedding, config.vocab, c);
    for (std::int64_t l = 0; l < config.layers; ++l) {
        const std::string p = fmt::format("layers.{}.", l);
        BlockTensors b{};
        b.ln1 = add(p + "ln1", TensorRole::gain, 1, c);
        b.qkv = add(p + "qkv", TensorRole::hidden, 3 * c, c);
        b.q_norm = add(p + "q_norm", TensorRole::gain, 1, c);
        b.k_norm = add(p + "k_norm", TensorRole::gain, 1, c);
        b.attn_out = add(p + "attn_out", TensorRole::residual, c, c);
        b.ln2 = add(p + "ln2", TensorRole::gain, 1, c);
        b.fc_up = add(p + "fc_up", TensorRole::hidden, 4 * c, c);
        b.fc_down = add(p + "fc_down", TensorRole::residual, c, 4 * c);
        layout.blocks.push_back(b);
    }
    layout.ln_f = add("ln_f", TensorRole::gain, 1, c);
    layout.lm_head = add("lm_head", TensorRole::readout, config.vocab, c);
    return layout;
}

std::vector<float> init_parameters(const ParamLayout& layout, std::uint64_t seed) {
    std::vector<float> params(static_cast<std::size_t>(layout.total), 0.0f);
    for (std::size_t ti = 0; ti < layout.tensors.size(); ++ti) {
        const ParamTensor& t = layout.tensors[ti];
        float* out = params.data() + t.offset;
        if (t.role == TensorRole::gain) {
            for (std::int64_t i = 0; i < t.size(); ++i)
                out[i] = 1.0f;
            continue;
        }
        // Counter-based: element i of tensor ti uses splitmix64 of (seed, ti, i) only.
        const std::uint64_t stream = splitmix64(seed ^ splitmix64(0x5eedULL + ti));
        for (std::int64_t i = 0; i < t.size(); i += 2) {
            const std::uint64_t k = static_cast<std::uint64_t>(i);
            const double u1 = uniform_open(splitmix64(stream + 2 * k));
            const double u2 = uniform_open(splitmix64(stream + 2 * k + 1));
            const double r = std::sqrt(-2.0 * std::log(u1));
            const double a = 2.0 * M_PI * u2;
            out[i] = static_cast<float>(t.init_std * r * std::cos(a));
            if (i + 1 < t.size()) out[i + 1] = static_cast<float>(t.init_std * r * std::sin(a));
        }
    }
    return params;
}

} // namespace cbs::lm
