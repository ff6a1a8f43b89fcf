// Writing TOML text: a string as a TOML basic string ("..."), so that the resolved configuration
// written into every output file parses back to the same value whatever the string holds.
#pragma once

#include <string>
#include <string_view>

namespace cbs::data {

/// `text` quoted as a TOML basic string: `"` and `\` escaped, control characters (U+0000..U+001F,
/// U+007F) as \b \t \n \f \r or \uXXXX; everything else (UTF-8 included) kept as it is.
std::string toml_basic_string(std::string_view text);

} // namespace cbs::data
