// Tests of the text inputs of `cbs prepare-data` (data/text_input.hpp): C4-style JSON lines in a
// gzip file written here (escapes, unicode), plain-text segmentation that loses no byte, and
// FILE:LINE errors (or counted skips) for invalid UTF-8, malformed records and broken gzip.
#include "data/text_input.hpp"

#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>
#include <zlib.h>

using namespace cbs::data;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("cbs_test_text_input_" + std::to_string(stamp) + "_" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    fs::path file(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

void write_gz(const fs::path& p, const std::string& content) {
    gzFile gz = gzopen(p.c_str(), "wb9");
    REQUIRE(gz != nullptr);
    REQUIRE(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())) ==
            static_cast<int>(content.size()));
    REQUIRE(gzclose(gz) == Z_OK);
}

void write_file(const fs::path& p, const std::string& content) {
    std::ofstream out(p, std::ios::binary);
    out << content;
}

struct Collected {
    std::vector<std::string> segments;
    std::vector<bool> starts;
    InputStats stats;
};

Collected collect(const fs::path& p, ReadOptions options = {}) {
    Collected c;
    c.stats = read_text_input(p, options, [&](const TextSegment& s) {
        c.segments.emplace_back(s.text);
        c.starts.push_back(s.starts_document);
    });
    return c;
}

std::string error_of(const fs::path& p, ReadOptions options = {}) {
    try {
        (void)collect(p, options);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("input format follows the file name", "[text_input]") {
    CHECK(input_format_for("c4-train.00000-of-01024.json.gz") == InputFormat::json_lines);
    CHECK(input_format_for("a/b.jsonl") == InputFormat::json_lines);
    CHECK(input_format_for("x.json") == InputFormat::json_lines);
    CHECK(input_format_for("book.txt.gz") == InputFormat::text);
    CHECK(input_format_for("README") == InputFormat::text);
    CHECK(input_format_for(".json") == InputFormat::text);
}

TEST_CASE("C4 json.gz lines: one document per record, escapes and unicode decoded",
          "[text_input]") {
    TempDir dir;
    const fs::path p = dir.file("c4-sample.json.gz");
    write_gz(
        p,
        R"({"text":"Beginners BBQ Class.\nTaking place in \"Missoula\"!","timestamp":"2019-04-25T12:57:54Z","url":"https://x.org"})"
        "\n"
        R"({"url":"u","text":"caf\u00e9 \u2014 na\u00efve \ud83c\udf89 and raw caf\u00e9 = café"})"
        "\n\n   \n" // blank lines are ignored
        R"({"text":""})"
        "\n"
        R"({"text":"no newline at the end"})");
    const Collected c = collect(p);
    REQUIRE(c.segments.size() == 4);
    CHECK(c.segments[0] == "Beginners BBQ Class.\nTaking place in \"Missoula\"!");
    CHECK(c.segments[1] == "caf\xC3\xA9 \xE2\x80\x94 na\xC3\xAFve \xF0\x9F\x8E\x89 and raw "
                           "caf\xC3\xA9 = caf\xC3\xA9");
    CHECK(c.segments[2].empty());
    CHECK(c.segments[3] == "no newline at the end");
    for (const bool s : c.starts)
        CHECK(s);
    CHECK(c.stats.format == InputFormat::json_lines);
    CHECK(c.stats.documents == 4);
    CHECK(c.stats.lines == 6);
    CHECK(c.stats.skipped == 0);
}

TEST_CASE("a malformed JSON line or a record without text is refused with FILE:LINE, or skipped",
          "[text_input]") {
    TempDir dir;
    const fs::path p = dir.file("bad.jsonl.gz");
    write_gz(p,
             "{\"text\": \"ok\"}\n{\"text\": \"broken\n{\"url\": \"no text\"}\n"
             "{\"text\": \"bad \xFF byte\"}\n{\"text\": \"\\ud800 lone\"}\n{\"text\": \"fine\"}\n");
    const std::string msg = error_of(p);
    CHECK(msg.find(p.string() + ":2: not a valid JSON object") != std::string::npos);
    CHECK(msg.find("--skip-invalid") != std::string::npos);

    ReadOptions skip;
    skip.skip_invalid = true;
    const Collected c = collect(p, skip);
    REQUIRE(c.segments.size() == 2);
    CHECK(c.segments[0] == "ok");
    CHECK(c.segments[1] == "fine");
    CHECK(c.stats.skipped == 4);

    const fs::path q = dir.file("notext.jsonl");
    write_file(q, "{\"text\": \"ok\"}\n{\"url\": \"no text\"}\n");
    CHECK(error_of(q).find(q.string() + ":2: the JSON object has no \"text\" field") !=
          std::string::npos);
}

TEST_CASE("plain text is cut into segments at line ends without losing a byte", "[text_input]") {
    TempDir dir;
    std::string text;
    std::mt19937 rng(7);
    for (int para = 0; para < 200; ++para) {
        const int lines = 1 + static_cast<int>(rng() % 6);
        for (int l = 0; l < lines; ++l)
            text += std::string(10 + rng() % 120, static_cast<char>('a' + para % 26)) + "\n";
        text += (para % 3 == 0) ? "\r\n" : "\n"; // blank lines, some with CR
    }
    text += "last line without newline \xE2\x80\x94 end";
    const fs::path p = dir.file("book.txt");
    write_file(p, "\xEF\xBB\xBF" + text); // a BOM, dropped
    ReadOptions options;
    options.segment_bytes = 1000;
    const Collected c = collect(p, options);
    std::string joined;
    for (const auto& s : c.segments)
        joined += s;
    CHECK(joined == text);
    REQUIRE(c.segments.size() > 5);
    CHECK(c.starts[0]);
    for (std::size_t i = 1; i < c.starts.size(); ++i)
        CHECK_FALSE(c.starts[i]);
    for (std::size_t i = 0; i + 1 < c.segments.size(); ++i) {
        // Every segment but the last ends at a blank line after >= segment_bytes, or at any line
        // end after 8 x segment_bytes.
        const std::string& s = c.segments[i];
        CHECK(s.back() == '\n');
        const bool at_blank = s.size() >= 1000 && (s.ends_with("\n\n") || s.ends_with("\n\r\n"));
        CHECK((at_blank || s.size() >= 8000));
    }
    CHECK(c.stats.documents == 1);
    CHECK(c.stats.segments == static_cast<std::int64_t>(c.segments.size()));
    CHECK(c.stats.bytes == static_cast<std::int64_t>(text.size() + 3));

    // The same text gzip-compressed under a plain name reads the same.
    const fs::path g = dir.file("book.txt.gz");
    write_gz(g, text);
    std::string joined_gz;
    for (const auto& s : collect(g, options).segments)
        joined_gz += s;
    CHECK(joined_gz == text);

    // An empty file holds no document.
    write_file(dir.file("empty.txt"), "");
    const Collected e = collect(dir.file("empty.txt"));
    CHECK(e.segments.empty());
    CHECK(e.stats.documents == 0);
}

TEST_CASE("invalid UTF-8 in text is refused with FILE:LINE, or the line skipped", "[text_input]") {
    TempDir dir;
    const fs::path p = dir.file("latin1.txt");
    write_file(p, "fine\nstill fine\ncaf\xE9 in Latin-1\nlast\n");
    const std::string msg = error_of(p);
    CHECK(msg.find(p.string() + ":3: invalid UTF-8 at byte 4") != std::string::npos);
    ReadOptions skip;
    skip.skip_invalid = true;
    const Collected c = collect(p, skip);
    REQUIRE(c.segments.size() == 1);
    CHECK(c.segments[0] == "fine\nstill fine\nlast\n");
    CHECK(c.stats.skipped == 1);
}

TEST_CASE("missing, truncated and corrupt gzip files are refused naming the file", "[text_input]") {
    TempDir dir;
    CHECK(error_of(dir.file("missing.txt")).find("cannot open") != std::string::npos);

    std::string big;
    for (int i = 0; i < 20000; ++i)
        big += "{\"text\": \"line " + std::to_string(i * 7919) + "\"}\n";
    const fs::path whole = dir.file("whole.json.gz");
    write_gz(whole, big);
    std::ifstream in(whole, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 1000);

    const fs::path cut = dir.file("cut.json.gz");
    write_file(cut, bytes.substr(0, bytes.size() / 2));
    const std::string cut_msg = error_of(cut);
    CHECK(cut_msg.find(cut.string()) != std::string::npos);
    CHECK(cut_msg.find("truncated") != std::string::npos);

    const fs::path corrupt = dir.file("corrupt.json.gz");
    std::string flipped = bytes;
    for (std::size_t i = 100; i < 400; ++i)
        flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
    write_file(corrupt, flipped);
    const std::string corrupt_msg = error_of(corrupt);
    CHECK(corrupt_msg.find(corrupt.string()) != std::string::npos);
    CHECK_FALSE(corrupt_msg.empty());
}
