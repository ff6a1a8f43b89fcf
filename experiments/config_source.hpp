// Where configuration comes from: TOML files and `--set key=value` arguments, both flattened to
// an ordered list of (dotted key, value text) pairs. Interpreting the values is the job of the
// component's key table (e.g. sim_config.hpp); this layer only parses syntax.
#pragma once

#include "data/config_registry.hpp"

#include <string>
#include <utility>
#include <vector>

namespace cbs::exp {

/// One configuration entry: `key` is dotted ("spectrum.a"), `value` is its text ("2.5", "inf",
/// "cosine", "[1, 2, 4]" for an array). `source` says where it came from, for messages.
using ConfigEntry = config::Entry;
using ConfigEntries = std::vector<ConfigEntry>;

/// Parses TOML text; nested tables are flattened to dotted keys (sorted; TOML forbids duplicates).
/// Throws cbs::UserError("<source>:<line>:<col>: <toml error>") on a syntax error.
ConfigEntries parse_toml(const std::string& text, const std::string& source);

/// Reads and parses a TOML file; throws cbs::UserError naming the path if it cannot be read.
ConfigEntries load_toml_file(const std::string& path);

/// Parses one `--set` argument "key=value" (spaces around '=' allowed; value must be non-empty).
/// Throws cbs::UserError naming the argument and the rule when malformed.
ConfigEntry parse_set_argument(const std::string& argument);

} // namespace cbs::exp
