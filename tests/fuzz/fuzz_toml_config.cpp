// Fuzz target: TOML text -> parse_toml -> simulation / LM option resolution and sweep expansion.
// Seeds: corpus/fuzz_toml_config/ (the studies in experiments/studies and test configs).
#include "fuzz_config_checks.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cbs::exp::ConfigEntries entries;
    try {
        entries = cbs::exp::parse_toml(cbs::fuzz::as_text(data, size), "fuzz.toml");
    } catch (const cbs::UserError&) {
        return 0;
    }
    cbs::fuzz::check_entries(entries);
    return 0;
}
