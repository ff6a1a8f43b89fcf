#include "gpu/model_inputs.hpp"

#include "theory/check.hpp"

#include <algorithm>

namespace cbs::lm {

void split_tokens(std::span<const std::uint32_t> tokens, std::int64_t batch,
                  const ModelConfig& config, std::uint32_t* inputs, std::uint32_t* targets) {
    const std::int64_t t_len = config.context;
    const auto vocab = static_cast<std::uint32_t>(config.vocab);
    CBS_CHECK(batch >= 1, "batch ", batch);
    CBS_CHECK(static_cast<std::int64_t>(tokens.size()) == batch * (t_len + 1), "tokens ",
              tokens.size(), " != batch * (context + 1) = ", batch * (t_len + 1));
    for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t t = 0; t < t_len; ++t) {
            const std::uint32_t in = tokens[static_cast<std::size_t>(b * (t_len + 1) + t)];
            const std::uint32_t out = tokens[static_cast<std::size_t>(b * (t_len + 1) + t + 1)];
            CBS_CHECK(in < vocab && out < vocab, "token out of range: ", std::max(in, out),
                      " >= vocab ", config.vocab);
            inputs[b * t_len + t] = in;
            targets[b * t_len + t] = out;
        }
}

} // namespace cbs::lm
