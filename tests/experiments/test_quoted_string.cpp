// data::quoted_string (JSON manifests; its literals are valid TOML too): any string parses back to
// itself. The resolved TOML of output files is written by toml++ (test_resolved_toml.cpp).
#include "data/json_text.hpp"
#include "experiments/config_source.hpp"

#include <catch2/catch.hpp>
#include <string>

using cbs::data::quoted_string;

TEST_CASE("quoted_string round-trips through the TOML parser", "[config]") {
    CHECK(quoted_string("a.bin") == "\"a.bin\"");
    CHECK(quoted_string("say \"hi\" \\ there") == "\"say \\\"hi\\\" \\\\ there\"");
    CHECK(quoted_string(std::string("\x01\t\x7f", 3)) == "\"\\u0001\\t\\u007f\"");
    for (const std::string& value :
         {std::string("plain/path.bin"), std::string("quote \" and backslash \\ and \\\" both"),
          std::string("caf\xc3\xa9 \xe2\x82\xac"), std::string("tab\tnew\nline\r\f\b end"),
          std::string("nul \0 and del \x7f", 15), std::string("\"\"\"'''"), std::string()}) {
        INFO(value);
        const cbs::exp::ConfigEntries entries =
            cbs::exp::parse_toml("data.train = " + quoted_string(value) + "\n", "test");
        REQUIRE(entries.size() == 1);
        CHECK(entries.front().key == "data.train");
        CHECK(entries.front().value == value);
    }
}
