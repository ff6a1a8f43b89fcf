// TOML quoting of resolved configurations: any string value written by to_toml parses back to the
// same string (a fuzz finding: paths with quotes or backslashes broke the resolved TOML).
#include "data/toml_text.hpp"
#include "experiments/config_source.hpp"

#include <catch2/catch.hpp>
#include <string>

using cbs::data::toml_basic_string;

TEST_CASE("toml_basic_string round-trips through the TOML parser", "[config]") {
    CHECK(toml_basic_string("a.bin") == "\"a.bin\"");
    CHECK(toml_basic_string("say \"hi\" \\ there") == "\"say \\\"hi\\\" \\\\ there\"");
    CHECK(toml_basic_string(std::string("\x01\t\x7f", 3)) == "\"\\u0001\\t\\u007f\"");
    for (const std::string& value :
         {std::string("plain/path.bin"), std::string("quote \" and backslash \\ and \\\" both"),
          std::string("caf\xc3\xa9 \xe2\x82\xac"), std::string("tab\tnew\nline\r\f\b end"),
          std::string("nul \0 and del \x7f", 15), std::string("\"\"\"'''"), std::string()}) {
        INFO(value);
        const cbs::exp::ConfigEntries entries =
            cbs::exp::parse_toml("data.train = " + toml_basic_string(value) + "\n", "test");
        REQUIRE(entries.size() == 1);
        CHECK(entries.front().key == "data.train");
        CHECK(entries.front().value == value);
    }
}
