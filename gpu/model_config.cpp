#include "gpu/model_config.hpp"

#include "theory/check.hpp"

#include <cmath>
#include <fmt/format.h>

namespace cbs::lm {

const char* to_string(Parameterization p) {
    return p == Parameterization::sp ? "sp" : "mup";
}

Parameterization parse_parameterization(const std::string& key, const std::string& text) {
    if (text == "sp") return Parameterization::sp;
    if (text == "mup") return Parameterization::mup;
    throw UserError(fmt::format("`{}` = {}: must be sp or mup", key, text));
}

double ModelConfig::width_multiplier() const {
    if (parameterization == Parameterization::sp) return 1.0;
    return static_cast<double>(d_model) / static_cast<double>(mup_base_width);
}

double ModelConfig::attention_scale() const {
    const double hd = static_cast<double>(head_dim());
    if (parameterization == Parameterization::sp) return 1.0 / std::sqrt(hd);
    const double base_hd = static_cast<double>(mup_base_width / heads);
    return std::sqrt(base_hd) / hd;
}

double ModelConfig::logit_multiplier() const {
    return 1.0 / width_multiplier();
}

std::int64_t ModelConfig::non_embedding_parameters() const {
    const std::int64_t c = d_model;
    // Per block: qkv 3C^2, out C^2, MLP 8C^2, gains ln1, q_norm, k_norm, ln2 (4C).
    return layers * (12 * c * c + 4 * c) + c;
}

std::int64_t ModelConfig::total_parameters() const {
    return non_embedding_parameters() + 2 * vocab * d_model;
}

double ModelConfig::flops_per_token() const {
    const double matmul_params =
        static_cast<double>(layers * 12 * d_model * d_model) + static_cast<double>(vocab * d_model);
    return 6.0 * matmul_params + 12.0 * static_cast<double>(layers * context * d_model);
}

void ModelConfig::validate() const {
    auto refuse = [](const char* key, auto value, const std::string& rule) {
        throw UserError(fmt::format("`{}` = {}: {}", key, value, rule));
    };
    // Upper bounds keep parameter and FLOP counts (products of these) far inside int64.
    if (d_model < 2 || d_model > 65536)
        refuse("model.d_model", d_model, "must be an integer in [2, 65536]");
    if (layers < 1 || layers > 1024)
        refuse("model.layers", layers, "must be an integer in [1, 1024]");
    if (heads < 1) refuse("model.heads", heads, "must be >= 1");
    if (d_model % heads != 0)
        refuse("model.heads", heads, fmt::format("must divide `model.d_model` = {}", d_model));
    if (head_dim() % 2 != 0)
        refuse("model.heads", heads,
               fmt::format("head_dim = d_model / heads = {} must be even (RoPE rotates pairs)",
                           head_dim()));
    if (context < 1 || context > 1'048'576)
        refuse("model.context", context, "must be an integer in [1, 1048576]");
    if (vocab < 2 || vocab > 4'294'967'296)
        refuse("model.vocab", vocab, "must be an integer in [2, 2^32] (uint32 token shards)");
    if (parameterization == Parameterization::mup) {
        if (mup_base_width < 1 || mup_base_width > 65536 || mup_base_width % heads != 0)
            refuse("model.mup_base_width", mup_base_width,
                   fmt::format("must be in [1, 65536] and divisible by `model.heads` = {}", heads));
    }
    if (!(init_std > 0) || !std::isfinite(init_std))
        refuse("model.init_std", init_std, "must be a finite number > 0");
    if (!(rope_base > 1) || !std::isfinite(rope_base))
        refuse("model.rope_base", rope_base, "must be a finite number > 1");
}

} // namespace cbs::lm
