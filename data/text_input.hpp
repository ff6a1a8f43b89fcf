// Reading text inputs for `cbs prepare-data`: plain UTF-8 files and C4-style JSON lines, either
// gzip-compressed or not (zlib reads both; a file is decompressed when it is gzip, whatever its
// name).
//
//   text       : any file not named like JSON lines. One file is one document. Its text is cut
//                into segments at line ends: a segment ends at the first blank line after
//                `segment_bytes`, or at any line end after 8 x `segment_bytes`. A UTF-8 byte order
//                mark at the start is dropped; all other bytes (CR, tabs, ...) are kept.
//   json_lines : `*.json`, `*.jsonl`, `*.json.gz`, `*.jsonl.gz`: one JSON object per line with a
//                string field "text" (C4's format; other fields are ignored); each object is one
//                document and one segment. Blank lines are ignored.
// Segments are the unit of the train/val split; documents are what a tokenizer's document token
// separates.
//
// Validation: every line must be valid UTF-8, and every JSON line a valid JSON object with a
// string "text". A violation throws cbs::UserError "FILE:LINE: what is wrong" unless
// `skip_invalid` is set, in which case the line (text) or the record (JSON lines) is dropped and
// counted in InputStats::skipped. A file that cannot be opened or decompressed always throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::data {

enum class InputFormat { text, json_lines };

/// "text" or "json_lines".
const char* to_string(InputFormat f);

/// The format a file is read in, from its name (see the file comment).
InputFormat input_format_for(const std::filesystem::path& path);

/// Reads lines of a plain or gzip file. Lines are returned without their '\n'.
class LineReader {
public:
    /// Throws cbs::UserError if the file cannot be opened.
    explicit LineReader(const std::filesystem::path& path);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    /// Reads the next line into `line`; returns false at the end of the file. `had_newline` tells
    /// whether the line ended with '\n' (false only for a last line without one). Throws
    /// cbs::UserError on a read or decompression error.
    bool next(std::string& line, bool& had_newline);
    /// 1-based number of the line last returned.
    std::int64_t line_number() const { return line_number_; }
    /// Decompressed bytes returned so far (newlines included).
    std::int64_t bytes_read() const { return bytes_; }

private:
    bool fill();

    std::filesystem::path path_;
    void* gz_ = nullptr; // gzFile; kept opaque so zlib.h stays out of this header
    std::vector<char> buffer_;
    std::size_t begin_ = 0, end_ = 0;
    bool eof_ = false;
    std::int64_t line_number_ = 0;
    std::int64_t bytes_ = 0;
};

struct ReadOptions {
    std::size_t segment_bytes = 8192; ///< target segment size of text files (bytes)
    bool skip_invalid = false;        ///< drop invalid lines/records instead of throwing
};

/// One piece of text handed to the consumer.
struct TextSegment {
    std::string_view text;       ///< UTF-8; empty only for a JSON record with "text": ""
    bool starts_document = true; ///< the first segment of a document
};

/// What reading one file found.
struct InputStats {
    std::string path;
    InputFormat format = InputFormat::text;
    std::int64_t documents = 0;
    std::int64_t segments = 0;
    std::int64_t lines = 0;   ///< lines read (including skipped and blank ones)
    std::int64_t bytes = 0;   ///< decompressed bytes read
    std::int64_t skipped = 0; ///< invalid lines/records dropped (skip_invalid only)
};

/// Reads one file and calls `on_segment` for each segment in order. `on_progress(bytes_read)`, if
/// set, is called now and then (about every MiB). Throws as described in the file comment.
InputStats read_text_input(const std::filesystem::path& path, const ReadOptions& options,
                           const std::function<void(const TextSegment&)>& on_segment,
                           const std::function<void(std::int64_t)>& on_progress = {});

} // namespace cbs::data
