// The shared configuration-key registry (data/config_registry.hpp): values read by toml++, the
// one refusal format, ranges, the resolved TOML lines and attributes, on a small Options struct.
// The simulators' and the LM trainer's own tables are tested in tests/experiments and tests/lm.
#include "data/config_registry.hpp"

#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <toml++/toml.h>

using namespace cbs::config;

namespace {

std::string refusal(const std::function<void()>& f) {
    try {
        f();
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "(accepted)";
}

struct Toy {
    double rate = 0.5;
    std::int64_t count = 3;
    std::string name = "plain";
    std::vector<double> decays{0.9, 0.99};
    std::vector<std::int64_t> sizes;
    bool fancy = false;
    std::int64_t fancy_level = 1; ///< only with fancy
};

const Registry<Toy>& toy_registry() {
    static const Registry<Toy> registry([] {
        std::vector<Key<Toy>> t;
        t.push_back(field_key<Toy>("rate", "a rate in [0, 1)", &Toy::rate, in(0, 1, "[)")));
        t.push_back(
            field_key<Toy>("count", "a count >= 0", &Toy::count, at_least(0, " (0 = off)")));
        t.push_back(field_key<Toy>("name", "a name", &Toy::name));
        t.push_back(field_key<Toy>("decays", "a list", &Toy::decays));
        t.push_back(field_key<Toy>("sizes", "an integer list", &Toy::sizes));
        Key<Toy> fancy{"fancy", "0 | 1",
                       [](Toy& o, const std::string& key, const std::string& text) {
                           const std::int64_t v = parse_int(key, text);
                           if (v != 0 && v != 1) refuse(key, text, "must be 0 or 1");
                           o.fancy = v == 1;
                       },
                       [](const Toy& o) { return cbs::data::AttrValue(std::int64_t{o.fancy}); }};
        t.push_back(std::move(fancy));
        Key<Toy> level = field_key<Toy>("fancy.level", "with fancy = 1", &Toy::fancy_level);
        level.applies = [](const Toy& o) { return o.fancy; };
        t.push_back(std::move(level));
        return t;
    }());
    return registry;
}

Toy resolve(const std::vector<Entry>& entries) {
    Toy o;
    toy_registry().apply(
        o, entries, [](const Entry& e) { return "unknown key (from " + e.source + ")"; },
        [](const Toy&) { return std::string("needs fancy = 1"); });
    toy_registry().check_ranges(o);
    return o;
}

} // namespace

TEST_CASE("numbers are read as TOML values", "[config]") {
    CHECK(parse_double("k", "2.5") == 2.5);
    CHECK(parse_double("k", "3") == 3.0);
    CHECK(parse_double("k", "1e-3") == 1e-3);
    CHECK(parse_double("k", "-0.25") == -0.25);
    CHECK(parse_int("k", "64") == 64);
    CHECK(parse_int("k", "1e6") == 1'000'000); // integral floats are integers
    CHECK(parse_int("k", "64.0") == 64);
    CHECK(parse_int("k", "1_000") == 1000); // TOML spellings
    CHECK(parse_int("k", "0x10") == 16);
    CHECK(parse_double("k", ".5") == 0.5); // what --set users type, though TOML spells 0.5
    CHECK(parse_double("k", "-.25") == -0.25);
    CHECK(parse_double("k", "5.") == 5.0);
    CHECK(parse_double("k", "2.e3") == 2000.0);
    CHECK(refusal([] { parse_double("k", "fast"); }) == "`k` = fast: must be a finite number");
    CHECK(refusal([] { parse_double("k", "inf"); }) == "`k` = inf: must be a finite number");
    CHECK(refusal([] { parse_double("k", "nan"); }) == "`k` = nan: must be a finite number");
    CHECK(refusal([] { parse_double("k", "\"2.5\" # x"); }) ==
          "`k` = \"2.5\" # x: must be a finite number");
    CHECK(refusal([] { parse_double("k", "1\nk2 = 2"); }) ==
          "`k` = 1\nk2 = 2: must be a finite number"); // one value, never a second key
    CHECK(refusal([] { parse_double("k", ""); }) == "`k` = : must be a finite number");
    CHECK(refusal([] { parse_double("k", "."); }) == "`k` = .: must be a finite number");
    CHECK(refusal([] { parse_double("k", "1.2.3"); }) == "`k` = 1.2.3: must be a finite number");
    CHECK(refusal([] { parse_int("k", "2.5"); }) == "`k` = 2.5: must be an integer");
    CHECK(refusal([] { parse_int("k", "1e30"); }) == "`k` = 1e30: must be an integer");
    CHECK(refusal([] { parse_int("k", "99999999999999999999"); }) ==
          "`k` = 99999999999999999999: must be an integer");
    CHECK(refusal([] { parse_int("k", "true"); }) == "`k` = true: must be an integer");
}

TEST_CASE("lists are read as TOML arrays, brackets optional", "[config]") {
    CHECK(parse_double_list("k", "[0.99, 0.999]") == std::vector<double>{0.99, 0.999});
    CHECK(parse_double_list("k", "0.99, 0.999") == std::vector<double>{0.99, 0.999});
    CHECK(parse_double_list("k", "0.9") == std::vector<double>{0.9});
    CHECK(parse_double_list("k", "[.9, .99]") == std::vector<double>{0.9, 0.99});
    CHECK(parse_double_list("k", "[1, 0.5]") == std::vector<double>{1.0, 0.5});
    CHECK(parse_int_list("k", "[]").empty());
    CHECK(parse_int_list("k", "[4096, 8192]") == std::vector<std::int64_t>{4096, 8192});
    CHECK(parse_int_list("k", "[9007199254740993]") ==
          std::vector<std::int64_t>{9007199254740993}); // exact, not through a double
    CHECK(refusal([] { parse_double_list("k", "[]"); }) ==
          "`k` = []: must be a non-empty list of numbers like [0.99, 0.999]");
    CHECK(refusal([] { parse_double_list("k", "[0.9, x]"); }) ==
          "`k` = [0.9, x]: must be a list of numbers like [0.99, 0.999]");
    CHECK(refusal([] { parse_double_list("k", "[0.9, \"a\"]"); }) ==
          "`k` = [0.9, \"a\"]: must be a list of finite numbers like [0.99, 0.999]");
    CHECK(refusal([] { parse_double_list("k", "[0.9, inf]"); }) ==
          "`k` = [0.9, inf]: must be a list of finite numbers like [0.99, 0.999]");
    CHECK(refusal([] { parse_int_list("k", "[1.5, 2048]"); }) ==
          "`k` = [1.5, 2048]: must be a list of integers like [1048576, 4194304]");
}

TEST_CASE("value text: shortest floats, toml++ strings that read back", "[config]") {
    CHECK(float_text(1.0) == "1.0");
    CHECK(float_text(0.1) == "0.1");
    CHECK(float_text(1e-8) == "1e-08");
    CHECK(float_text(1e6) == "1000000.0");
    CHECK(float_text(INFINITY) == "inf");
    CHECK(list_text(std::vector<double>{0.99, 1.0}) == "[0.99, 1.0]");
    CHECK(list_text(std::vector<std::int64_t>{}) == "[]");
    CHECK(string_text("a.bin") == "\"a.bin\"");
    CHECK(string_text("say \"hi\" \\ there") == "\"say \\\"hi\\\" \\\\ there\"");
    CHECK(string_text("two\nlines\ttab") == "\"two\\nlines\\ttab\"");
    CHECK(string_text("h\xc3\xa9llo \xe2\x9c\x93") ==
          "\"h\xc3\xa9llo \xe2\x9c\x93\""); // UTF-8 kept
    const std::vector<std::string> values = {"",
                                             "a.bin",
                                             "say \"hi\"",
                                             "back\\slash\\",
                                             "'single'",
                                             "tab\there",
                                             "new\nline\r\n",
                                             std::string("\x01\x1f\x7f", 3),
                                             "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80",
                                             "\"\"\"",
                                             "'''",
                                             "# not a comment",
                                             "x = 1"};
    for (const std::string& v : values) {
        INFO(v);
        const std::string line = string_text(v);
        CHECK(line.find('\n') == std::string::npos); // one line, a basic string
        CHECK(line.front() == '"');
        const toml::table t = toml::parse("k = " + line);
        CHECK(t["k"].value<std::string>() == v);
    }
}

TEST_CASE("settings as given become TOML lines", "[config]") {
    const auto line = [](const std::string& value) { return setting_line({"k.x", value, "t"}); };
    CHECK(line("2.5") == "k.x = 2.5\n");
    CHECK(line("[1, 4, 16]") == "k.x = [1, 4, 16]\n");
    CHECK(line("inf") == "k.x = inf\n");
    CHECK(line("cosine") == "k.x = \"cosine\"\n");
    CHECK(line(".5") == "k.x = \".5\"\n"); // not TOML as it stands: kept as text
    CHECK(line("say \"hi\" \\ x") == "k.x = \"say \\\"hi\\\" \\\\ x\"\n");
    CHECK(line("1 # x") == "k.x = \"1 # x\"\n");
    const std::string text = line("a\"b") + setting_line({"y", "[0.5, 1.0]", "t"});
    const toml::table t = toml::parse(text);
    CHECK(t["k"]["x"].value<std::string>() == "a\"b");
    CHECK(t["y"].as_array()->size() == 2);
}

TEST_CASE("ranges spell their rule", "[config]") {
    CHECK(in(0, 1, "[)").rule() == "must be in [0, 1)");
    CHECK(in(0, 1, "(]").rule() == "must be in (0, 1]");
    CHECK(in(0, 1, "[]", " (0 = off)").rule() == "must be in [0, 1] (0 = off)");
    CHECK(in(1, 1e9, "[]", "", "[1, 1e9]").rule() == "must be in [1, 1e9]");
    CHECK(above(0).rule() == "must be > 0");
    CHECK(at_least(0, " (0 = all)").rule() == "must be >= 0 (0 = all)");
    CHECK(in(0, 1, "[)").contains(0));
    CHECK_FALSE(in(0, 1, "[)").contains(1));
    CHECK_FALSE(in(0, 1, "(]").contains(0));
    CHECK_FALSE(above(0).contains(NAN));
}

TEST_CASE("a registry applies, refuses, writes and lists its keys", "[config]") {
    const Toy o = resolve({{"rate", "0.25", "a.toml:1"},
                           {"name", "say \"hi\"", "--set"},
                           {"decays", "[0.5]", "--set"},
                           {"sizes", "[1, 2]", "--set"},
                           {"rate", "0.125", "--set"}}); // later ones win
    CHECK(o.rate == 0.125);
    CHECK(o.decays == std::vector<double>{0.5});
    CHECK(toy_registry().to_toml(o) == "rate = 0.125\n"
                                       "count = 3\n"
                                       "name = \"say \\\"hi\\\"\"\n"
                                       "decays = [0.5]\n"
                                       "sizes = [1, 2]\n"
                                       "fancy = 0\n"); // fancy.level does not apply: not written
    const auto attributes = toy_registry().attributes(o);
    REQUIRE(attributes.size() == 6);
    CHECK(std::get<double>(attributes[0].second) == 0.125);
    CHECK(std::get<std::string>(attributes[3].second) == "[0.5]");

    CHECK(refusal([] {
              resolve({{"rat", "1", "x.toml:2"}});
          }) == "`rat` = 1: unknown key (from x.toml:2)");
    CHECK(refusal([] { resolve({{"rate", "1", "--set"}}); }) == "`rate` = 1: must be in [0, 1)");
    CHECK(refusal([] {
              resolve({{"count", "-2", "--set"}});
          }) == "`count` = -2: must be >= 0 (0 = off)");
    CHECK(refusal([] { resolve({{"fancy", "2", "--set"}}); }) == "`fancy` = 2: must be 0 or 1");
    CHECK(refusal([] {
              resolve({{"fancy.level", "2", "--set"}});
          }) == "`fancy.level` = 2: needs fancy = 1");
    CHECK(resolve({{"fancy.level", "2", "--set"}, {"fancy", "1", "--set"}}).fancy_level == 2);

    const auto infos = toy_registry().infos();
    REQUIRE(infos.size() == 7);
    CHECK(infos[0].default_value == "0.5");
    CHECK(infos[3].default_value == "[0.9, 0.99]");
    CHECK(help_table("Keys:", 8, {infos[0]}) ==
          "Keys:\n  rate     [0.5]\n      a rate in [0, 1)\n");
}
