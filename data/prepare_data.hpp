// `cbs prepare-data`: text files -> a tokenizer -> llm.c-compatible train/val token shards.
//
// Output directory (created whole or not at all: everything is written to "<out_dir>.partial" and
// renamed into place at the end; on any error the partial directory is removed):
//   train_000000.bin, train_000001.bin, ...   training tokens, `shard_tokens` per shard
//   val_000000.bin, ...                       validation tokens
//   tokenizer.model                           the SentencePiece model (sentencepiece only)
//   manifest.json                             what was done: options, inputs, counts, shards
//
// Documents: each document (a text file, a JSON line) starts with the tokenizer's document token
// (SentencePiece <s>); a tokenizer without one (byte) gets the text "\n\n" there instead.
// Split: the unit is a segment (text_input.hpp: ~8 KiB of whole lines of a text file, or one JSON
// record). With val_fraction p, a segment goes to val when the val tokens so far are fewer than p
// times all tokens before it, so val is spread evenly through the input at a share of about p
// (the second segment is always val). With val_tokens N, the first segments go to val until it
// holds at least N tokens (llm.c's convention: val comes from the head of the data).
// SentencePiece training reads the inputs once more first: a uniform sample (reservoir, fixed
// seed) of at most `spm_sentences` lines, long lines cut at spaces into pieces of at most 4096
// bytes.
#pragma once

#include "data/text_input.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cbs::data {

enum class TokenizerKind { byte, sentencepiece };

/// "byte" / "sentencepiece"; parse throws cbs::UserError for anything else.
const char* to_string(TokenizerKind k);
TokenizerKind parse_tokenizer_kind(const std::string& s);

struct PrepareOptions {
    std::vector<std::string> inputs; ///< files, directories (their files, recursively) or globs
    TokenizerKind tokenizer = TokenizerKind::sentencepiece;
    std::string model;              ///< sentencepiece: load this .model instead of training
    std::int64_t vocab_size = 4096; ///< sentencepiece training: vocabulary size
    bool vocab_size_set = false;    ///< vocab_size given explicitly (refused with byte/model)
    double val_fraction = 0.01;     ///< share of tokens in val, in (0, 0.5]
    bool val_fraction_set = false;  ///< val_fraction given explicitly (refused with val_tokens)
    std::int64_t val_tokens = 0;    ///< > 0: val = the first segments, at least this many tokens
    std::string out_dir;            ///< must not exist, or be an empty directory
    std::int64_t shard_tokens = 100'000'000; ///< tokens per shard file (llm.c uses 1e8)
    bool skip_invalid = false;               ///< drop invalid lines/records instead of failing
    std::int64_t spm_sentences = 1'000'000;  ///< lines sampled to train SentencePiece
    std::uint64_t seed = 0;                  ///< seed of that sample
    int threads = 0;                         ///< SentencePiece training threads; 0 = all cores
    std::size_t segment_bytes = 8192;        ///< split granularity of text files (bytes)
    std::string cbs_version = "unknown";     ///< recorded in the manifest
    std::string command_line;                ///< recorded in the manifest

    /// Checks every option (not the inputs' contents). Throws cbs::UserError naming the option.
    void validate() const;
};

struct ShardRecord {
    std::string file; ///< name inside out_dir
    std::int64_t tokens = 0;
};

struct SplitSummary {
    std::int64_t tokens = 0;
    std::int64_t segments = 0;
    std::int64_t documents = 0; ///< documents whose first segment is in this split
    std::vector<ShardRecord> shards;
};

struct PrepareSummary {
    std::filesystem::path out_dir;
    std::string tokenizer; ///< "byte" / "sentencepiece"
    std::int64_t vocab_size = 0;
    bool trained = false; ///< the SentencePiece model was trained here
    std::vector<InputStats> inputs;
    std::int64_t text_bytes = 0; ///< bytes of text tokenized (separators excluded)
    SplitSummary train, val;
};

/// The input files `patterns` name, in order, without duplicates: a file is itself, a directory
/// gives its regular files recursively (sorted, hidden names skipped), a pattern with * ? or [
/// is expanded by glob(3) (sorted). Throws cbs::UserError for a missing file, an empty directory
/// or a pattern that matches nothing.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& patterns);

/// Runs the whole preparation. `log` receives progress lines (no newline), if set.
/// Throws cbs::UserError on bad options or bad input, leaving nothing under out_dir.
PrepareSummary prepare_data(const PrepareOptions& options,
                            const std::function<void(const std::string&)>& log = {});

} // namespace cbs::data
