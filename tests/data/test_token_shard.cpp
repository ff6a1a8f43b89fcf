// Tests of the llm.c-compatible token shards (data/token_shard.hpp): exact round trips in both
// versions, the byte layout llm.c expects, atomic writes, and a one-line UserError for every kind
// of bad file (truncated, trailing bytes, foreign, wrong magic, unknown version).
#include "data/token_shard.hpp"

#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
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
                ("cbs_test_token_shard_" + std::to_string(stamp) + "_" + std::to_string(rd()));
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

std::vector<unsigned char> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::vector<unsigned char>& bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

std::int32_t header_int(const std::vector<unsigned char>& bytes, int i) {
    std::int32_t v = 0;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    return v;
}

void set_header_int(std::vector<unsigned char>& bytes, int i, std::int32_t v) {
    std::memcpy(bytes.data() + 4 * i, &v, 4);
}

/// The UserError message of read_token_shard(path), or "" if it does not throw.
std::string read_error(const fs::path& path) {
    try {
        (void)read_token_shard(path);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}

std::vector<std::uint32_t> random_tokens(std::size_t n, std::uint32_t vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::uint32_t> dist(0, vocab - 1);
    std::vector<std::uint32_t> t(n);
    for (auto& x : t)
        x = dist(rng);
    return t;
}

} // namespace

TEST_CASE("version 1 shards round-trip uint16 tokens in llm.c's byte layout", "[token_shard]") {
    TempDir dir;
    const fs::path path = dir.file("train_000000.bin");
    auto tokens = random_tokens(10007, 65536, 1);
    tokens.front() = 0;
    tokens.back() = 65535; // the largest id a version-1 shard holds
    write_token_shard(path, tokens, 65536);

    const auto bytes = slurp(path);
    REQUIRE(bytes.size() == 1024 + 2 * tokens.size());
    CHECK(header_int(bytes, 0) == 20240520);
    CHECK(header_int(bytes, 1) == 1);
    CHECK(header_int(bytes, 2) == static_cast<std::int32_t>(tokens.size()));
    for (int i = 3; i < 256; ++i)
        CHECK(header_int(bytes, i) == 0);
    std::uint16_t first = 1;
    std::memcpy(&first, bytes.data() + 1024, 2);
    CHECK(first == 0);

    CHECK(read_token_shard(path) == tokens);
    const TokenShardInfo info = inspect_token_shard(path);
    CHECK(info.version == 1);
    CHECK(info.num_tokens == static_cast<std::int64_t>(tokens.size()));
    CHECK(info.bytes_per_token == 2);
    CHECK(info.file_bytes == static_cast<std::int64_t>(bytes.size()));
    CHECK_FALSE(fs::exists(path.string() + ".partial"));
}

TEST_CASE("vocabularies over 65536 entries use version 2 with uint32 tokens", "[token_shard]") {
    TempDir dir;
    const fs::path path = dir.file("big_vocab.bin");
    auto tokens = random_tokens(5000, 100000, 2);
    tokens[17] = 99999;
    tokens[18] = 65536; // would wrap to 0 in a uint16 shard
    write_token_shard(path, tokens, 100000);
    const auto bytes = slurp(path);
    REQUIRE(bytes.size() == 1024 + 4 * tokens.size());
    CHECK(header_int(bytes, 1) == 2);
    CHECK(read_token_shard(path) == tokens);
    CHECK(inspect_token_shard(path).bytes_per_token == 4);

    CHECK(shard_version_for_vocab(256) == 1);
    CHECK(shard_version_for_vocab(65536) == 1);
    CHECK(shard_version_for_vocab(65537) == 2);
}

TEST_CASE("an empty shard is valid and a streamed shard equals a one-shot shard", "[token_shard]") {
    TempDir dir;
    write_token_shard(dir.file("empty.bin"), {}, 256);
    CHECK(read_token_shard(dir.file("empty.bin")).empty());

    const auto tokens = random_tokens(3000, 50257, 3);
    write_token_shard(dir.file("whole.bin"), tokens, 50257);
    {
        TokenShardWriter w(dir.file("streamed.bin"), 50257);
        CHECK(fs::exists(dir.file("streamed.bin.partial")));
        CHECK_FALSE(fs::exists(dir.file("streamed.bin")));
        std::span<const std::uint32_t> all(tokens);
        w.append(all.subspan(0, 1000));
        w.append(all.subspan(1000, 0));
        w.append(all.subspan(1000));
        CHECK(w.size() == 3000);
        w.finish();
    }
    CHECK(slurp(dir.file("streamed.bin")) == slurp(dir.file("whole.bin")));
    CHECK_FALSE(fs::exists(dir.file("streamed.bin.partial")));
}

TEST_CASE("an unfinished writer leaves nothing behind", "[token_shard]") {
    TempDir dir;
    {
        TokenShardWriter w(dir.file("abandoned.bin"), 256);
        const std::vector<std::uint32_t> t = {1, 2, 3};
        w.append(t);
    }
    CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("a token outside the vocabulary is a bug caught by CBS_CHECK", "[token_shard]") {
    TempDir dir;
    const std::vector<std::uint32_t> t = {1, 256};
    CHECK_THROWS_AS(write_token_shard(dir.file("x.bin"), t, 256), cbs::InternalError);
    CHECK_FALSE(fs::exists(dir.file("x.bin")));
    CHECK_FALSE(fs::exists(dir.file("x.bin.partial")));
}

TEST_CASE("an unwritable destination is a UserError naming the path", "[token_shard]") {
    const std::vector<std::uint32_t> t = {1, 2};
    try {
        write_token_shard("/nonexistent_dir_cbs/x.bin", t, 256);
        FAIL("no error");
    } catch (const cbs::UserError& e) {
        CHECK(std::string(e.what()).find("/nonexistent_dir_cbs/x.bin") != std::string::npos);
    }
}

TEST_CASE("bad shards are refused with a message naming the file and the problem",
          "[token_shard]") {
    TempDir dir;
    const fs::path good = dir.file("good.bin");
    const auto tokens = random_tokens(100, 1000, 4);
    write_token_shard(good, tokens, 1000);
    const auto bytes = slurp(good);
    auto check_refused = [&](const std::string& name, const std::vector<unsigned char>& content,
                             const std::string& expected) {
        const fs::path p = dir.file(name);
        spit(p, content);
        const std::string msg = read_error(p);
        INFO(name << ": " << msg);
        CHECK(msg.find(p.string()) != std::string::npos);
        CHECK(msg.find(expected) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
        CHECK_THROWS_AS(inspect_token_shard(p), cbs::UserError);
    };

    SECTION("truncated tokens") {
        check_refused("truncated.bin", {bytes.begin(), bytes.end() - 3}, "truncated");
    }
    SECTION("truncated header") {
        check_refused("short.bin", {bytes.begin(), bytes.begin() + 500}, "shorter than");
    }
    SECTION("empty file") {
        check_refused("zero.bin", {}, "shorter than");
    }
    SECTION("trailing bytes") {
        auto longer = bytes;
        longer.push_back(0);
        longer.push_back(0);
        check_refused("trailing.bin", longer, "2 trailing bytes");
    }
    SECTION("a version-2 header on version-1 data is a size mismatch") {
        auto v2 = bytes;
        set_header_int(v2, 1, 2);
        check_refused("v2.bin", v2, "truncated");
    }
    SECTION("wrong magic") {
        auto bad = bytes;
        set_header_int(bad, 0, 20240521);
        check_refused("magic.bin", bad, "magic number 20240521");
    }
    SECTION("unknown version") {
        auto bad = bytes;
        set_header_int(bad, 1, 3);
        check_refused("version.bin", bad, "unsupported version 3");
    }
    SECTION("negative count") {
        auto bad = bytes;
        set_header_int(bad, 2, -5);
        check_refused("negative.bin", bad, "negative token count");
    }
    SECTION("a foreign file (text)") {
        std::string text(4000, 'x');
        text.replace(0, 15, "Hello, world!\n\n");
        check_refused("foreign.txt", {text.begin(), text.end()}, "not a token shard");
    }
    SECTION("a missing file") {
        const std::string msg = read_error(dir.file("missing.bin"));
        CHECK(msg.find("missing.bin") != std::string::npos);
        CHECK(msg.find("cannot open") != std::string::npos);
    }
    SECTION("a directory") {
        const std::string msg = read_error(dir.path());
        CHECK(msg.find("directory") != std::string::npos);
    }
}
