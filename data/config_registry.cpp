#include "data/config_registry.hpp"

#include "theory/check.hpp"

#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <sstream>
#include <toml++/toml.h>

namespace cbs::config {

namespace {

/// Decimal spellings that `--set` users type and C's number parsers accept but TOML does not:
/// ".5" and "5." become "0.5" and "5.0" (also inside an array, "[.9, .99]").
std::string toml_decimals(const std::string& text) {
    const auto digit = [&](std::size_t i) {
        return i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '.') {
            out += text[i];
            continue;
        }
        const bool before = i > 0 && digit(i - 1), after = digit(i + 1);
        out += before || !after ? "." : "0.";
        if (before && !after) out += '0';
    }
    return out;
}

/// `text` read as one TOML value (the right-hand side of `key = text`), or nullopt when it is
/// not one. A newline or a comment would let the text carry more than one value: refused.
/// Used for numbers and arrays of numbers (string keys take their text as it is).
/// With `lenient`, ".5" and "5." pass too (toml_decimals).
std::optional<toml::table> parse_value(const std::string& text, bool lenient = true) {
    if (text.empty() || text.find_first_of("\n\r#") != std::string::npos) return std::nullopt;
    try {
        const std::string document = "v = " + (lenient ? toml_decimals(text) : text);
        toml::table table = toml::parse(std::string_view(document), std::string_view("value"));
        if (table.size() != 1 || !table.contains("v")) return std::nullopt;
        return table;
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
}

/// A TOML integer or float node as a double (nullopt for any other node).
std::optional<double> number_of(const toml::node& node) {
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = node.as_floating_point()) return f->get();
    return std::nullopt;
}

/// An integer node, or a float node holding an integral value inside int64.
std::optional<std::int64_t> integer_of(const toml::node& node) {
    if (const auto* i = node.as_integer()) return i->get();
    if (const auto* f = node.as_floating_point()) {
        const double d = f->get();
        if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e18)
            return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

/// The array `text` spells ("[1, 2]", or without brackets "1, 2" / "1"), or nullopt.
std::optional<toml::table> parse_array(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    const bool bracketed = first != std::string::npos && text[first] == '[';
    auto table = parse_value(bracketed ? text : "[" + text + "]");
    if (!table || !(*table)["v"].is_array()) return std::nullopt;
    return table;
}

} // namespace

void refuse(std::string_view key, std::string_view value, std::string_view rule) {
    throw UserError(fmt::format("`{}` = {}: {}", key, value, rule));
}

double parse_double(const std::string& key, const std::string& text) {
    const auto table = parse_value(text);
    const auto v = table ? number_of(*table->get("v")) : std::nullopt;
    if (!v || !std::isfinite(*v)) refuse(key, text, "must be a finite number");
    return *v;
}

std::int64_t parse_int(const std::string& key, const std::string& text) {
    const auto table = parse_value(text);
    const auto v = table ? integer_of(*table->get("v")) : std::nullopt;
    if (!v) refuse(key, text, "must be an integer");
    return *v;
}

std::vector<double> parse_double_list(const std::string& key, const std::string& text) {
    const auto table = parse_array(text);
    if (!table) refuse(key, text, "must be a list of numbers like [0.99, 0.999]");
    const toml::array& array = *table->get("v")->as_array();
    if (array.empty()) refuse(key, text, "must be a non-empty list of numbers like [0.99, 0.999]");
    std::vector<double> out;
    for (const toml::node& item : array) {
        const auto v = number_of(item);
        if (!v || !std::isfinite(*v))
            refuse(key, text, "must be a list of finite numbers like [0.99, 0.999]");
        out.push_back(*v);
    }
    return out;
}

std::vector<std::int64_t> parse_int_list(const std::string& key, const std::string& text) {
    const auto table = parse_array(text);
    if (!table) refuse(key, text, "must be a list of numbers like [0.99, 0.999]");
    std::vector<std::int64_t> out;
    for (const toml::node& item : *table->get("v")->as_array()) {
        const auto v = integer_of(item);
        if (!v) {
            const auto number = number_of(item);
            if (!number || !std::isfinite(*number))
                refuse(key, text, "must be a list of finite numbers like [0.99, 0.999]");
            refuse(key, text, "must be a list of integers like [1048576, 4194304]");
        }
        out.push_back(*v);
    }
    return out;
}

std::string float_text(double v) {
    std::string s = fmt::format("{}", v); // shortest round-trip; "inf", "-inf", "nan" as TOML
    if (s.find_first_of(".en") == std::string::npos) s += ".0"; // keep it a TOML float
    return s;
}

std::string string_text(std::string_view text) {
    // Basic strings only, on one line, UTF-8 kept: no literal or multi-line strings (which
    // toml++ would otherwise choose for text with quotes, backslashes or newlines).
    std::ostringstream out;
    out << toml::toml_formatter(toml::value<std::string>(std::string(text)),
                                toml::format_flags::allow_unicode_strings);
    return out.str();
}

std::string setting_line(const Entry& entry) {
    const bool toml_value = parse_value(entry.value, false).has_value();
    return entry.key + " = " + (toml_value ? entry.value : string_text(entry.value)) + "\n";
}

std::string list_text(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + float_text(v[i]);
    return s + "]";
}

std::string list_text(const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
}

std::string plain_text(const data::AttrValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) return float_text(*d);
    return std::get<std::string>(v);
}

std::string number_text(double v) {
    return fmt::format("{}", v);
}

bool Range::contains(double v) const {
    if (std::isnan(v)) return false;
    if (has_low && (low_open ? !(v > low) : !(v >= low))) return false;
    if (has_high && (high_open ? !(v < high) : !(v <= high))) return false;
    return true;
}

std::string Range::rule() const {
    std::string rule;
    if (!shown.empty())
        rule = "must be in " + shown;
    else if (has_low && has_high)
        rule = fmt::format("must be in {}{}, {}{}", low_open ? '(' : '[', number_text(low),
                           number_text(high), high_open ? ')' : ']');
    else if (has_low)
        rule = fmt::format("must be {} {}", low_open ? ">" : ">=", number_text(low));
    else if (has_high)
        rule = fmt::format("must be {} {}", high_open ? "<" : "<=", number_text(high));
    return rule + note;
}

Range at_least(double low, std::string note) {
    Range r;
    r.low = low;
    r.has_low = true;
    r.note = std::move(note);
    return r;
}

Range above(double low, std::string note) {
    Range r = at_least(low, std::move(note));
    r.low_open = true;
    return r;
}

Range in(double low, double high, std::string_view brackets, std::string note, std::string shown) {
    CBS_CHECK(brackets.size() == 2, "brackets like \"[)\": ", brackets);
    Range r = at_least(low, std::move(note));
    r.high = high;
    r.has_high = true;
    r.low_open = brackets[0] == '(';
    r.high_open = brackets[1] == ')';
    r.shown = std::move(shown);
    return r;
}

std::string help_table(std::string_view title, int width, const std::vector<KeyInfo>& keys) {
    std::string text = std::string(title) + "\n";
    for (const KeyInfo& k : keys)
        text += fmt::format("  {:<{}} [{}]\n      {}\n", k.key, width, k.default_value, k.help);
    return text;
}

} // namespace cbs::config
