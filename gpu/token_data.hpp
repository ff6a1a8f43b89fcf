// Token streams for LM training: a shard cut into sequences of context + 1 tokens (inputs and
// shifted targets), and the order in which training visits them.
#pragma once

#include "gpu/model_config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace cbs::lm {

/// Non-overlapping windows of a token stream: sequence i is tokens [i T, i T + T + 1).
class TokenSequences {
public:
    TokenSequences(std::vector<std::uint32_t> tokens, std::int64_t context);
    std::int64_t count() const { return count_; }
    std::int64_t context() const { return context_; }
    /// Copies the context + 1 tokens of sequence `index` (< count()) to `out`.
    void copy(std::int64_t index, std::uint32_t* out) const;

private:
    std::vector<std::uint32_t> tokens_;
    std::int64_t context_ = 0;
    std::int64_t count_ = 0;
};

/// Reads the shard at `path` (data/token_shard.hpp validates it) for `model`. Throws
/// cbs::UserError naming `key` and the path when the shard holds a token >= model.vocab or fewer
/// than context + 1 tokens.
TokenSequences load_sequences(const std::string& key, const std::string& path,
                              const ModelConfig& model);

/// The training order: epoch e visits the sequences in a permutation drawn from (seed, e), so
/// the sequence of global position g is a pure function of (seed, g) — resuming needs no state.
class DataOrder {
public:
    DataOrder(std::int64_t count, std::uint64_t seed);
    std::int64_t sequence(std::int64_t position);

private:
    std::int64_t count_;
    std::uint64_t seed_;
    std::int64_t epoch_ = -1;
    std::vector<std::int64_t> perm_;
};

} // namespace cbs::lm
