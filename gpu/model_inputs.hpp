// What the CPU models (reference/ and cpu/) do first with a batch: split the token rows into
// inputs and next-token targets, and build the RoPE tables. One definition, so both backends see
// exactly the same positions, angles and checks.
#pragma once

#include "gpu/model_config.hpp"

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace cbs::lm {

/// tokens (batch, T + 1) row-major -> inputs and targets (batch * T each): columns [0, T) and
/// [1, T + 1) of every row. Checks (CBS_CHECK: a caller's bug, shards are validated when read)
/// batch >= 1, the size, and every token < vocab.
void split_tokens(std::span<const std::uint32_t> tokens, std::int64_t batch,
                  const ModelConfig& config, std::uint32_t* inputs, std::uint32_t* targets);

/// RoPE: cos and sin of t * rope_base^(-2i/D) for positions t < T and pairs i < D/2, (T, D/2)
/// row-major, computed in double and rounded to T.
template <typename T>
void rope_tables(const ModelConfig& config, std::vector<T>& cos_t, std::vector<T>& sin_t) {
    const std::int64_t t_len = config.context, half = config.head_dim() / 2;
    cos_t.assign(static_cast<std::size_t>(t_len * half), T(0));
    sin_t.assign(static_cast<std::size_t>(t_len * half), T(0));
    for (std::int64_t t = 0; t < t_len; ++t)
        for (std::int64_t i = 0; i < half; ++i) {
            const double freq =
                std::pow(config.rope_base,
                         -2.0 * static_cast<double>(i) / static_cast<double>(config.head_dim()));
            const auto k = static_cast<std::size_t>(t * half + i);
            cos_t[k] = static_cast<T>(std::cos(static_cast<double>(t) * freq));
            sin_t[k] = static_cast<T>(std::sin(static_cast<double>(t) * freq));
        }
}

} // namespace cbs::lm
