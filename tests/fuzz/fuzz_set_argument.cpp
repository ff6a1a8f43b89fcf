// Fuzz target: `--set` arguments, one per input line -> parse_set_argument -> option resolution
// and sweep expansion (as `cbs simulate/sweep --set ...` does after any config file).
// Seeds: corpus/fuzz_set_argument/.
#include "fuzz_config_checks.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text = cbs::fuzz::as_text(data, size);
    cbs::exp::ConfigEntries entries;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const std::size_t end = std::min(text.find('\n', begin), text.size());
        try {
            entries.push_back(cbs::exp::parse_set_argument(text.substr(begin, end - begin)));
        } catch (const cbs::UserError&) {
            return 0;
        }
        begin = end + 1;
    }
    cbs::fuzz::check_entries(entries);
    return 0;
}
