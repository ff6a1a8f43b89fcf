// JSON written by cbs: the CLI's `--json` output (docs/json.md) and the manifest of prepared token
// shards. Documents are built as nlohmann-json values and written by json_line(), which keeps the
// documented layout (`{"key": value, ...}` on one line, keys in insertion order) and number form
// (shortest round-trip, 20 not 20.0; null where not finite). Strings, with their escapes, are
// written by nlohmann-json.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace cbs::data {

/// A JSON value whose objects keep their keys in insertion order (the documented order).
using Json = nlohmann::ordered_json;

/// `v` as a JSON number, or null when it is not finite (an infinite CBS, a missing interval).
Json json_number(double v);

/// `value` on one line, `": "` after keys and `", "` between items, no trailing newline.
/// Floats in their shortest round-trip form and null where not finite; invalid UTF-8 in a string
/// is replaced by U+FFFD.
std::string json_line(const Json& value);

} // namespace cbs::data
