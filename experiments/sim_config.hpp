// The configuration keys of one simulation (names of THEORY.md) and their mapping onto
// sim::SimOptions, declared in the shared key registry (data/config_registry.hpp): one table
// drives parsing, refusal messages, --help, the resolved TOML that is stored in output files and
// the HDF5 run attributes, so the four can never disagree.
#pragma once

#include "data/config_registry.hpp"
#include "data/study_file.hpp"
#include "experiments/config_source.hpp"
#include "simulators/sim_options.hpp"

#include <string>
#include <utility>
#include <vector>

namespace cbs::exp {

using KeyInfo = config::KeyInfo;

/// Every simulation key in a stable, documented order.
std::vector<KeyInfo> simulation_keys();

/// Applies entries in order (later ones win) on top of the defaults, then validates.
/// Throws cbs::UserError ("`key` = value: rule") for an unknown key, an unparsable value, or a
/// violated rule.
sim::SimOptions resolve_sim_options(const ConfigEntries& entries);

/// The resolved options as TOML text (dotted keys, one per line), loadable by parse_toml().
std::string to_toml(const sim::SimOptions& options);

/// The resolved options as typed attributes for an HDF5 run group.
std::vector<std::pair<std::string, data::AttrValue>> to_attributes(const sim::SimOptions& options);

/// Help text listing every key with its default, for `cbs --help` and `cbs simulate --help`.
std::string keys_help();

} // namespace cbs::exp
