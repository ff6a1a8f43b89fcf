#include "experiments/config_source.hpp"

#include "data/json_text.hpp"

#include "theory/check.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace cbs::exp {

namespace {

std::string value_text(const toml::node& node);

std::string array_text(const toml::array& array) {
    std::string text = "[";
    for (std::size_t i = 0; i < array.size(); ++i) {
        if (i > 0) text += ", ";
        text += value_text(*array.get(i));
    }
    return text + "]";
}

std::string value_text(const toml::node& node) {
    if (auto v = node.as_integer()) return std::to_string(v->get());
    if (auto v = node.as_floating_point()) return fmt::format("{}", v->get());
    if (auto v = node.as_string()) return v->get();
    if (auto v = node.as_boolean()) return v->get() ? "true" : "false";
    if (auto v = node.as_array()) return array_text(*v);
    return "(a TOML date/time, which no key accepts)";
}

void flatten(const toml::table& table, const std::string& prefix, const std::string& source,
             ConfigEntries& out) {
    for (const auto& [k, node] : table) {
        const std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (const auto* sub = node.as_table()) {
            flatten(*sub, key, source, out);
            continue;
        }
        const auto& where = node.source().begin;
        out.push_back({key, value_text(node), fmt::format("{}:{}", source, where.line)});
    }
}

} // namespace

ConfigEntries parse_toml(const std::string& text, const std::string& source) {
    toml::table table;
    try {
        table = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        throw UserError(fmt::format("{}:{}:{}: invalid TOML: {}", source, where.line, where.column,
                                    e.description()));
    }
    ConfigEntries entries;
    flatten(table, "", source, entries);
    return entries;
}

ConfigEntries load_toml_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw UserError(
            fmt::format("cannot read config file '{}': no such file or not readable", path));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_toml(text.str(), path);
}

ConfigEntry parse_set_argument(const std::string& argument) {
    const auto eq = argument.find('=');
    auto trim = [](std::string s) {
        const auto first = s.find_first_not_of(" \t");
        const auto last = s.find_last_not_of(" \t");
        return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    };
    if (eq == std::string::npos)
        throw UserError(fmt::format("--set '{}': must have the form key=value", argument));
    std::string key = trim(argument.substr(0, eq));
    std::string value = trim(argument.substr(eq + 1));
    if (key.empty() || value.empty())
        throw UserError(
            fmt::format("--set '{}': must have the form key=value with both non-empty", argument));
    // Every value ends up in the resolved TOML written into output files, which must parse
    // again: TOML text is UTF-8 without control characters other than tab (found by fuzzing).
    // Where a bad byte is in the key, the key is not printed (it would carry the byte along).
    const auto refuse_text = [&](std::size_t at, const std::string& what) {
        throw UserError(at < eq ? fmt::format("--set: {} at byte {} of the key; keys and values "
                                              "must be UTF-8 text without control characters",
                                              what, at)
                                : fmt::format("--set {}=...: {} at byte {} of the argument; values "
                                              "must be UTF-8 text without control characters",
                                              key, what, at));
    };
    if (const auto bad = data::find_invalid_utf8(argument)) refuse_text(*bad, "invalid UTF-8");
    for (std::size_t i = 0; i < argument.size(); ++i) {
        const auto c = static_cast<unsigned char>(argument[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            refuse_text(i, fmt::format("control character 0x{:02x}", c));
    }
    // Accept TOML-style quoted strings too: --set 'schedule="cosine"'.
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
        value = value.substr(1, value.size() - 2);
    return {key, value, "--set"};
}

} // namespace cbs::exp
