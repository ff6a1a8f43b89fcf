// Shared helpers of the LM tests: real-text and synthetic token shards in a scratch directory,
// and a small default configuration.
#pragma once

#include "data/token_shard.hpp"
#include "gpu/lm_options.hpp"
#include "tests/support/paths.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace lmtest {

namespace fs = std::filesystem;

inline fs::path scratch_dir(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("cbs_lm_test_" + std::to_string(::getpid())) / name;
    fs::create_directories(dir);
    return dir;
}

/// The committed real-text sample (data/samples/*.txt, first in name order), byte-tokenized.
/// Falls back to the GPL-3 text Debian ships when the sample directory holds no .txt file.
inline std::vector<std::uint32_t> real_text_bytes(std::string* source = nullptr) {
    std::vector<fs::path> candidates;
    const fs::path samples = fs::path(cbs::test::source_dir()) / "data" / "samples";
    std::error_code ec;
    if (fs::is_directory(samples, ec))
        for (const auto& e : fs::directory_iterator(samples))
            if (e.path().extension() == ".txt") candidates.push_back(e.path());
    std::sort(candidates.begin(), candidates.end());
    candidates.push_back("/usr/share/common-licenses/GPL-3");
    for (const fs::path& p : candidates) {
        std::ifstream in(p, std::ios::binary);
        if (!in) continue;
        std::ostringstream s;
        s << in.rdbuf();
        const std::string text = s.str();
        if (text.size() < 20000) continue;
        if (source) *source = p.string();
        std::vector<std::uint32_t> bytes;
        bytes.reserve(text.size());
        for (const char ch : text)
            bytes.push_back(static_cast<unsigned char>(ch));
        return bytes;
    }
    return {};
}

/// Unigram (byte-frequency) entropy of `tokens`, in nats.
inline double unigram_entropy(const std::vector<std::uint32_t>& tokens) {
    std::map<std::uint32_t, double> counts;
    for (std::uint32_t t : tokens)
        counts[t] += 1;
    double h = 0;
    const double n = static_cast<double>(tokens.size());
    for (const auto& [t, c] : counts)
        h -= c / n * std::log(c / n);
    return h;
}

/// Writes train (first 90%) and val (last 10%) shards of `tokens` into `dir`.
inline void write_split(const fs::path& dir, const std::vector<std::uint32_t>& tokens,
                        std::int64_t vocab) {
    const std::size_t cut = tokens.size() * 9 / 10;
    cbs::data::write_token_shard(dir / "train.bin", std::span(tokens.data(), cut), vocab);
    cbs::data::write_token_shard(dir / "val.bin",
                                 std::span(tokens.data() + cut, tokens.size() - cut), vocab);
}

/// A synthetic stream with learnable structure: a noisy order-2 Markov chain over `vocab`.
inline std::vector<std::uint32_t> synthetic_tokens(std::size_t n, std::uint32_t vocab,
                                                   std::uint64_t seed) {
    std::vector<std::uint32_t> t(n);
    std::uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    auto next = [&] {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    t[0] = 0;
    t[1] = 1;
    for (std::size_t i = 2; i < n; ++i)
        t[i] = next() % 4 == 0 ? static_cast<std::uint32_t>(next() % vocab)
                               : (t[i - 1] * 7 + t[i - 2] * 3 + 1) % vocab;
    return t;
}

/// Options of a small, fast run on shards in `dir`.
inline cbs::lm::LmOptions small_options(const fs::path& dir) {
    cbs::lm::LmOptions o;
    o.train_path = (dir / "train.bin").string();
    o.val_path = (dir / "val.bin").string();
    o.model.d_model = 32;
    o.model.layers = 2;
    o.model.heads = 2;
    o.model.context = 16;
    o.model.vocab = 64;
    o.batch = 8;
    o.steps = 12;
    o.lr = 3e-3;
    o.eval_sequences = 16;
    o.dense_points = 3;
    o.dense_fraction = 0.25;
    return o;
}

} // namespace lmtest
