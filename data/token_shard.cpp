// llm.c-compatible token shards (see token_shard.hpp). Plain stdio with every call checked; a
// shard appears under its final name only when complete (write "<path>.partial", fsync, rename).
#include "data/token_shard.hpp"

#include "theory/check.hpp"

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <unistd.h>

namespace cbs::data {

static_assert(std::endian::native == std::endian::little,
              "token shards are little-endian; this reader/writer assumes a little-endian host");

namespace fs = std::filesystem;

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

[[noreturn]] void shard_error(const fs::path& path, const std::string& what) {
    throw UserError("token shard " + path.string() + ": " + what);
}

void remove_quietly(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
}

std::array<std::int32_t, kShardHeaderInts> make_header(std::int32_t version, std::int64_t count) {
    std::array<std::int32_t, kShardHeaderInts> header{};
    header[0] = kShardMagic;
    header[1] = version;
    header[2] = static_cast<std::int32_t>(count);
    return header;
}

/// Converts tokens to the on-disk width; checks the vocabulary precondition (a bug if violated).
void encode_tokens(std::span<const std::uint32_t> tokens, std::int32_t version,
                   std::int64_t vocab_size, std::vector<unsigned char>& out) {
    const std::size_t width = version == kShardVersionU16 ? 2 : 4;
    out.resize(tokens.size() * width);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::uint32_t t = tokens[i];
        CBS_CHECK(static_cast<std::int64_t>(t) < vocab_size, "token ", t, " at position ", i,
                  " is outside the vocabulary of ", vocab_size);
        if (width == 2) {
            const auto v = static_cast<std::uint16_t>(t);
            std::memcpy(out.data() + 2 * i, &v, 2);
        } else {
            std::memcpy(out.data() + 4 * i, &t, 4);
        }
    }
}

} // namespace

std::int32_t shard_version_for_vocab(std::int64_t vocab_size) {
    CBS_CHECK(vocab_size >= 1 && vocab_size <= (std::int64_t{1} << 32),
              "vocab_size = ", vocab_size);
    return vocab_size <= 65536 ? kShardVersionU16 : kShardVersionU32;
}

// ---- writer ---------------------------------------------------------------------------------

TokenShardWriter::TokenShardWriter(fs::path path, std::int64_t vocab_size)
    : path_(std::move(path)), partial_(path_.string() + ".partial"), vocab_size_(vocab_size),
      version_(shard_version_for_vocab(vocab_size)) {
    file_ = std::fopen(partial_.c_str(), "wb");
    if (!file_) shard_error(path_, "cannot create " + partial_.string() + ": " + errno_text());
    // Placeholder header (count 0); finish() rewrites it with the final count.
    const auto header = make_header(version_, 0);
    if (std::fwrite(header.data(), sizeof(std::int32_t), header.size(), file_) != header.size())
        fail("cannot write header");
}

TokenShardWriter::~TokenShardWriter() {
    if (file_) {
        std::fclose(file_);
        remove_quietly(partial_);
    }
}

void TokenShardWriter::fail(const char* what) {
    const std::string reason = std::string(what) + ": " + errno_text();
    if (file_) std::fclose(file_);
    file_ = nullptr;
    remove_quietly(partial_);
    shard_error(path_, reason);
}

void TokenShardWriter::append(std::span<const std::uint32_t> tokens) {
    CBS_CHECK(file_ != nullptr, "append after finish() on ", path_.string());
    if (count_ + static_cast<std::int64_t>(tokens.size()) > kShardMaxTokens) {
        errno = EFBIG;
        fail("more tokens than a shard header can count (2^31 - 1)");
    }
    encode_tokens(tokens, version_, vocab_size_, buffer_);
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
        fail("cannot write tokens");
    count_ += static_cast<std::int64_t>(tokens.size());
}

void TokenShardWriter::finish() {
    CBS_CHECK(file_ != nullptr, "finish() twice on ", path_.string());
    const auto header = make_header(version_, count_);
    if (std::fseek(file_, 0, SEEK_SET) != 0) fail("cannot seek to the header");
    if (std::fwrite(header.data(), sizeof(std::int32_t), header.size(), file_) != header.size())
        fail("cannot write header");
    if (std::fflush(file_) != 0) fail("cannot flush");
    if (::fsync(::fileno(file_)) != 0) fail("cannot sync");
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) {
        const std::string reason = "cannot close " + partial_.string() + ": " + errno_text();
        remove_quietly(partial_);
        shard_error(path_, reason);
    }
    std::error_code ec;
    fs::rename(partial_, path_, ec);
    if (ec) {
        remove_quietly(partial_);
        shard_error(path_, "cannot rename " + partial_.string() + " into place: " + ec.message());
    }
}

void write_token_shard(const fs::path& path, std::span<const std::uint32_t> tokens,
                       std::int64_t vocab_size) {
    TokenShardWriter writer(path, vocab_size);
    writer.append(tokens);
    writer.finish();
}

// ---- reader ---------------------------------------------------------------------------------

namespace {

/// Owns a FILE* for reading; closes it on every path.
struct InFile {
    std::FILE* f = nullptr;
    explicit InFile(const fs::path& path) : f(std::fopen(path.c_str(), "rb")) {}
    ~InFile() {
        if (f) std::fclose(f);
    }
    InFile(const InFile&) = delete;
    InFile& operator=(const InFile&) = delete;
};

TokenShardInfo validate_header(const fs::path& path, std::FILE* f) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) shard_error(path, "is a directory, not a file");
    const auto size = fs::file_size(path, ec);
    if (ec) shard_error(path, "cannot read its size: " + ec.message());
    const auto file_bytes = static_cast<std::int64_t>(size);
    if (file_bytes < kShardHeaderBytes)
        shard_error(path, "not a token shard: " + std::to_string(file_bytes) +
                              " bytes, shorter than the " + std::to_string(kShardHeaderBytes) +
                              "-byte header (truncated or a different kind of file)");
    std::array<std::int32_t, kShardHeaderInts> header{};
    if (std::fread(header.data(), sizeof(std::int32_t), header.size(), f) != header.size())
        shard_error(path, "cannot read the header: " + errno_text());
    if (header[0] != kShardMagic)
        shard_error(path, "not a token shard: magic number " + std::to_string(header[0]) +
                              ", expected " + std::to_string(kShardMagic));
    TokenShardInfo info;
    info.version = header[1];
    if (info.version == kShardVersionU16) {
        info.bytes_per_token = 2;
    } else if (info.version == kShardVersionU32) {
        info.bytes_per_token = 4;
    } else {
        shard_error(path, "unsupported version " + std::to_string(header[1]) +
                              " (supported: 1 = uint16 tokens, 2 = uint32 tokens)");
    }
    if (header[2] < 0)
        shard_error(path, "corrupt header: negative token count " + std::to_string(header[2]));
    info.num_tokens = header[2];
    info.file_bytes = kShardHeaderBytes + info.num_tokens * info.bytes_per_token;
    if (file_bytes < info.file_bytes)
        shard_error(path, "truncated: the header says " + std::to_string(info.num_tokens) +
                              " tokens (" + std::to_string(info.file_bytes) +
                              " bytes) but the file has " + std::to_string(file_bytes) + " bytes");
    if (file_bytes > info.file_bytes)
        shard_error(path, std::to_string(file_bytes - info.file_bytes) +
                              " trailing bytes after the " + std::to_string(info.num_tokens) +
                              " tokens the header announces (expected " +
                              std::to_string(info.file_bytes) + " bytes)");
    return info;
}

} // namespace

TokenShardInfo inspect_token_shard(const fs::path& path) {
    InFile in(path);
    if (!in.f) shard_error(path, "cannot open: " + errno_text());
    return validate_header(path, in.f);
}

std::vector<std::uint32_t> read_token_shard(const fs::path& path) {
    InFile in(path);
    if (!in.f) shard_error(path, "cannot open: " + errno_text());
    const TokenShardInfo info = validate_header(path, in.f);
    const auto n = static_cast<std::size_t>(info.num_tokens);
    std::vector<std::uint32_t> tokens(n);
    if (info.bytes_per_token == 4) {
        if (std::fread(tokens.data(), 4, n, in.f) != n)
            shard_error(path, "cannot read the tokens: " + errno_text());
    } else {
        std::vector<std::uint16_t> narrow(n);
        if (std::fread(narrow.data(), 2, n, in.f) != n)
            shard_error(path, "cannot read the tokens: " + errno_text());
        for (std::size_t i = 0; i < n; ++i)
            tokens[i] = narrow[i];
    }
    return tokens;
}

} // namespace cbs::data
