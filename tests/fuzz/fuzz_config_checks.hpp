// What the two configuration targets (fuzz_toml_config, fuzz_set_argument) do with entries that
// parsed: resolve them as simulation options and as LM options, check that whatever resolves is
// reproducible from its own resolved TOML (the text stored in every output file), and expand them
// as a sweep the way `cbs sweep` does before running anything.
#pragma once

#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/sweep.hpp"
#include "fuzz_support.hpp"
#include "gpu/lm_options.hpp"
#include "theory/check.hpp"

#include <string>
#include <utility>
#include <vector>

namespace cbs::fuzz {

/// Sweeps larger than this are not expanded here: expansion is linear in the points (allowed up to
/// 10^7, see sweep.cpp) and the fuzzer would spend its time copying entries, not finding bugs.
inline constexpr std::size_t kMaxFuzzPoints = 256;

inline std::vector<std::pair<std::string, std::string>> as_pairs(const exp::ConfigEntries& e) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const exp::ConfigEntry& entry : e)
        pairs.emplace_back(entry.key, entry.value);
    return pairs;
}

inline void check_sim_options(const exp::ConfigEntries& entries) {
    sim::SimOptions options;
    try {
        options = exp::resolve_sim_options(entries);
    } catch (const UserError&) {
        return;
    }
    // Accepted options must survive their own resolved TOML unchanged (same run id).
    const std::string toml = exp::to_toml(options);
    const sim::SimOptions again = exp::resolve_sim_options(exp::parse_toml(toml, "resolved"));
    FUZZ_REQUIRE(exp::to_toml(again) == toml, toml);
    FUZZ_REQUIRE(exp::run_id(again) == exp::run_id(options), toml);
    (void)exp::to_attributes(options);
}

inline void check_lm_options(const exp::ConfigEntries& entries) {
    lm::LmOptions options;
    try {
        options = lm::resolve_lm_options(as_pairs(entries));
    } catch (const UserError&) {
        return;
    }
    const std::string toml = lm::to_toml(options);
    const lm::LmOptions again = lm::resolve_lm_options(as_pairs(exp::parse_toml(toml, "resolved")));
    FUZZ_REQUIRE(lm::to_toml(again) == toml, toml);
    // What a training run derives from the options before it starts.
    (void)options.total_steps();
    (void)options.model.total_parameters();
    (void)options.model.flops_per_token();
    (void)lm::to_attributes(options);
    (void)lm::run_id(options);
}

/// Points of the sweep `entries` describe, or 0 when some axis is malformed (expand_axes then
/// throws UserError itself) — computed the way expand_axes finds its axes.
inline std::size_t sweep_points(const exp::ConfigEntries& entries) {
    std::size_t points = 1;
    for (const exp::ConfigEntry& e : entries) {
        if (!exp::is_list_value(e.value) || exp::is_list_valued_key(e.key)) continue;
        try {
            points *= exp::list_items(e.key, e.value).size();
        } catch (const UserError&) {
            return 0;
        }
        if (points > kMaxFuzzPoints) return points;
    }
    return points;
}

inline void check_sweep(const exp::ConfigEntries& entries) {
    if (sweep_points(entries) > kMaxFuzzPoints) return;
    try {
        const std::vector<exp::ConfigEntries> points = exp::expand_axes(entries);
        (void)exp::make_sweep_runs(points); // resolves and validates every point, runs nothing
    } catch (const UserError&) {
    }
}

inline void check_entries(const exp::ConfigEntries& entries) {
    check_sim_options(entries);
    check_lm_options(entries);
    check_sweep(entries);
}

} // namespace cbs::fuzz
