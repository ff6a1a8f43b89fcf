// Fuzz target: arbitrary bytes as a token shard file -> read_token_shard / inspect_token_shard.
// Either both refuse with cbs::UserError, or both accept and the tokens are exactly what the header
// and the bytes say. Seeds: corpus/fuzz_token_shard/ (small shards written by write_token_shard).
#include "data/token_shard.hpp"
#include "fuzz_support.hpp"
#include "theory/check.hpp"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace d = cbs::data;
    static const std::filesystem::path path = cbs::fuzz::scratch_path("shard.bin");
    cbs::fuzz::write_file(path, data, size);

    bool inspected = false;
    d::TokenShardInfo info;
    try {
        info = d::inspect_token_shard(path);
        inspected = true;
    } catch (const cbs::UserError&) {
    }
    std::vector<std::uint32_t> tokens;
    try {
        tokens = d::read_token_shard(path);
    } catch (const cbs::UserError&) {
        FUZZ_REQUIRE(!inspected, "read_token_shard refused a shard that inspect accepted");
        return 0;
    }
    FUZZ_REQUIRE(inspected, "read_token_shard accepted a shard that inspect refused");

    // Accepted: the header must describe exactly these bytes.
    std::int32_t header[3];
    FUZZ_REQUIRE(size >= static_cast<std::size_t>(d::kShardHeaderBytes), "short file accepted");
    std::memcpy(header, data, sizeof header);
    FUZZ_REQUIRE(header[0] == d::kShardMagic, "bad magic accepted");
    FUZZ_REQUIRE(info.version == header[1] && info.num_tokens == header[2], "header misread");
    FUZZ_REQUIRE(info.file_bytes == static_cast<std::int64_t>(size), "size mismatch accepted");
    FUZZ_REQUIRE(tokens.size() == static_cast<std::size_t>(info.num_tokens), "token count");
    const std::uint8_t* body = data + d::kShardHeaderBytes;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        std::uint32_t expected = 0;
        std::memcpy(&expected, body + i * info.bytes_per_token, info.bytes_per_token);
        FUZZ_REQUIRE(tokens[i] == expected, "token " + std::to_string(i));
    }
    return 0;
}
