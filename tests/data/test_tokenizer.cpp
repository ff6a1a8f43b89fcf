// Tests of the tokenizers (data/tokenizer.hpp): the byte tokenizer is the identity on bytes; a
// SentencePiece BPE model trained on the committed sample round-trips the exact text, encodes a
// text cut at line ends like the whole, survives save/load, and compresses better than bytes.
#include "data/tokenizer.hpp"
#include "tests/support/paths.hpp"

#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace cbs::data;
namespace fs = std::filesystem;

namespace {

std::string sample_text() {
    std::ifstream in(fs::path(cbs::test::source_dir()) / "data/samples/moby-dick-head.txt",
                     std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

/// One model trained once for all SentencePiece tests (training takes ~0.2 s).
const SentencePieceTokenizer& trained() {
    static const auto model = [] {
        SentencePieceTrainOptions options;
        options.vocab_size = 600;
        options.threads = 1;
        return SentencePieceTokenizer::train(lines_of(sample_text()), options);
    }();
    return *model;
}

} // namespace

TEST_CASE("the byte tokenizer maps every byte to itself and back", "[tokenizer]") {
    ByteTokenizer t;
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += static_cast<char>(b);
    std::vector<std::uint32_t> ids = {7}; // encode appends
    t.encode(all, ids);
    REQUIRE(ids.size() == 257);
    for (int b = 0; b < 256; ++b)
        CHECK(ids[static_cast<std::size_t>(b) + 1] == static_cast<std::uint32_t>(b));
    CHECK(t.decode(std::span(ids).subspan(1)) == all);
    CHECK(t.vocab_size() == 256);
    CHECK_FALSE(t.document_token());
    const std::vector<std::uint32_t> bad = {65, 256};
    CHECK_THROWS_AS(t.decode(bad), cbs::UserError);
}

TEST_CASE("a SentencePiece model trained on the sample round-trips text exactly", "[tokenizer]") {
    const SentencePieceTokenizer& t = trained();
    CHECK(t.vocab_size() == 600);
    CHECK(t.document_token() == 1u);
    CHECK(t.piece(0) == "<unk>");
    CHECK(t.piece(1) == "<s>");
    CHECK(t.piece(2) == "</s>");
    CHECK(t.piece(3) == "\n");

    const std::string text = sample_text();
    std::vector<std::uint32_t> ids;
    t.encode(text, ids);
    for (const auto id : ids)
        REQUIRE(static_cast<std::int64_t>(id) < t.vocab_size());
    CHECK(t.decode(ids) == text);
    // Merges make tokens longer than a byte on the text they were learned from.
    CHECK(static_cast<double>(text.size()) / static_cast<double>(ids.size()) > 2.0);

    // Text it never saw, with whitespace runs, tabs, CRLF and characters outside the sample:
    // byte fallback and identity normalization keep every byte.
    const std::string unseen = "  Leading spaces,\ttabs\r\nand  doubled  spaces; "
                               "\xC3\xA9\xC3\xA8 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x90\xB3\n\n";
    std::vector<std::uint32_t> unseen_ids;
    t.encode(unseen, unseen_ids);
    CHECK(t.decode(unseen_ids) == unseen);

    // Encoding line by line gives the ids of the whole text (the segmenter cuts at line ends).
    const std::string part = text.substr(0, 20000);
    std::vector<std::uint32_t> whole, pieces;
    t.encode(part, whole);
    std::size_t start = 0;
    while (start < part.size()) {
        std::size_t end = part.find('\n', start);
        end = end == std::string::npos ? part.size() : end + 1;
        t.encode(std::string_view(part).substr(start, end - start), pieces);
        start = end;
    }
    CHECK(pieces == whole);

    const std::vector<std::uint32_t> bad = {600};
    CHECK_THROWS_AS(t.decode(bad), cbs::UserError);
}

TEST_CASE("a saved SentencePiece model loads back identical and foreign files are refused",
          "[tokenizer]") {
    const fs::path dir =
        fs::temp_directory_path() /
        ("cbs_test_tokenizer_" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir);
    const SentencePieceTokenizer& t = trained();
    t.save(dir / "tokenizer.model");
    CHECK_FALSE(fs::exists(dir / "tokenizer.model.partial"));
    const auto loaded = SentencePieceTokenizer::load(dir / "tokenizer.model");
    CHECK(loaded->vocab_size() == t.vocab_size());
    CHECK(loaded->serialized_model() == t.serialized_model());
    const std::string text = sample_text().substr(5000, 8000);
    std::vector<std::uint32_t> a, b;
    t.encode(text, a);
    loaded->encode(text, b);
    CHECK(a == b);

    std::ofstream(dir / "foreign.model") << "this is not a protobuf";
    try {
        (void)SentencePieceTokenizer::load(dir / "foreign.model");
        FAIL("no error");
    } catch (const cbs::UserError& e) {
        CHECK(std::string(e.what()).find("foreign.model") != std::string::npos);
    }
    CHECK_THROWS_AS(SentencePieceTokenizer::load(dir / "missing.model"), cbs::UserError);
    std::error_code ec;
    fs::remove_all(dir, ec);
}

TEST_CASE("SentencePiece training refuses impossible vocabularies with a UserError",
          "[tokenizer]") {
    const std::vector<std::string> tiny = {"a small text", "with few characters"};
    SentencePieceTrainOptions options;
    options.threads = 1;
    options.vocab_size = 100;
    CHECK_THROWS_AS(SentencePieceTokenizer::train(tiny, options), cbs::UserError);
    options.vocab_size = 50000; // far more merges than two lines allow
    try {
        (void)SentencePieceTokenizer::train(tiny, options);
        FAIL("no error");
    } catch (const cbs::UserError& e) {
        CHECK(std::string(e.what()).find("SentencePiece training failed") != std::string::npos);
    }
    CHECK_THROWS_AS(SentencePieceTokenizer::train({}, SentencePieceTrainOptions{}), cbs::UserError);
}
