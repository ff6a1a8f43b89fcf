// Tests of UTF-8 validation and the JSON string-field reader (data/json_text.hpp) that reads C4's
// {"text": ...} lines: escapes, \u with surrogate pairs, skipping other fields, strict refusals.
#include "data/json_text.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace cbs::data;

namespace {
/// The JsonError message for `json`, or "" if it parses.
std::string json_error(const std::string& json) {
    try {
        (void)json_string_field(json, "text");
    } catch (const JsonError& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("find_invalid_utf8 accepts valid text and locates every kind of invalid sequence",
          "[json_text]") {
    CHECK_FALSE(find_invalid_utf8(""));
    CHECK_FALSE(find_invalid_utf8("plain ASCII\n"));
    CHECK_FALSE(find_invalid_utf8("na\xC3\xAFve \xE2\x80\x94 \xF0\x9F\x98\x80")); // ï — 😀
    CHECK_FALSE(find_invalid_utf8("\xF4\x8F\xBF\xBF"));                           // U+10FFFF
    CHECK(find_invalid_utf8("ab\x80") == 2u);           // lone continuation
    CHECK(find_invalid_utf8("a\xC3") == 1u);            // truncated
    CHECK(find_invalid_utf8("a\xC3(") == 1u);           // bad continuation
    CHECK(find_invalid_utf8("\xC0\xAF") == 0u);         // overlong '/'
    CHECK(find_invalid_utf8("\xE0\x80\xAF") == 0u);     // overlong 3-byte
    CHECK(find_invalid_utf8("\xF0\x80\x80\xAF") == 0u); // overlong 4-byte
    CHECK(find_invalid_utf8("ok\xED\xA0\x80") == 2u);   // surrogate D800
    CHECK(find_invalid_utf8("\xF4\x90\x80\x80") == 0u); // > U+10FFFF
    CHECK(find_invalid_utf8("\xFF") == 0u);
}

TEST_CASE("json_string_field decodes escapes, \\u and surrogate pairs", "[json_text]") {
    const auto v = json_string_field(
        R"({"text": "a\"b\\c\/d\b\f\n\r\t \u00e9\u20AC \ud83d\ude00 caf\u00E9 raw é"})", "text");
    REQUIRE(v);
    CHECK(*v ==
          "a\"b\\c/d\b\f\n\r\t \xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 caf\xC3\xA9 raw \xC3\xA9");
    CHECK(*json_string_field(R"({"text":"\u0000x"})", "text") == std::string("\0x", 2));
    CHECK(json_string_field(R"(  {"text":""}  )", "text")->empty());
}

TEST_CASE("json_string_field skips other fields of any type and finds the key anywhere",
          "[json_text]") {
    const std::string c4 =
        R"({"url": "https://example.org/a?b=\"c\"", "nested": {"text": "inner", "a": [1, -2.5e+3, )"
        R"(true, false, null, {"x": []}, "s"]}, "text": "outer", "timestamp": "2019-04-25T12:57:54Z"})";
    const auto v = json_string_field(c4, "text");
    REQUIRE(v);
    CHECK(*v == "outer"); // the nested "text" is not the top-level field
    CHECK_FALSE(json_string_field(R"({"url": "x", "n": 0})", "text"));
    CHECK_FALSE(json_string_field("{}", "text"));
    CHECK(*json_string_field(R"({"text": "first", "text": "last"})", "text") == "last");
    CHECK(*json_string_field(R"({"te\u0078t": "escaped key"})", "text") == "escaped key");
}

TEST_CASE("json_string_field refuses malformed JSON with a reason and an offset", "[json_text]") {
    CHECK(json_error(R"({"text": 5})").find("not a string") != std::string::npos);
    CHECK(json_error(R"({"text": "unterminated})").find("unterminated") != std::string::npos);
    CHECK(json_error(R"({"text": "x",})").find("field name") != std::string::npos);
    CHECK(json_error(R"({"text": "x"} extra)").find("after the JSON object") != std::string::npos);
    CHECK(json_error(R"(["text", "x"])").find("expected a JSON object") != std::string::npos);
    CHECK(json_error(R"({"text": "\q"})").find("invalid escape") != std::string::npos);
    CHECK(json_error(R"({"text": "\u12G4"})").find("hex digit") != std::string::npos);
    CHECK(json_error(R"({"text": "\ud83d"})").find("high surrogate") != std::string::npos);
    CHECK(json_error(R"({"text": "\ud83d\u0041"})").find("non-low-surrogate") != std::string::npos);
    CHECK(json_error(R"({"text": "\ude00"})").find("lone low surrogate") != std::string::npos);
    CHECK(json_error("{\"text\": \"tab\there\"}").find("control character") != std::string::npos);
    CHECK(json_error("{\"text\": \"bad \xC3(\"}").find("invalid UTF-8") != std::string::npos);
    CHECK(json_error(R"({"a": tru, "text": "x"})").find("invalid literal") != std::string::npos);
    CHECK(json_error(R"({"a": 01, "text": "x"})").find("expected ',' or '}'") != std::string::npos);
    CHECK(json_error(R"({"a": 1.})").find("invalid number") != std::string::npos);
    CHECK(json_error("").find("expected a JSON object") != std::string::npos);
    CHECK(json_error(std::string(600, '[')).find("expected a JSON object") != std::string::npos);
    CHECK(json_error("{\"a\": " + std::string(600, '[')).find("512") != std::string::npos);

    try {
        (void)json_string_field(R"({"text": "x", "y": ?})", "text");
        FAIL("no error");
    } catch (const JsonError& e) {
        CHECK(e.offset() == 19); // the '?'
    }
}
