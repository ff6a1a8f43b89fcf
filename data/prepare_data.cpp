// `cbs prepare-data` (see prepare_data.hpp): expand inputs, (train or load) a tokenizer, tokenize
// segment by segment into train/val shard writers, write the manifest, rename into place.
#include "data/prepare_data.hpp"

#include "data/json_text.hpp"
#include "data/json_writer.hpp"
#include "data/token_shard.hpp"
#include "data/tokenizer.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <glob.h>
#include <memory>
#include <random>
#include <set>
#include <sstream>

namespace cbs::data {

namespace fs = std::filesystem;

const char* to_string(TokenizerKind k) {
    return k == TokenizerKind::byte ? "byte" : "sentencepiece";
}

TokenizerKind parse_tokenizer_kind(const std::string& s) {
    if (s == "byte") return TokenizerKind::byte;
    if (s == "sentencepiece") return TokenizerKind::sentencepiece;
    throw UserError("--tokenizer " + s + ": must be byte or sentencepiece");
}

void PrepareOptions::validate() const {
    if (inputs.empty()) throw UserError("no input files given");
    if (tokenizer == TokenizerKind::byte && !model.empty())
        throw UserError("--model " + model + ": only a sentencepiece tokenizer loads a model");
    if (vocab_size_set && tokenizer == TokenizerKind::byte)
        throw UserError("--vocab-size: the byte tokenizer's vocabulary is always 256");
    if (vocab_size_set && !model.empty())
        throw UserError("--vocab-size: not allowed with --model (the model fixes the vocabulary)");
    if (tokenizer == TokenizerKind::sentencepiece && model.empty()) {
        SentencePieceTrainOptions spm;
        spm.vocab_size = vocab_size;
        spm.threads = threads;
        spm.validate();
    }
    if (val_tokens < 0)
        throw UserError("--val-tokens " + std::to_string(val_tokens) + ": must be > 0");
    if (val_tokens > 0 && val_fraction_set)
        throw UserError("--val-fraction and --val-tokens: give one of them, not both");
    if (val_tokens == 0 && !(val_fraction > 0 && val_fraction <= 0.5))
        throw UserError("--val-fraction " + std::to_string(val_fraction) + ": must be in (0, 0.5]");
    if (shard_tokens < 1 || shard_tokens > kShardMaxTokens)
        throw UserError("--shard-tokens " + std::to_string(shard_tokens) +
                        ": must be in [1, 2147483647] (a shard header counts tokens in an int32)");
    if (spm_sentences < 1)
        throw UserError("--spm-sentences " + std::to_string(spm_sentences) + ": must be >= 1");
    if (threads < 0) throw UserError("--threads " + std::to_string(threads) + ": must be >= 0");
    if (segment_bytes < 1) throw UserError("segment size must be >= 1 byte");
    if (out_dir.empty()) throw UserError("--out-dir: required");
}

// ---- inputs ---------------------------------------------------------------------------------

std::vector<fs::path> expand_inputs(const std::vector<std::string>& patterns) {
    std::vector<fs::path> files;
    std::set<std::string> seen;
    auto add = [&](const fs::path& p) {
        if (seen.insert(fs::weakly_canonical(p).string()).second) files.push_back(p);
    };
    for (const std::string& pattern : patterns) {
        if (pattern.find_first_of("*?[") != std::string::npos) {
            glob_t g{};
            const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
            std::vector<std::string> matches;
            if (rc == 0)
                for (std::size_t i = 0; i < g.gl_pathc; ++i)
                    matches.emplace_back(g.gl_pathv[i]);
            ::globfree(&g);
            std::erase_if(matches, [](const std::string& m) { return fs::is_directory(m); });
            if (matches.empty()) throw UserError("input " + pattern + ": matches no file");
            std::sort(matches.begin(), matches.end());
            for (const auto& m : matches)
                add(m);
            continue;
        }
        std::error_code ec;
        const auto status = fs::status(pattern, ec);
        if (ec || !fs::exists(status)) throw UserError("input " + pattern + ": no such file");
        if (fs::is_directory(status)) {
            std::vector<fs::path> found;
            for (auto it = fs::recursive_directory_iterator(pattern, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                const std::string name = it->path().filename().string();
                if (!name.empty() && name[0] == '.') {
                    if (it->is_directory()) it.disable_recursion_pending();
                    continue;
                }
                if (it->is_regular_file()) found.push_back(it->path());
            }
            if (ec) throw UserError("input " + pattern + ": cannot list: " + ec.message());
            if (found.empty()) throw UserError("input " + pattern + ": directory holds no file");
            std::sort(found.begin(), found.end());
            for (const auto& f : found)
                add(f);
            continue;
        }
        add(pattern);
    }
    return files;
}

namespace {

// ---- small helpers --------------------------------------------------------------------------

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string human(double v) {
    char buf[32];
    if (v >= 1e9)
        std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

/// Throttles progress lines to one every two seconds.
class Progress {
public:
    explicit Progress(const std::function<void(const std::string&)>& log) : log_(log) {}
    void say(const std::string& line) {
        if (log_) log_(line);
        last_ = Clock::now();
    }
    void maybe(const std::function<std::string()>& line) {
        if (log_ && Clock::now() - last_ > std::chrono::seconds(2)) say(line());
    }

private:
    using Clock = std::chrono::steady_clock;
    const std::function<void(const std::string&)>& log_;
    Clock::time_point last_ = Clock::now();
};

/// Cuts `line` into pieces of at most `limit` bytes, at spaces where possible and never inside a
/// UTF-8 sequence, and calls `emit` for each non-empty piece.
template <typename Emit>
void chunk_line(std::string_view line, std::size_t limit, Emit&& emit) {
    while (line.size() > limit) {
        std::size_t cut = line.rfind(' ', limit);
        if (cut == std::string_view::npos || cut == 0) {
            cut = limit;
            while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0u) == 0x80u)
                --cut;
            if (cut == 0) cut = limit;
        }
        emit(line.substr(0, cut));
        line.remove_prefix(cut);
    }
    if (!line.empty()) emit(line);
}

/// A uniform sample of at most `capacity` training sentences (Algorithm R, fixed seed).
class Reservoir {
public:
    Reservoir(std::int64_t capacity, std::uint64_t seed) : capacity_(capacity), rng_(seed) {}
    void offer(std::string_view s) {
        ++seen_;
        if (static_cast<std::int64_t>(sample_.size()) < capacity_) {
            sample_.emplace_back(s);
            return;
        }
        std::uniform_int_distribution<std::int64_t> pick(0, seen_ - 1);
        const std::int64_t j = pick(rng_);
        if (j < capacity_) sample_[static_cast<std::size_t>(j)].assign(s);
    }
    const std::vector<std::string>& sample() const { return sample_; }
    std::int64_t seen() const { return seen_; }

private:
    std::int64_t capacity_;
    std::mt19937_64 rng_;
    std::int64_t seen_ = 0;
    std::vector<std::string> sample_;
};

/// Writes one split as numbered shards of at most `shard_tokens` tokens.
class SplitWriter {
public:
    SplitWriter(fs::path dir, std::string name, std::int64_t vocab_size, std::int64_t shard_tokens,
                SplitSummary& summary)
        : dir_(std::move(dir)), name_(std::move(name)), vocab_size_(vocab_size),
          shard_tokens_(shard_tokens), summary_(summary) {}

    void append(std::span<const std::uint32_t> tokens) {
        while (!tokens.empty()) {
            if (!writer_) open_next();
            const auto room = static_cast<std::size_t>(shard_tokens_ - writer_->size());
            const std::size_t n = std::min(room, tokens.size());
            writer_->append(tokens.first(n));
            tokens = tokens.subspan(n);
            summary_.tokens += static_cast<std::int64_t>(n);
            if (writer_->size() == shard_tokens_) close_current();
        }
    }
    void finish() {
        if (writer_) close_current();
    }

private:
    void open_next() {
        char file[64];
        std::snprintf(file, sizeof file, "%s_%06zu.bin", name_.c_str(), summary_.shards.size());
        writer_ = std::make_unique<TokenShardWriter>(dir_ / file, vocab_size_);
        summary_.shards.push_back(ShardRecord{file, 0});
    }
    void close_current() {
        summary_.shards.back().tokens = writer_->size();
        writer_->finish();
        writer_.reset();
    }

    fs::path dir_;
    std::string name_;
    std::int64_t vocab_size_;
    std::int64_t shard_tokens_;
    SplitSummary& summary_;
    std::unique_ptr<TokenShardWriter> writer_;
};

/// Removes a directory tree on destruction unless released.
class DirGuard {
public:
    explicit DirGuard(fs::path p) : path_(std::move(p)) {}
    ~DirGuard() {
        if (!path_.empty()) {
            std::error_code ec;
            fs::remove_all(path_, ec);
        }
    }
    DirGuard(const DirGuard&) = delete;
    DirGuard& operator=(const DirGuard&) = delete;
    void release() { path_.clear(); }

private:
    fs::path path_;
};

void check_out_dir(const fs::path& out) {
    std::error_code ec;
    const auto st = fs::status(out, ec);
    if (fs::exists(st)) {
        if (!fs::is_directory(st))
            throw UserError("--out-dir " + out.string() + ": exists and is not a directory");
        if (!fs::is_empty(out, ec))
            throw UserError("--out-dir " + out.string() +
                            ": exists and is not empty (remove it or choose another)");
    }
    fs::path parent = out.parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, ec))
        throw UserError("--out-dir " + out.string() + ": parent directory " + parent.string() +
                        " does not exist");
}

std::string manifest_json(const PrepareOptions& o, const PrepareSummary& s,
                          const std::optional<std::uint32_t>& doc_token, std::int64_t spm_used,
                          std::int64_t spm_seen) {
    const auto split = [](const SplitSummary& sp) {
        Json shards = Json::array();
        for (const auto& shard : sp.shards)
            shards.push_back({{"file", shard.file}, {"tokens", shard.tokens}});
        return Json{{"tokens", sp.tokens},
                    {"segments", sp.segments},
                    {"documents", sp.documents},
                    {"shards", std::move(shards)}};
    };
    Json tokenizer = {{"kind", s.tokenizer},
                      {"vocab_size", s.vocab_size},
                      {"document_token", doc_token ? Json(*doc_token) : Json(nullptr)},
                      {"document_separator", doc_token ? Json(nullptr) : Json("\n\n")}};
    if (o.tokenizer == TokenizerKind::sentencepiece) {
        tokenizer["model"] = "tokenizer.model";
        tokenizer["trained"] = s.trained;
        if (s.trained) {
            tokenizer["trained_on_sentences"] = spm_used;
            tokenizer["sentences_seen"] = spm_seen;
            tokenizer["seed"] = o.seed;
        } else {
            tokenizer["loaded_from"] = o.model;
        }
    }
    Json split_rule = o.val_tokens > 0
                          ? Json{{"rule", "head"}, {"val_tokens", o.val_tokens}}
                          : Json{{"rule", "interleaved"}, {"val_fraction", o.val_fraction}};
    split_rule["segment_bytes"] = o.segment_bytes;
    Json inputs = Json::array();
    for (const InputStats& in : s.inputs)
        inputs.push_back({{"path", in.path},
                          {"format", to_string(in.format)},
                          {"bytes", in.bytes},
                          {"lines", in.lines},
                          {"documents", in.documents},
                          {"segments", in.segments},
                          {"skipped", in.skipped}});
    const Json manifest = {{"format", "cbs-prepare-data"},
                           {"format_version", 1},
                           {"cbs_version", o.cbs_version},
                           {"created", utc_now()},
                           {"command_line", o.command_line},
                           {"tokenizer", std::move(tokenizer)},
                           {"shard_version", shard_version_for_vocab(s.vocab_size)},
                           {"split", std::move(split_rule)},
                           {"skip_invalid", o.skip_invalid},
                           {"text_bytes", s.text_bytes},
                           {"inputs", std::move(inputs)},
                           {"train", split(s.train)},
                           {"val", split(s.val)}};
    // One top-level key per line, and one line per input file, as the manifests written so far.
    std::string text = "{\n";
    bool first = true;
    for (const auto& [key, value] : manifest.items()) {
        text += first ? "  " : ",\n  ";
        first = false;
        text += json_line(Json(key)) + ": ";
        if (key != "inputs") {
            text += json_line(value);
            continue;
        }
        text += "[";
        for (std::size_t i = 0; i < value.size(); ++i)
            text += (i ? ",\n    " : "\n    ") + json_line(value[i]);
        text += "\n  ]";
    }
    return text + "\n}\n";
}

void write_text_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw UserError("cannot write " + path.string());
}

} // namespace

// ---- the pipeline ---------------------------------------------------------------------------

PrepareSummary prepare_data(const PrepareOptions& options,
                            const std::function<void(const std::string&)>& log) {
    options.validate();
    const fs::path out_dir = options.out_dir;
    check_out_dir(out_dir);
    const std::vector<fs::path> files = expand_inputs(options.inputs);
    Progress progress(log);
    ReadOptions read_options;
    read_options.segment_bytes = options.segment_bytes;
    read_options.skip_invalid = options.skip_invalid;

    PrepareSummary summary;
    summary.out_dir = out_dir;
    summary.tokenizer = to_string(options.tokenizer);

    // 1. The tokenizer (all of its failures come before any output exists).
    std::unique_ptr<Tokenizer> tokenizer;
    SentencePieceTokenizer* spm = nullptr;
    std::int64_t spm_seen = 0, spm_used = 0;
    if (options.tokenizer == TokenizerKind::byte) {
        tokenizer = std::make_unique<ByteTokenizer>();
    } else if (!options.model.empty()) {
        auto loaded = SentencePieceTokenizer::load(options.model);
        spm = loaded.get();
        tokenizer = std::move(loaded);
    } else {
        Reservoir reservoir(options.spm_sentences, options.seed);
        std::int64_t done_bytes = 0;
        for (std::size_t f = 0; f < files.size(); ++f) {
            const std::string head = "prepare-data: [" + std::to_string(f + 1) + "/" +
                                     std::to_string(files.size()) + "] sampling " +
                                     files[f].string() + " for SentencePiece training";
            progress.say(head);
            const auto stats = read_text_input(
                files[f], read_options,
                [&](const TextSegment& seg) {
                    std::size_t start = 0;
                    while (start < seg.text.size()) {
                        std::size_t end = seg.text.find('\n', start);
                        if (end == std::string_view::npos) end = seg.text.size();
                        chunk_line(seg.text.substr(start, end - start), 4096,
                                   [&](std::string_view piece) { reservoir.offer(piece); });
                        start = end + 1;
                    }
                },
                [&](std::int64_t bytes) {
                    progress.maybe([&] {
                        return head + ": " + human(static_cast<double>(done_bytes + bytes)) +
                               "B read, " + human(static_cast<double>(reservoir.seen())) + " lines";
                    });
                });
            done_bytes += stats.bytes;
        }
        spm_seen = reservoir.seen();
        spm_used = static_cast<std::int64_t>(reservoir.sample().size());
        progress.say("prepare-data: training a SentencePiece BPE model (vocabulary " +
                     std::to_string(options.vocab_size) + ") on " + human(spm_used) + " of " +
                     human(spm_seen) + " lines");
        SentencePieceTrainOptions train_options;
        train_options.vocab_size = options.vocab_size;
        train_options.threads = options.threads;
        auto trained = SentencePieceTokenizer::train(reservoir.sample(), train_options);
        spm = trained.get();
        tokenizer = std::move(trained);
        summary.trained = true;
    }
    summary.vocab_size = tokenizer->vocab_size();
    const std::optional<std::uint32_t> doc_token = tokenizer->document_token();
    std::vector<std::uint32_t> separator;
    if (!doc_token) tokenizer->encode("\n\n", separator);

    // 2. Tokenize into the partial directory.
    const fs::path partial = out_dir.string() + ".partial";
    std::error_code ec;
    fs::remove_all(partial, ec); // a leftover of an interrupted run
    if (!fs::create_directory(partial, ec) || ec)
        throw UserError("--out-dir " + out_dir.string() + ": cannot create " + partial.string() +
                        (ec ? ": " + ec.message() : ""));
    DirGuard guard(partial);
    {
        SplitWriter train(partial, "train", summary.vocab_size, options.shard_tokens,
                          summary.train);
        SplitWriter val(partial, "val", summary.vocab_size, options.shard_tokens, summary.val);
        std::vector<std::uint32_t> tokens;
        std::int64_t done_bytes = 0;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t f = 0; f < files.size(); ++f) {
            const std::string head = "prepare-data: [" + std::to_string(f + 1) + "/" +
                                     std::to_string(files.size()) + "] tokenizing " +
                                     files[f].string();
            progress.say(head);
            InputStats stats = read_text_input(
                files[f], read_options,
                [&](const TextSegment& seg) {
                    tokens.clear();
                    if (seg.starts_document) {
                        if (doc_token)
                            tokens.push_back(*doc_token);
                        else
                            tokens.insert(tokens.end(), separator.begin(), separator.end());
                    }
                    tokenizer->encode(seg.text, tokens);
                    summary.text_bytes += static_cast<std::int64_t>(seg.text.size());
                    const std::int64_t before = summary.train.tokens + summary.val.tokens;
                    const bool to_val =
                        options.val_tokens > 0
                            ? summary.val.tokens < options.val_tokens
                            : static_cast<double>(summary.val.tokens) <
                                  options.val_fraction * static_cast<double>(before);
                    SplitSummary& split = to_val ? summary.val : summary.train;
                    (to_val ? val : train).append(tokens);
                    ++split.segments;
                    if (seg.starts_document) ++split.documents;
                },
                [&](std::int64_t bytes) {
                    progress.maybe([&] {
                        const double secs =
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                                .count();
                        const double total = static_cast<double>(done_bytes + bytes);
                        const auto toks =
                            static_cast<double>(summary.train.tokens + summary.val.tokens);
                        return head + ": " + human(total) + "B read, " + human(toks) + " tokens (" +
                               human(total / std::max(secs, 1e-9)) + "B/s)";
                    });
                });
            done_bytes += stats.bytes;
            summary.inputs.push_back(std::move(stats));
        }
        if (summary.train.tokens == 0)
            throw UserError("the inputs hold no text to train on (" + std::to_string(files.size()) +
                            " file(s), " + std::to_string(done_bytes) + " bytes)");
        if (summary.val.tokens == 0)
            throw UserError(
                "the validation split is empty: the inputs hold only " +
                std::to_string(summary.train.segments) + " segment(s) (~" +
                std::to_string(options.segment_bytes) +
                " bytes of text each, or one JSON record each); give more text or --val-tokens");
        train.finish();
        val.finish();
    }
    if (spm) spm->save(partial / "tokenizer.model");
    write_text_file(partial / "manifest.json",
                    manifest_json(options, summary, doc_token, spm_used, spm_seen));

    // 3. Into place.
    if (fs::exists(out_dir, ec)) fs::remove(out_dir, ec); // an empty directory (checked above)
    fs::rename(partial, out_dir, ec);
    if (ec)
        throw UserError("--out-dir " + out_dir.string() + ": cannot rename " + partial.string() +
                        " into place: " + ec.message());
    guard.release();
    progress.say("prepare-data: wrote " + out_dir.string() + ": " +
                 std::to_string(summary.train.tokens) + " train tokens in " +
                 std::to_string(summary.train.shards.size()) + " shard(s), " +
                 std::to_string(summary.val.tokens) + " val tokens in " +
                 std::to_string(summary.val.shards.size()) + " shard(s)");
    return summary;
}

} // namespace cbs::data
