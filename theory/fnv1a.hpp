// FNV-1a, the 64-bit hash behind run ids (of the resolved TOML), spectrum-file contents and
// checkpoint checksums. Not cryptographic: it tells apart configurations and detects torn files.
// Chaining: fnv1a(b, fnv1a(a)) hashes the bytes of a then b.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cbs {

inline constexpr std::uint64_t kFnv1aBasis = 0xcbf29ce484222325ULL;

inline std::uint64_t fnv1a(const void* bytes, std::size_t n, std::uint64_t hash = kFnv1aBasis) {
    const auto* p = static_cast<const unsigned char*>(bytes);
    for (std::size_t i = 0; i < n; ++i) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL; // FNV prime
    }
    return hash;
}

inline std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = kFnv1aBasis) {
    return fnv1a(text.data(), text.size(), hash);
}

} // namespace cbs
