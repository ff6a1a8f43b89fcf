// UTF-8 validation and a strict single-object JSON reader (see json_text.hpp).
#include "data/json_text.hpp"

#include <cstdint>
#include <cstdio>

namespace cbs::data {

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) { // 0xC0, 0xC1 would only start overlong forms
            len = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (i + len > n) return i;
        for (std::size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0u) != 0x80u) return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
        i += len;
    }
    return std::nullopt;
}

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// Recursive-descent walker over one JSON text. Nesting depth is bounded so a hostile line cannot
/// overflow the stack.
class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    std::optional<std::string> top_level_field(std::string_view key) {
        skip_ws();
        expect('{', "expected a JSON object ('{')");
        std::optional<std::string> found;
        skip_ws();
        if (peek() == '}') {
            ++pos_;
        } else {
            while (true) {
                skip_ws();
                if (peek() != '"') fail("expected a field name (a string)");
                std::string name;
                parse_string(&name);
                skip_ws();
                expect(':', "expected ':' after a field name");
                skip_ws();
                if (name == key) {
                    if (peek() != '"') fail("field \"" + std::string(key) + "\" is not a string");
                    std::string value;
                    parse_string(&value);
                    found = std::move(value);
                } else {
                    skip_value(1);
                }
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect('}', "expected ',' or '}' in an object");
                break;
            }
        }
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected text after the JSON object");
        return found;
    }

private:
    static constexpr int kMaxDepth = 512;

    [[noreturn]] void fail(const std::string& what) const { throw JsonError(what, pos_); }

    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }

    void expect(char c, const char* what) {
        if (at_end() || s_[pos_] != c) fail(what);
        ++pos_;
    }

    void skip_ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    void skip_value(int depth) {
        if (depth > kMaxDepth) fail("nesting deeper than 512 levels");
        if (at_end()) fail("unexpected end of input, expected a value");
        const char c = s_[pos_];
        if (c == '"') {
            parse_string(nullptr);
        } else if (c == '{' || c == '[') {
            const char close = c == '{' ? '}' : ']';
            ++pos_;
            skip_ws();
            if (peek() == close) {
                ++pos_;
                return;
            }
            while (true) {
                skip_ws();
                if (c == '{') {
                    if (peek() != '"') fail("expected a field name (a string)");
                    parse_string(nullptr);
                    skip_ws();
                    expect(':', "expected ':' after a field name");
                    skip_ws();
                }
                skip_value(depth + 1);
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                expect(close, c == '{' ? "expected ',' or '}' in an object"
                                       : "expected ',' or ']' in an array");
                return;
            }
        } else if (c == 't') {
            literal("true");
        } else if (c == 'f') {
            literal("false");
        } else if (c == 'n') {
            literal("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number();
        } else {
            fail(std::string("unexpected character '") + c + "', expected a value");
        }
    }

    void literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) fail("invalid literal");
        pos_ += word.size();
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    void number() {
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (digit(peek())) {
            while (digit(peek()))
                ++pos_;
        } else {
            fail("invalid number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!digit(peek())) fail("invalid number: no digits after '.'");
            while (digit(peek()))
                ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!digit(peek())) fail("invalid number: no digits in the exponent");
            while (digit(peek()))
                ++pos_;
        }
    }

    std::uint32_t hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = s_[pos_ + k];
            v <<= 4;
            if (h >= '0' && h <= '9') {
                v |= static_cast<std::uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                v |= static_cast<std::uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                v |= static_cast<std::uint32_t>(h - 'A' + 10);
            } else {
                fail("invalid hex digit in a \\u escape");
            }
        }
        pos_ += 4;
        return v;
    }

    /// Parses a string at pos_ (which is '"'); appends its decoded value to *out when out != null.
    /// Raw bytes are copied as they are (the caller validated UTF-8 for the whole line).
    void parse_string(std::string* out) {
        ++pos_; // opening quote
        while (true) {
            if (at_end()) fail("unterminated string");
            const char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                fail("unescaped control character in a string");
            if (c != '\\') {
                // Copy a run of plain bytes at once.
                const std::size_t start = pos_;
                while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' &&
                       static_cast<unsigned char>(s_[pos_]) >= 0x20)
                    ++pos_;
                if (out) out->append(s_.substr(start, pos_ - start));
                continue;
            }
            ++pos_; // backslash
            if (at_end()) fail("unterminated escape");
            const char e = s_[pos_++];
            char plain = 0;
            switch (e) {
            case '"':
                plain = '"';
                break;
            case '\\':
                plain = '\\';
                break;
            case '/':
                plain = '/';
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u': {
                std::uint32_t cp = hex4();
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    pos_ -= 6;
                    fail("lone low surrogate in a \\u escape");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (s_.substr(pos_, 2) != "\\u") {
                        pos_ -= 6;
                        fail("high surrogate not followed by a \\u low surrogate");
                    }
                    pos_ += 2;
                    const std::uint32_t low = hex4();
                    if (low < 0xDC00 || low > 0xDFFF) {
                        pos_ -= 6;
                        fail("high surrogate followed by a non-low-surrogate \\u escape");
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                if (out) append_utf8(*out, cp);
                continue;
            }
            default:
                --pos_;
                fail(std::string("invalid escape '\\") + e + "'");
            }
            if (out) *out += plain;
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

} // namespace

std::optional<std::string> json_string_field(std::string_view json, std::string_view key) {
    if (const auto bad = find_invalid_utf8(json)) throw JsonError("invalid UTF-8", *bad);
    return Parser(json).top_level_field(key);
}

} // namespace cbs::data
