#include "gpu/token_data.hpp"

#include "data/token_shard.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>

namespace cbs::lm {

TokenSequences::TokenSequences(std::vector<std::uint32_t> tokens, std::int64_t context)
    : tokens_(std::move(tokens)), context_(context) {
    CBS_CHECK(context >= 1);
    const auto n = static_cast<std::int64_t>(tokens_.size());
    count_ = n >= context + 1 ? (n - 1) / context : 0;
}

void TokenSequences::copy(std::int64_t index, std::uint32_t* out) const {
    CBS_CHECK(index >= 0 && index < count_, "sequence ", index, " of ", count_);
    std::copy_n(tokens_.begin() + index * context_, context_ + 1, out);
}

TokenSequences load_sequences(const std::string& key, const std::string& path,
                              const ModelConfig& model) {
    std::vector<std::uint32_t> tokens = data::read_token_shard(path);
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n < model.context + 1)
        throw UserError(fmt::format("`{}` = {}: holds {} tokens, fewer than model.context + 1 = {}",
                                    key, path, n, model.context + 1));
    const auto max_it = std::max_element(tokens.begin(), tokens.end());
    if (static_cast<std::int64_t>(*max_it) >= model.vocab)
        throw UserError(
            fmt::format("`{}` = {}: holds token {} (at position {}), outside `model.vocab` = {}",
                        key, path, *max_it, max_it - tokens.begin(), model.vocab));
    return TokenSequences(std::move(tokens), model.context);
}

DataOrder::DataOrder(std::int64_t count, std::uint64_t seed) : count_(count), seed_(seed) {
    CBS_CHECK(count >= 1);
}

std::int64_t DataOrder::sequence(std::int64_t position) {
    const std::int64_t epoch = position / count_;
    if (epoch != epoch_) {
        // Fisher-Yates with a splitmix64 stream of (seed, epoch): portable and reproducible.
        perm_.resize(static_cast<std::size_t>(count_));
        std::iota(perm_.begin(), perm_.end(), std::int64_t{0});
        std::uint64_t state = seed_ * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(epoch) +
                              0x632be59bd9b4e019ULL;
        for (std::int64_t i = count_ - 1; i > 0; --i) {
            state += 0x9e3779b97f4a7c15ULL;
            std::uint64_t z = state;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            const auto j = static_cast<std::int64_t>(z % static_cast<std::uint64_t>(i + 1));
            std::swap(perm_[static_cast<std::size_t>(i)], perm_[static_cast<std::size_t>(j)]);
        }
        epoch_ = epoch;
    }
    return perm_[static_cast<std::size_t>(position % count_)];
}

} // namespace cbs::lm
