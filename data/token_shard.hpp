// llm.c-compatible token shards: the on-disk format between `cbs prepare-data` and the LM trainer.
//
// Layout (little-endian): a header of 256 int32 values, then the tokens.
//   header[0] = 20240520 (magic), header[1] = version, header[2] = number of tokens,
//   header[3..255] = 0.
//   version 1: tokens are uint16 (llm.c's format; vocabularies up to 65536 entries);
//   version 2: tokens are uint32 (cbs's variant for vocabularies over 65536 entries).
// A reader refuses a wrong magic, an unknown version, or a file whose size does not match the
// token count (truncated or trailing bytes) with a cbs::UserError naming the file and the problem.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <vector>

namespace cbs::data {

inline constexpr std::int32_t kShardMagic = 20240520;
inline constexpr std::int32_t kShardVersionU16 = 1;
inline constexpr std::int32_t kShardVersionU32 = 2;
inline constexpr int kShardHeaderInts = 256;
inline constexpr std::int64_t kShardHeaderBytes = kShardHeaderInts * 4;
/// The largest token count a header can hold (header[2] is an int32).
inline constexpr std::int64_t kShardMaxTokens = 2147483647;

/// The shard version that holds tokens of a vocabulary of `vocab_size` entries: 1 (uint16) up to
/// 65536 entries, else 2 (uint32). Precondition: 1 <= vocab_size <= 2^32.
std::int32_t shard_version_for_vocab(std::int64_t vocab_size);

/// Writes `tokens` as a shard, atomically (temporary file + rename). Uses version 1 (uint16) when
/// vocab_size <= 65536, else version 2 (uint32). Precondition: every token < vocab_size.
/// Throws cbs::UserError if the file cannot be written.
void write_token_shard(const std::filesystem::path& path, std::span<const std::uint32_t> tokens,
                       std::int64_t vocab_size);

/// Reads and validates a whole shard (version 1 or 2). Throws cbs::UserError on any problem.
std::vector<std::uint32_t> read_token_shard(const std::filesystem::path& path);

/// What a shard's header says, after the same validation as read_token_shard (magic, version,
/// file size) but without reading the tokens.
struct TokenShardInfo {
    std::int32_t version = 0;    ///< 1 (uint16 tokens) or 2 (uint32 tokens)
    std::int64_t num_tokens = 0; ///< header[2]
    int bytes_per_token = 0;     ///< 2 or 4
    std::int64_t file_bytes = 0; ///< kShardHeaderBytes + num_tokens * bytes_per_token
};

/// Validates a shard's header and size. Throws cbs::UserError on any problem.
TokenShardInfo inspect_token_shard(const std::filesystem::path& path);

/// Streams a shard of unknown final length to disk: tokens are appended in pieces, the header's
/// token count is written by finish(), and the file appears under `path` (by rename from
/// "<path>.partial") only then. Destroying an unfinished writer removes the partial file.
/// Not thread-safe; one writer per path.
class TokenShardWriter {
public:
    /// Opens "<path>.partial". Throws cbs::UserError if it cannot be created.
    TokenShardWriter(std::filesystem::path path, std::int64_t vocab_size);
    ~TokenShardWriter();
    TokenShardWriter(const TokenShardWriter&) = delete;
    TokenShardWriter& operator=(const TokenShardWriter&) = delete;

    /// Appends tokens. Precondition: every token < vocab_size. Throws cbs::UserError on a write
    /// failure or when the shard would exceed kShardMaxTokens.
    void append(std::span<const std::uint32_t> tokens);
    /// Tokens appended so far.
    std::int64_t size() const { return count_; }
    /// Writes the header, flushes, syncs and renames to `path`. Throws cbs::UserError on failure
    /// (and removes the partial file).
    void finish();

private:
    void fail(const char* what);

    std::filesystem::path path_;
    std::filesystem::path partial_;
    std::int64_t vocab_size_ = 0;
    std::int32_t version_ = 0;
    std::int64_t count_ = 0;
    std::FILE* file_ = nullptr;
    std::vector<unsigned char> buffer_; ///< conversion buffer for one append
};

} // namespace cbs::data
