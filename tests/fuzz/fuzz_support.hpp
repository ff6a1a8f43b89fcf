// Shared pieces of the libFuzzer targets (tests/fuzz/*.cpp).
//
// Contract of every target: cbs::UserError is the expected answer to hostile input and is caught;
// anything else that escapes (InternalError, std::bad_alloc, std::length_error, ...), a sanitizer
// report, or a violated property checked with FUZZ_REQUIRE is a finding: libFuzzer stops, saves
// the input as crash-<sha1>, and scripts/fuzz.sh fails.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

/// A property of the code under test; a violation aborts (so libFuzzer records the input).
#define FUZZ_REQUIRE(cond, what)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, #cond, \
                         std::string(what).c_str());                                               \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace cbs::fuzz {

/// A per-process scratch path (libFuzzer's -fork/-jobs run several processes at once).
inline std::filesystem::path scratch_path(const std::string& name) {
    return std::filesystem::temp_directory_path() /
           ("cbs-fuzz-" + std::to_string(::getpid()) + "-" + name);
}

/// Writes `size` bytes to `path` (truncating); aborts if the scratch file cannot be written,
/// which is an environment problem, not a finding about the input.
inline void write_file(const std::filesystem::path& path, const std::uint8_t* data,
                       std::size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    FUZZ_REQUIRE(f != nullptr, path.string());
    FUZZ_REQUIRE(size == 0 || std::fwrite(data, 1, size, f) == size, path.string());
    FUZZ_REQUIRE(std::fclose(f) == 0, path.string());
}

inline std::string as_text(const std::uint8_t* data, std::size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

} // namespace cbs::fuzz
