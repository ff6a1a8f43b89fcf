// SentencePiece tokenizer (see tokenizer.hpp): loading, BPE training through the library's API
// (no temporary files: sentences come from memory and the model comes back serialized), encode
// and decode. SentencePiece headers stay in this file.
#include "data/tokenizer.hpp"

#include "theory/check.hpp"

#include <cstdio>
#include <fstream>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace cbs::data {

namespace fs = std::filesystem;

struct SentencePieceTokenizer::Impl {
    sentencepiece::SentencePieceProcessor processor;
    bool by_lines = false; ///< encoding line by line gives the ids of the whole text
};

namespace {

/// Feeds a span of sentences to the trainer.
class SpanSentenceIterator final : public sentencepiece::SentenceIterator {
public:
    explicit SpanSentenceIterator(std::span<const std::string> s) : sentences_(s) {}
    bool done() const override { return index_ >= sentences_.size(); }
    void Next() override { ++index_; }
    const std::string& value() const override { return sentences_[index_]; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    std::span<const std::string> sentences_;
    std::size_t index_ = 0;
};

} // namespace

void SentencePieceTrainOptions::validate() const {
    // 256 byte-fallback pieces + <unk>, <s>, </s> + "\n" leave room for at least a few merges.
    if (vocab_size < 300 || vocab_size > (std::int64_t{1} << 20))
        throw UserError("--vocab-size " + std::to_string(vocab_size) +
                        ": must be in [300, 1048576] (a SentencePiece model holds 256 "
                        "byte-fallback pieces and 4 special pieces besides the merges)");
    if (!(character_coverage > 0.9 && character_coverage <= 1.0))
        throw UserError("character coverage " + std::to_string(character_coverage) +
                        ": must be in (0.9, 1]");
    if (threads < 0)
        throw UserError("--threads " + std::to_string(threads) + ": must be >= 0 (0 = all cores)");
}

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<Impl> impl, std::string model)
    : impl_(std::move(impl)), model_(std::move(model)) {}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_serialized(std::string model) {
    auto impl = std::make_unique<Impl>();
    const auto status = impl->processor.LoadFromSerializedProto(model);
    if (!status.ok())
        throw UserError("not a SentencePiece model: " + std::string(status.message()));
    // Line-by-line encoding is exact for models trained here; for a loaded model it is used only
    // when "\n" is a piece and a probe text with the usual hazards (dummy prefix, newline
    // normalization, indentation, blank lines) encodes the same both ways.
    const int newline = impl->processor.PieceToId("\n");
    if (newline != impl->processor.unk_id()) {
        const std::string probe = "First line, here.\n  indented: second\nthird\n\n fifth end";
        std::vector<int> whole, by_lines, ids;
        impl->processor.Encode(probe, &whole).IgnoreError();
        std::size_t start = 0;
        while (start < probe.size()) {
            std::size_t end = probe.find('\n', start);
            end = end == std::string::npos ? probe.size() : end + 1;
            impl->processor.Encode(std::string_view(probe).substr(start, end - start), &ids)
                .IgnoreError();
            by_lines.insert(by_lines.end(), ids.begin(), ids.end());
            start = end;
        }
        impl->by_lines = !whole.empty() && whole == by_lines;
    }
    return std::unique_ptr<SentencePieceTokenizer>(
        new SentencePieceTokenizer(std::move(impl), std::move(model)));
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
        throw UserError("SentencePiece model " + path.string() + ": is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UserError("SentencePiece model " + path.string() + ": cannot open");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) throw UserError("SentencePiece model " + path.string() + ": cannot read");
    try {
        return from_serialized(bytes.str());
    } catch (const UserError& e) {
        throw UserError("SentencePiece model " + path.string() + ": " + e.what());
    }
}

std::unique_ptr<SentencePieceTokenizer>
SentencePieceTokenizer::train(std::span<const std::string> sentences,
                              const SentencePieceTrainOptions& options) {
    options.validate();
    if (sentences.empty()) throw UserError("SentencePiece training: no text to train on");
    const int threads = options.threads > 0
                            ? options.threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    char coverage[32];
    std::snprintf(coverage, sizeof coverage, "%.6g", options.character_coverage);
    const std::unordered_map<std::string, std::string> args = {
        {"model_type", "bpe"},
        {"vocab_size", std::to_string(options.vocab_size)},
        {"character_coverage", coverage},
        {"byte_fallback", "true"},
        {"normalization_rule_name", "identity"},
        {"remove_extra_whitespaces", "false"},
        {"add_dummy_prefix", "false"},
        {"user_defined_symbols", "\n"},
        {"allow_whitespace_only_pieces", "true"}, // runs of spaces (indentation) become pieces
        {"unk_id", "0"},
        {"bos_id", "1"},
        {"eos_id", "2"},
        {"pad_id", "-1"},
        {"max_sentence_length", "65536"},
        {"input_sentence_size", "0"}, // the caller samples; SentencePiece takes all it is given
        {"num_threads", std::to_string(threads)},
        {"model_prefix", ""},
        {"minloglevel", "2"}, // SentencePiece's INFO log is pages long; errors come back as status
    };
    SpanSentenceIterator it(sentences);
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
    if (!status.ok())
        throw UserError("SentencePiece training failed: " + std::string(status.message()));
    return from_serialized(std::move(model));
}

std::int64_t SentencePieceTokenizer::vocab_size() const {
    return impl_->processor.GetPieceSize();
}

void SentencePieceTokenizer::encode(std::string_view text, std::vector<std::uint32_t>& out) const {
    // Line by line: SentencePiece's BPE encoder is several times slower on one long string than
    // on its lines (measured 0.35 vs 2 MB/s on 10 MB of the default corpus), and for the models
    // trained here ("\n" is a piece of its own) the ids are the same either way.
    const std::int64_t vocab = vocab_size();
    std::vector<int> ids;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = impl_->by_lines ? text.find('\n', start) : std::string_view::npos;
        end = end == std::string_view::npos ? text.size() : end + 1;
        const auto status = impl_->processor.Encode(text.substr(start, end - start), &ids);
        CBS_CHECK(status.ok(), "SentencePiece encode failed: ", status.message());
        for (const int id : ids) {
            CBS_CHECK(id >= 0 && id < vocab, "SentencePiece returned id ", id);
            out.push_back(static_cast<std::uint32_t>(id));
        }
        start = end;
    }
}

std::string SentencePieceTokenizer::decode(std::span<const std::uint32_t> ids) const {
    std::vector<int> v(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (static_cast<std::int64_t>(ids[i]) >= vocab_size())
            throw UserError("SentencePiece: token " + std::to_string(ids[i]) + " at position " +
                            std::to_string(i) + " is outside the vocabulary of " +
                            std::to_string(vocab_size()));
        v[i] = static_cast<int>(ids[i]);
    }
    std::string text;
    const auto status = impl_->processor.Decode(v, &text);
    CBS_CHECK(status.ok(), "SentencePiece decode failed: ", status.message());
    return text;
}

std::optional<std::uint32_t> SentencePieceTokenizer::document_token() const {
    if (impl_->processor.bos_id() >= 0)
        return static_cast<std::uint32_t>(impl_->processor.bos_id());
    if (impl_->processor.eos_id() >= 0)
        return static_cast<std::uint32_t>(impl_->processor.eos_id());
    return std::nullopt;
}

std::string SentencePieceTokenizer::piece(std::uint32_t id) const {
    CBS_CHECK(static_cast<std::int64_t>(id) < vocab_size(), "id ", id);
    return impl_->processor.IdToPiece(static_cast<int>(id));
}

void SentencePieceTokenizer::save(const fs::path& path) const {
    const std::string partial = path.string() + ".partial";
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        out.write(model_.data(), static_cast<std::streamsize>(model_.size()));
        out.close();
        if (!out) {
            std::error_code ec;
            fs::remove(partial, ec);
            throw UserError("cannot write SentencePiece model " + path.string());
        }
    }
    std::error_code ec;
    fs::rename(partial, path, ec);
    if (ec) {
        fs::remove(partial, ec);
        throw UserError("cannot write SentencePiece model " + path.string() + ": " + ec.message());
    }
}

} // namespace cbs::data
