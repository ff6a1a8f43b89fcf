// One typed registry of configuration keys, shared by every component that reads `key = value`
// settings (the simulators' experiments/sim_config.cpp, the LM trainer's gpu/lm_options.cpp).
// A component declares each key once: name, help, how it reads and writes its field of the
// component's Options struct, and optionally a range. The registry then does the rest the same
// way for all of them: applying entries in order with the refusal message "`key` = value: rule",
// values parsed by toml++ (numbers, `inf`, arrays like [0.99, 0.999]), the --help table with
// defaults, range checks, the resolved TOML text written into output files (and hashed into run
// ids) and the HDF5 run attributes.
//
// The resolved TOML is one `dotted.key = value` line per key, in the registry's order: strings
// are written by toml++'s serializer; numbers and lists keep their shortest round-trip text
// (toml++ 3.3 writes floats with 17 digits, 0.1 as 0.10000000000000001, which would change the
// text and so every stored run id).
#pragma once

#include "data/study_file.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace cbs::config {

/// One setting as given: dotted key, value text ("2.5", "inf", "cosine", "[1, 2]"), and where it
/// came from ("run.toml:3", "--set"), for messages.
struct Entry {
    std::string key;
    std::string value;
    std::string source;
};

/// Throws cbs::UserError("`key` = value: rule"): the one refusal format of every key.
[[noreturn]] void refuse(std::string_view key, std::string_view value, std::string_view rule);

// Value parsing: `text` is read as a TOML value by toml++; each refuses with the rule named.
/// A finite number (TOML integer or float); else "must be a finite number".
double parse_double(const std::string& key, const std::string& text);
/// A TOML integer, or a float with an integral value (1e6, 64.0); else "must be an integer".
std::int64_t parse_int(const std::string& key, const std::string& text);
/// A non-empty array of finite numbers, "[0.99, 0.999]" (the brackets may be left out:
/// "0.99, 0.999", "0.99").
std::vector<double> parse_double_list(const std::string& key, const std::string& text);
/// An array of integers, "[4096, 8192]"; "[]" is empty.
std::vector<std::int64_t> parse_int_list(const std::string& key, const std::string& text);

// Value text, as written into the resolved TOML and the --help defaults.
/// Shortest text that reads back to `v`, kept a TOML float ("1.0", "0.001", "1e-08", "inf").
std::string float_text(double v);
/// `text` as a TOML basic string, written by toml++'s serializer (escapes `"`, `\` and control
/// characters; UTF-8 kept).
std::string string_text(std::string_view text);
/// A setting as given, as a TOML line for the config text of a study file: `key = value\n` with
/// the value text as it is where it is a TOML value (a number, an array such as a sweep axis),
/// else as a string written by string_text ("cosine", a path).
std::string setting_line(const Entry& entry);
std::string list_text(const std::vector<double>& v);       ///< "[0.99, 0.999]"
std::string list_text(const std::vector<std::int64_t>& v); ///< "[4096, 8192]"
/// An attribute value as plain text: integers and floats as above, strings as they are.
std::string plain_text(const data::AttrValue& v);
/// A number as the validation messages print it ("0.5", "1", "1e-08").
std::string number_text(double v);

/// A closed, half-open or open interval with the rule refused when a value falls outside it.
struct Range {
    double low = 0;
    double high = 0;
    bool has_low = false;
    bool has_high = false;
    bool low_open = false;  ///< (low, ...
    bool high_open = false; ///< ..., high)
    std::string note;       ///< appended to the rule, e.g. " (0 = off)"
    std::string shown;      ///< the interval as the rule spells it ("[0, 1e18]"); empty: generated

    bool contains(double v) const;
    /// "must be in [0, 1)", "must be > 0", "must be >= 0", plus the note.
    std::string rule() const;
};
Range at_least(double low, std::string note = {}); ///< [low, inf)
Range above(double low, std::string note = {});    ///< (low, inf)
/// Interval from its bracket spelling: in(0, 1, "[)") is [0, 1). `shown` replaces the generated
/// spelling in the rule where the bounds read better in another form ("[1, 1e9]").
Range in(double low, double high, std::string_view brackets, std::string note = {},
         std::string shown = {});

/// One key of a component whose options are an `Options` struct.
template <typename Options>
struct Key {
    std::string name; ///< dotted, e.g. "spectrum.a"
    std::string help; ///< one line: meaning, unit, rule
    /// Reads the value text into the options (refusing with the key's rule when it does not fit).
    std::function<void(Options&, const std::string& key, const std::string& text)> set = nullptr;
    /// The value, typed as the HDF5 attribute is written.
    std::function<data::AttrValue(const Options&)> get = nullptr;
    /// A string value written into the TOML as it is (a list, `inf`), not as a quoted string.
    bool verbatim = false;
    /// Checked by Registry::check_ranges (numbers only).
    std::optional<Range> range = std::nullopt;
    /// Whether the key means anything for these options (null = always). A key that does not
    /// apply is not written, and giving it is refused (Registry::apply).
    std::function<bool(const Options&)> applies = nullptr;
    /// Written into the resolved TOML only when this holds (null = always): keys added after
    /// runs were stored stay out while they have their default, so the ids of those runs stay.
    std::function<bool(const Options&)> in_toml = nullptr;
    /// Written as an HDF5 run attribute only when this holds (null = always).
    std::function<bool(const Options&)> in_attributes = nullptr;
};

/// `field` names the field: a data-member pointer (&Options::lr), or a callable returning a
/// reference to it for const and non-const options alike ([](auto& o) -> auto& { return o.x.y; }).
template <typename Options, typename Field>
using FieldType = std::remove_cvref_t<std::invoke_result_t<Field, Options&>>;

/// A key on a field of type double, int64, std::string, vector<double> or vector<int64>: parsed
/// and written by the functions above.
template <typename Options, typename Field>
Key<Options> field_key(std::string name, std::string help, Field field,
                       std::optional<Range> range = std::nullopt) {
    using T = FieldType<Options, Field>;
    Key<Options> k{std::move(name), std::move(help)};
    k.range = std::move(range);
    k.set = [field](Options& o, const std::string& key, const std::string& text) {
        if constexpr (std::is_same_v<T, double>)
            std::invoke(field, o) = parse_double(key, text);
        else if constexpr (std::is_same_v<T, std::int64_t>)
            std::invoke(field, o) = parse_int(key, text);
        else if constexpr (std::is_same_v<T, std::string>)
            std::invoke(field, o) = text;
        else if constexpr (std::is_same_v<T, std::vector<double>>)
            std::invoke(field, o) = parse_double_list(key, text);
        else {
            static_assert(std::is_same_v<T, std::vector<std::int64_t>>, "unsupported field type");
            std::invoke(field, o) = parse_int_list(key, text);
        }
    };
    k.get = [field](const Options& o) {
        const T& v = std::invoke(field, o);
        if constexpr (std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
                      std::is_same_v<T, std::string>)
            return data::AttrValue(v);
        else
            return data::AttrValue(list_text(v));
    };
    k.verbatim = !std::is_same_v<T, double> && !std::is_same_v<T, std::int64_t> &&
                 !std::is_same_v<T, std::string>;
    return k;
}

/// A key on an enum field with its parse(key, text) / to_string(value) pair.
template <typename Options, typename Field, typename Parse, typename Text>
Key<Options> choice_key(std::string name, std::string help, Field field, Parse parse, Text text) {
    Key<Options> k{std::move(name), std::move(help)};
    k.set = [field, parse](Options& o, const std::string& key, const std::string& t) {
        std::invoke(field, o) = parse(key, t);
    };
    k.get = [field, text](const Options& o) {
        return data::AttrValue(std::string(text(std::invoke(field, o))));
    };
    return k;
}

/// What the --help table shows of one key.
struct KeyInfo {
    std::string key;           ///< dotted name
    std::string default_value; ///< text of the default
    std::string help;          ///< one line: meaning, unit, rule
};

/// `title` (a line), then per key: two spaces, the name padded to `width`, the default in
/// brackets, and the help on the next line.
std::string help_table(std::string_view title, int width, const std::vector<KeyInfo>& keys);

template <typename Options>
class Registry {
public:
    explicit Registry(std::vector<Key<Options>> keys) : keys_(std::move(keys)) {}

    const std::vector<Key<Options>>& keys() const { return keys_; }

    const Key<Options>* find(std::string_view name) const {
        for (const Key<Options>& k : keys_)
            if (k.name == name) return &k;
        return nullptr;
    }

    /// Applies `entries` in order (later ones win) on top of `options`. An unknown key is refused
    /// with unknown_rule(entry); after all are applied, the first given key that does not apply
    /// is refused with not_applicable_rule(options). Validation is the caller's.
    void
    apply(Options& options, const std::vector<Entry>& entries,
          const std::function<std::string(const Entry&)>& unknown_rule,
          const std::function<std::string(const Options&)>& not_applicable_rule = nullptr) const {
        std::vector<std::pair<const Entry*, const Key<Options>*>> given;
        for (const Entry& e : entries) {
            const Key<Options>* k = find(e.key);
            if (k == nullptr) refuse(e.key, e.value, unknown_rule(e));
            k->set(options, e.key, e.value);
            given.emplace_back(&e, k);
        }
        for (const auto& [e, k] : given)
            if (k->applies && !k->applies(options))
                refuse(e->key, e->value,
                       not_applicable_rule ? not_applicable_rule(options)
                                           : std::string("does not apply"));
    }

    /// Refuses the first key, in registry order, whose value is outside its range.
    void check_ranges(const Options& options) const {
        for (const Key<Options>& k : keys_) {
            if (!k.range) continue;
            const data::AttrValue v = k.get(options);
            const double x = std::holds_alternative<std::int64_t>(v)
                                 ? static_cast<double>(std::get<std::int64_t>(v))
                                 : std::get<double>(v);
            if (!k.range->contains(x))
                refuse(k.name, std::holds_alternative<double>(v) ? number_text(x) : plain_text(v),
                       k.range->rule());
        }
    }

    /// Every key with the text of its default.
    std::vector<KeyInfo> infos() const {
        const Options defaults{};
        std::vector<KeyInfo> out;
        for (const Key<Options>& k : keys_)
            out.push_back({k.name, plain_text(k.get(defaults)), k.help});
        return out;
    }

    /// `title`, then each key padded to `width` with its default in brackets and its help.
    std::string help(std::string_view title, int width) const {
        return help_table(title, width, infos());
    }

    /// The resolved TOML: one `key = value` line per written key, in registry order.
    std::string to_toml(const Options& options) const {
        std::string text;
        for (const Key<Options>& k : keys_) {
            if (!written(k, options, k.in_toml)) continue;
            const data::AttrValue v = k.get(options);
            const bool quote = std::holds_alternative<std::string>(v) && !k.verbatim;
            text += k.name + " = " +
                    (quote ? string_text(std::get<std::string>(v)) : plain_text(v)) + "\n";
        }
        return text;
    }

    /// The written keys as typed HDF5 run attributes, in registry order.
    std::vector<std::pair<std::string, data::AttrValue>> attributes(const Options& options) const {
        std::vector<std::pair<std::string, data::AttrValue>> out;
        for (const Key<Options>& k : keys_)
            if (written(k, options, k.in_attributes)) out.emplace_back(k.name, k.get(options));
        return out;
    }

private:
    static bool written(const Key<Options>& k, const Options& options,
                        const std::function<bool(const Options&)>& when) {
        if (k.applies && !k.applies(options)) return false;
        return !when || when(options);
    }

    std::vector<Key<Options>> keys_;
};

} // namespace cbs::config
