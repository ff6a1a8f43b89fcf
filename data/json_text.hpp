// Small text utilities for the data pipeline: UTF-8 validation and reading one string field from a
// JSON object (C4's `{"text": ..., "url": ..., "timestamp": ...}` lines).
//
// The JSON reader is a strict RFC 8259 parser for one object per call: it walks every value (so a
// malformed line is refused wherever the error is), decodes the wanted field's escapes including
// \uXXXX and UTF-16 surrogate pairs, and rejects lone surrogates, control characters inside
// strings, trailing garbage and invalid UTF-8. It keeps no document tree.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cbs::data {

/// Byte offset of the first invalid UTF-8 sequence in `text` (overlong forms, surrogates
/// U+D800..U+DFFF and code points over U+10FFFF are invalid), or nullopt if `text` is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

/// A malformed JSON text; what() says what is wrong, offset() is the byte offset in the input.
class JsonError : public std::runtime_error {
public:
    JsonError(const std::string& what, std::size_t offset)
        : std::runtime_error(what), offset_(offset) {}
    std::size_t offset() const { return offset_; }

private:
    std::size_t offset_;
};

/// Parses `json`, which must be exactly one JSON object (surrounding whitespace allowed), and
/// returns the decoded value of its top-level field `key` (UTF-8). Returns nullopt when the object
/// has no such field. Throws JsonError if the text is not a valid JSON object (including invalid
/// UTF-8), or if the field's value is not a string. With duplicate keys the last one wins.
std::optional<std::string> json_string_field(std::string_view json, std::string_view key);

} // namespace cbs::data
