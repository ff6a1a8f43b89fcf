// Tokenizers for `cbs prepare-data` and for decoding samples: one interface, two kinds.
//
//   byte          : vocabulary of 256, token = byte value. No special tokens; lossless on any
//                   bytes.
//   sentencepiece : a SentencePiece model (Debian's libsentencepiece), loaded from a `.model` file
//                   or trained here as BPE. Models trained here use identity normalization, keep
//                   whitespace as it is (runs of spaces may merge into pieces), add no dummy
//                   prefix, make "\n" a piece of its own and fall back to bytes for unseen
//                   characters, so decode(encode(text)) == text for any UTF-8 text and encoding a
//                   text cut at line ends gives the same ids as encoding it whole (encode() itself
//                   works line by line, for speed, when that is exact: always for models trained
//                   here, after a probe for loaded ones). Ids: 0 = <unk>, 1 = <s> (the document
//                   token), 2 = </s>, 3 = "\n".
// Thread-safety: encode/decode are const and may be called concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::data {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    /// "byte" or "sentencepiece".
    virtual std::string kind() const = 0;
    /// Number of token ids; every id is < vocab_size().
    virtual std::int64_t vocab_size() const = 0;
    /// Appends the ids of `text` to `out`.
    virtual void encode(std::string_view text, std::vector<std::uint32_t>& out) const = 0;
    /// The text of `ids`. Throws cbs::UserError for an id outside the vocabulary.
    virtual std::string decode(std::span<const std::uint32_t> ids) const = 0;
    /// The token put before each document, if the tokenizer has one.
    virtual std::optional<std::uint32_t> document_token() const = 0;
};

class ByteTokenizer final : public Tokenizer {
public:
    std::string kind() const override { return "byte"; }
    std::int64_t vocab_size() const override { return 256; }
    void encode(std::string_view text, std::vector<std::uint32_t>& out) const override;
    std::string decode(std::span<const std::uint32_t> ids) const override;
    std::optional<std::uint32_t> document_token() const override { return std::nullopt; }
};

/// Options of SentencePiece BPE training (the fixed choices are in the file comment).
struct SentencePieceTrainOptions {
    std::int64_t vocab_size = 4096;     ///< pieces in the model, incl. 256 byte pieces and specials
    double character_coverage = 0.9995; ///< share of characters given their own piece
    int threads = 0;                    ///< training threads; 0 = hardware concurrency
    /// Throws cbs::UserError naming the option and the rule broken.
    void validate() const;
};

class SentencePieceTokenizer final : public Tokenizer {
public:
    /// Loads a `.model` file. Throws cbs::UserError if it cannot be read or is not a model.
    static std::unique_ptr<SentencePieceTokenizer> load(const std::filesystem::path& path);
    /// Builds from a serialized model (the bytes of a `.model` file).
    static std::unique_ptr<SentencePieceTokenizer> from_serialized(std::string model);
    /// Trains a BPE model on `sentences` (each a line of text without '\n'; at most 65536 bytes
    /// each). Throws cbs::UserError if SentencePiece refuses (e.g. a vocabulary too large or too
    /// small for the text), with its message.
    static std::unique_ptr<SentencePieceTokenizer> train(std::span<const std::string> sentences,
                                                         const SentencePieceTrainOptions& options);

    ~SentencePieceTokenizer() override;
    std::string kind() const override { return "sentencepiece"; }
    std::int64_t vocab_size() const override;
    void encode(std::string_view text, std::vector<std::uint32_t>& out) const override;
    std::string decode(std::span<const std::uint32_t> ids) const override;
    /// <s> when the model has it, else </s>, else none.
    std::optional<std::uint32_t> document_token() const override;
    /// The piece (subword string) of an id, for inspection.
    std::string piece(std::uint32_t id) const;
    /// The model as the bytes of a `.model` file.
    const std::string& serialized_model() const { return model_; }
    /// Writes the `.model` file atomically. Throws cbs::UserError on failure.
    void save(const std::filesystem::path& path) const;

private:
    struct Impl;
    SentencePieceTokenizer(std::unique_ptr<Impl> impl, std::string model);
    std::unique_ptr<Impl> impl_;
    std::string model_;
};

} // namespace cbs::data
