// Tests of the text -> shards pipeline (data/prepare_data.hpp) called as a library: exact token
// accounting, the two split rules, shard rotation, SentencePiece end to end on the sample, input
// expansion, and refusals that leave nothing behind.
#include "data/prepare_data.hpp"
#include "tests/support/paths.hpp"

#include "data/json_writer.hpp"
#include "data/token_shard.hpp"
#include "data/tokenizer.hpp"
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

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("cbs_test_prepare_" + std::to_string(stamp) + "_" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    fs::path file(const std::string& name) const { return path_ / name; }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

const fs::path kSample = fs::path(cbs::test::source_dir()) / "data/samples/moby-dick-head.txt";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string decode_split(const SplitSummary& split, const fs::path& dir, const Tokenizer& t) {
    std::vector<std::uint32_t> all;
    std::int64_t counted = 0;
    for (const auto& shard : split.shards) {
        const auto tokens = read_token_shard(dir / shard.file);
        CHECK(static_cast<std::int64_t>(tokens.size()) == shard.tokens);
        counted += shard.tokens;
        all.insert(all.end(), tokens.begin(), tokens.end());
    }
    CHECK(counted == split.tokens);
    return t.decode(all);
}

std::string user_error(const PrepareOptions& o) {
    try {
        (void)prepare_data(o);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("byte tokenizer: every byte lands in train or val, val interleaved at the fraction",
          "[prepare_data]") {
    TempDir dir;
    PrepareOptions o;
    o.inputs = {kSample.string()};
    o.tokenizer = TokenizerKind::byte;
    o.val_fraction = 0.1;
    o.out_dir = dir.file("out").string();
    const PrepareSummary s = prepare_data(o);
    const std::string text = slurp(kSample);
    // One document: "\n\n" (the byte tokenizer's document separator) then the text.
    CHECK(s.train.tokens + s.val.tokens == static_cast<std::int64_t>(text.size()) + 2);
    CHECK(s.text_bytes == static_cast<std::int64_t>(text.size()));
    const double share =
        static_cast<double>(s.val.tokens) / static_cast<double>(s.train.tokens + s.val.tokens);
    // The rule keeps val below p of the tokens before each segment, so it undershoots p by at
    // most one segment (<= 8 x 8 KiB) and overshoots by at most one segment too.
    CHECK(share > 0.1 - 65536.0 / static_cast<double>(text.size()));
    CHECK(share < 0.1 + 65536.0 / static_cast<double>(text.size()));
    CHECK(s.val.segments >= 2); // spread through the book, not one block
    ByteTokenizer bytes;
    const std::string train = decode_split(s.train, o.out_dir, bytes);
    const std::string val = decode_split(s.val, o.out_dir, bytes);
    CHECK(train.rfind("\n\nCHAPTER 1. Loomings.", 0) == 0); // the first segment is train
    CHECK(train.size() + val.size() == text.size() + 2);
    // Each val segment is a piece of the text; train + val sorted back is the text.
    CHECK(text.find(val.substr(0, 2000)) != std::string::npos);
    const std::string manifest = slurp(fs::path(o.out_dir) / "manifest.json");
    CHECK(manifest.find("\"kind\": \"byte\"") != std::string::npos);
    CHECK(manifest.find("\"document_separator\": \"\\n\\n\"") != std::string::npos);
    CHECK(manifest.find("\"val_fraction\": 0.1") != std::string::npos);
    // The manifest is JSON (written by nlohmann-json) with the documented fields, in order.
    const Json m = Json::parse(manifest);
    std::vector<std::string> keys;
    for (const auto& item : m.items())
        keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"format", "format_version", "cbs_version", "created",
                                           "command_line", "tokenizer", "shard_version", "split",
                                           "skip_invalid", "text_bytes", "inputs", "train", "val"});
    CHECK(m["tokenizer"]["document_token"].is_null());
    CHECK(m["tokenizer"]["document_separator"] == "\n\n");
    CHECK(m["train"]["tokens"] == s.train.tokens);
    CHECK(m["inputs"].size() == 1);
    CHECK_FALSE(fs::exists(o.out_dir + ".partial"));
    CHECK_FALSE(fs::exists(fs::path(o.out_dir) / "tokenizer.model"));
}

TEST_CASE("val_tokens takes the head of the input, and shards rotate at shard_tokens",
          "[prepare_data]") {
    TempDir dir;
    PrepareOptions o;
    o.inputs = {kSample.string()};
    o.tokenizer = TokenizerKind::byte;
    o.val_tokens = 20000;
    o.shard_tokens = 50000;
    o.out_dir = dir.file("out").string();
    const PrepareSummary s = prepare_data(o);
    const std::string text = slurp(kSample);
    ByteTokenizer bytes;
    const std::string val = decode_split(s.val, o.out_dir, bytes);
    const std::string train = decode_split(s.train, o.out_dir, bytes);
    CHECK(s.val.tokens >= 20000);
    CHECK(s.val.tokens < 20000 + 8 * 8192);
    CHECK(val + train == "\n\n" + text); // head split: val then train is the input in order
    CHECK(s.val.shards.size() == 1);
    CHECK(static_cast<std::int64_t>(s.train.shards.size()) == (s.train.tokens + 49999) / 50000);
    for (std::size_t i = 0; i + 1 < s.train.shards.size(); ++i)
        CHECK(s.train.shards[i].tokens == 50000);
    CHECK(s.train.shards[1].file == "train_000001.bin");
}

TEST_CASE("sentencepiece: train on the sample, shards decode to the text, model saved",
          "[prepare_data]") {
    TempDir dir;
    PrepareOptions o;
    o.inputs = {kSample.string()};
    o.vocab_size = 512;
    o.vocab_size_set = true;
    o.val_tokens = 5000;
    o.threads = 1;
    o.out_dir = dir.file("spm").string();
    std::vector<std::string> log;
    const PrepareSummary s = prepare_data(o, [&](const std::string& l) { log.push_back(l); });
    CHECK(s.trained);
    CHECK(s.vocab_size == 512);
    REQUIRE(fs::exists(fs::path(o.out_dir) / "tokenizer.model"));
    const auto t = SentencePieceTokenizer::load(fs::path(o.out_dir) / "tokenizer.model");
    std::vector<std::uint32_t> all;
    for (const auto* split : {&s.val, &s.train})
        for (const auto& shard : split->shards) {
            const auto tokens = read_token_shard(fs::path(o.out_dir) / shard.file);
            all.insert(all.end(), tokens.begin(), tokens.end());
        }
    REQUIRE(all.size() > 1);
    CHECK(all[0] == 1u); // <s> starts the document
    CHECK(t->decode(std::span(all).subspan(1)) == slurp(kSample));
    CHECK(inspect_token_shard(fs::path(o.out_dir) / s.train.shards[0].file).version == 1);
    REQUIRE(log.size() >= 3);
    CHECK(log.front().find("sampling") != std::string::npos);
    CHECK(log.back().find("wrote") != std::string::npos);

    // The saved model, loaded with --model, reproduces the same shards.
    PrepareOptions again = o;
    again.vocab_size_set = false;
    again.model = (fs::path(o.out_dir) / "tokenizer.model").string();
    again.out_dir = dir.file("loaded").string();
    const PrepareSummary s2 = prepare_data(again);
    CHECK_FALSE(s2.trained);
    CHECK(slurp(fs::path(again.out_dir) / "train_000000.bin") ==
          slurp(fs::path(o.out_dir) / "train_000000.bin"));
    CHECK(slurp(fs::path(again.out_dir) / "tokenizer.model") ==
          slurp(fs::path(o.out_dir) / "tokenizer.model"));
}

TEST_CASE("expand_inputs: files, directories and globs, sorted and without duplicates",
          "[prepare_data]") {
    TempDir dir;
    fs::create_directories(dir.file("c4/sub"));
    fs::create_directories(dir.file("c4/.hidden"));
    for (const char* name : {"c4/b.json.gz", "c4/a.json.gz", "c4/sub/c.json.gz",
                             "c4/.hidden/x.json.gz", "c4/.dotfile", "book.txt"})
        std::ofstream(dir.file(name)) << "x";
    const auto files = expand_inputs({dir.file("c4").string(), dir.file("c4/a.json.gz").string(),
                                      (dir.path() / "*.txt").string()});
    REQUIRE(files.size() == 4);
    CHECK(files[0] == dir.file("c4/a.json.gz"));
    CHECK(files[1] == dir.file("c4/b.json.gz"));
    CHECK(files[2] == dir.file("c4/sub/c.json.gz"));
    CHECK(files[3] == dir.file("book.txt"));
    CHECK_THROWS_AS(expand_inputs({dir.file("nope.txt").string()}), cbs::UserError);
    CHECK_THROWS_AS(expand_inputs({(dir.path() / "*.parquet").string()}), cbs::UserError);
    fs::create_directories(dir.file("empty"));
    CHECK_THROWS_AS(expand_inputs({dir.file("empty").string()}), cbs::UserError);
}

TEST_CASE("bad options and bad input are refused and leave no output", "[prepare_data]") {
    TempDir dir;
    PrepareOptions base;
    base.inputs = {kSample.string()};
    base.tokenizer = TokenizerKind::byte;
    base.out_dir = dir.file("out").string();
    auto refused = [&](PrepareOptions o, const std::string& expected) {
        const std::string msg = user_error(o);
        INFO(msg);
        CHECK(msg.find(expected) != std::string::npos);
        CHECK_FALSE(fs::exists(o.out_dir));
        CHECK_FALSE(fs::exists(o.out_dir + ".partial"));
    };
    {
        PrepareOptions o = base;
        o.vocab_size_set = true;
        refused(o, "--vocab-size");
    }
    {
        PrepareOptions o = base;
        o.val_fraction = 0.7;
        refused(o, "--val-fraction 0.7");
    }
    {
        PrepareOptions o = base;
        o.val_tokens = 10;
        o.val_fraction_set = true;
        refused(o, "not both");
    }
    {
        PrepareOptions o = base;
        o.shard_tokens = 0;
        refused(o, "--shard-tokens");
    }
    {
        PrepareOptions o = base;
        o.tokenizer = TokenizerKind::sentencepiece;
        o.vocab_size = 100;
        refused(o, "--vocab-size 100");
    }
    {
        PrepareOptions o = base;
        o.tokenizer = TokenizerKind::sentencepiece;
        o.model = dir.file("missing.model").string();
        refused(o, "missing.model");
    }
    {
        PrepareOptions o = base;
        o.out_dir = dir.file("no/such/parent").string();
        refused(o, "parent directory");
    }
    {
        // Invalid UTF-8 in the second file: found after the first was tokenized, still nothing
        // is left behind.
        std::ofstream(dir.file("bad.txt"), std::ios::binary) << "ok\nbad \xC3\x28 byte\n";
        PrepareOptions o = base;
        o.inputs = {kSample.string(), dir.file("bad.txt").string()};
        refused(o, "bad.txt:2: invalid UTF-8");
        o.skip_invalid = true;
        const PrepareSummary s = prepare_data(o);
        CHECK(s.inputs[1].skipped == 1);
        fs::remove_all(o.out_dir);
    }
    {
        std::ofstream(dir.file("tiny.txt")) << "one short line\n";
        PrepareOptions o = base;
        o.inputs = {dir.file("tiny.txt").string()};
        refused(o, "validation split is empty");
    }
    {
        fs::create_directories(dir.file("full"));
        std::ofstream(dir.file("full/keep.txt")) << "keep me";
        PrepareOptions o = base;
        o.out_dir = dir.file("full").string();
        CHECK(user_error(o).find("not empty") != std::string::npos);
        CHECK(slurp(dir.file("full/keep.txt")) == "keep me");
    }
    {
        // An existing empty directory is fine.
        fs::create_directories(dir.file("empty_out"));
        PrepareOptions o = base;
        o.out_dir = dir.file("empty_out").string();
        CHECK_NOTHROW(prepare_data(o));
        CHECK(fs::exists(dir.file("empty_out/train_000000.bin")));
    }
}

TEST_CASE("the committed byte-level sample shards are what prepare-data makes of the sample",
          "[prepare_data]") {
    TempDir dir;
    PrepareOptions o;
    o.inputs = {kSample.string()};
    o.tokenizer = TokenizerKind::byte;
    o.val_fraction = 0.1;
    o.out_dir = dir.file("out").string();
    (void)prepare_data(o);
    const fs::path committed =
        fs::path(cbs::test::source_dir()) / "data/samples/moby-dick-head-byte";
    for (const char* f : {"train_000000.bin", "val_000000.bin"}) {
        INFO(f);
        CHECK(read_token_shard(committed / f) == read_token_shard(fs::path(o.out_dir) / f));
    }
}
