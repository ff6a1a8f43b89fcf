// Plain-text and JSON-lines inputs for `cbs prepare-data` (see text_input.hpp).
#include "data/text_input.hpp"

#include "data/json_text.hpp"
#include "theory/check.hpp"

#include <cerrno>
#include <cstring>
#include <zlib.h>

namespace cbs::data {

namespace fs = std::filesystem;

const char* to_string(InputFormat f) {
    return f == InputFormat::json_lines ? "json_lines" : "text";
}

InputFormat input_format_for(const fs::path& path) {
    std::string name = path.filename().string();
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
        name.resize(name.size() - 3);
    for (const char* ext : {".json", ".jsonl"}) {
        const std::size_t n = std::strlen(ext);
        if (name.size() > n && name.compare(name.size() - n, n, ext) == 0)
            return InputFormat::json_lines;
    }
    return InputFormat::text;
}

// ---- LineReader -----------------------------------------------------------------------------

namespace {
constexpr std::size_t kReadChunk = 1 << 20;

gzFile as_gz(void* p) {
    return static_cast<gzFile>(p);
}
} // namespace

LineReader::LineReader(const fs::path& path) : path_(path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw UserError(path.string() + ": is a directory");
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz) throw UserError(path.string() + ": cannot open: " + std::strerror(errno));
    gzbuffer(gz, 1 << 18);
    gz_ = gz;
    buffer_.resize(kReadChunk);
}

LineReader::~LineReader() {
    if (gz_) gzclose(as_gz(gz_));
}

bool LineReader::fill() {
    // Move the unread tail to the front, grow if a single line fills the buffer, then read.
    if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    const auto want = static_cast<unsigned>(std::min<std::size_t>(buffer_.size() - end_, 1u << 30));
    const int got = gzread(as_gz(gz_), buffer_.data() + end_, want);
    if (got < 0) {
        int code = 0;
        const char* msg = gzerror(as_gz(gz_), &code);
        throw UserError(path_.string() + ": cannot read" +
                        (line_number_ > 0 ? " after line " + std::to_string(line_number_) : "") +
                        ": " + (code == Z_ERRNO ? std::strerror(errno) : msg) +
                        (code == Z_DATA_ERROR  ? " (corrupt gzip data)"
                         : code == Z_BUF_ERROR ? " (truncated gzip file)"
                                               : ""));
    }
    if (got == 0) {
        // zlib reports a gzip stream cut short only as an error code at the end.
        int code = 0;
        const char* msg = gzerror(as_gz(gz_), &code);
        if (code != Z_OK && code != Z_STREAM_END)
            throw UserError(path_.string() + ": cannot read: " + msg +
                            " (truncated or corrupt gzip data)");
        eof_ = true;
        return false;
    }
    end_ += static_cast<std::size_t>(got);
    return true;
}

bool LineReader::next(std::string& line, bool& had_newline) {
    std::size_t scan_from = begin_;
    while (true) {
        const void* nl = std::memchr(buffer_.data() + scan_from, '\n', end_ - scan_from);
        if (nl) {
            const auto pos =
                static_cast<std::size_t>(static_cast<const char*>(nl) - buffer_.data());
            line.assign(buffer_.data() + begin_, pos - begin_);
            bytes_ += static_cast<std::int64_t>(pos - begin_ + 1);
            begin_ = pos + 1;
            had_newline = true;
            ++line_number_;
            return true;
        }
        if (eof_) break;
        const std::size_t scanned = end_ - begin_;
        if (!fill()) break;
        scan_from = begin_ + scanned;
    }
    if (begin_ == end_) return false;
    line.assign(buffer_.data() + begin_, end_ - begin_);
    bytes_ += static_cast<std::int64_t>(end_ - begin_);
    begin_ = end_;
    had_newline = false;
    ++line_number_;
    return true;
}

// ---- reading one input ----------------------------------------------------------------------

namespace {

std::string where(const fs::path& path, std::int64_t line) {
    return path.string() + ":" + std::to_string(line);
}

/// Invalid input: throw, or count and return (skip_invalid).
void invalid(const ReadOptions& options, InputStats& stats, const std::string& message) {
    if (!options.skip_invalid)
        throw UserError(message + " (use --skip-invalid to drop such lines)");
    ++stats.skipped;
}

void read_text_file(LineReader& reader, const fs::path& path, const ReadOptions& options,
                    InputStats& stats, const std::function<void(const TextSegment&)>& on_segment,
                    const std::function<void(std::int64_t)>& on_progress) {
    std::string segment;
    std::string line;
    bool had_newline = false;
    bool first_segment = true;
    std::int64_t next_progress = 1 << 20;
    const std::size_t hard_limit = 8 * options.segment_bytes;
    auto emit = [&] {
        on_segment(TextSegment{segment, first_segment});
        first_segment = false;
        ++stats.segments;
        segment.clear();
    };
    while (reader.next(line, had_newline)) {
        ++stats.lines;
        if (stats.lines == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
        if (const auto bad = find_invalid_utf8(line)) {
            invalid(options, stats,
                    where(path, reader.line_number()) + ": invalid UTF-8 at byte " +
                        std::to_string(*bad + 1) + " of the line");
            continue;
        }
        const bool blank = line.empty() || line == "\r";
        segment += line;
        if (had_newline) segment += '\n';
        if ((blank && segment.size() >= options.segment_bytes) || segment.size() >= hard_limit)
            emit();
        if (on_progress && reader.bytes_read() >= next_progress) {
            on_progress(reader.bytes_read());
            next_progress = reader.bytes_read() + (1 << 20);
        }
    }
    if (!segment.empty()) emit();
    stats.documents = first_segment ? 0 : 1; // an empty file holds no document
}

void read_json_lines(LineReader& reader, const fs::path& path, const ReadOptions& options,
                     InputStats& stats, const std::function<void(const TextSegment&)>& on_segment,
                     const std::function<void(std::int64_t)>& on_progress) {
    std::string line;
    bool had_newline = false;
    std::int64_t next_progress = 1 << 20;
    while (reader.next(line, had_newline)) {
        ++stats.lines;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::optional<std::string> text;
        try {
            text = json_string_field(line, "text");
        } catch (const JsonError& e) {
            invalid(options, stats,
                    where(path, reader.line_number()) + ": not a valid JSON object: " + e.what() +
                        " at byte " + std::to_string(e.offset() + 1));
            continue;
        }
        if (!text) {
            invalid(options, stats,
                    where(path, reader.line_number()) + ": the JSON object has no \"text\" field");
            continue;
        }
        on_segment(TextSegment{*text, true});
        ++stats.documents;
        ++stats.segments;
        if (on_progress && reader.bytes_read() >= next_progress) {
            on_progress(reader.bytes_read());
            next_progress = reader.bytes_read() + (1 << 20);
        }
    }
}

} // namespace

InputStats read_text_input(const fs::path& path, const ReadOptions& options,
                           const std::function<void(const TextSegment&)>& on_segment,
                           const std::function<void(std::int64_t)>& on_progress) {
    CBS_CHECK(options.segment_bytes > 0);
    InputStats stats;
    stats.path = path.string();
    stats.format = input_format_for(path);
    LineReader reader(path);
    if (stats.format == InputFormat::json_lines)
        read_json_lines(reader, path, options, stats, on_segment, on_progress);
    else
        read_text_file(reader, path, options, stats, on_segment, on_progress);
    stats.bytes = reader.bytes_read();
    if (on_progress) on_progress(stats.bytes);
    return stats;
}

} // namespace cbs::data
