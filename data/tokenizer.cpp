// The byte tokenizer (see tokenizer.hpp); SentencePiece lives in sentencepiece_tokenizer.cpp.
#include "data/tokenizer.hpp"

#include "theory/check.hpp"

namespace cbs::data {

void ByteTokenizer::encode(std::string_view text, std::vector<std::uint32_t>& out) const {
    out.reserve(out.size() + text.size());
    for (const char c : text)
        out.push_back(static_cast<unsigned char>(c));
}

std::string ByteTokenizer::decode(std::span<const std::uint32_t> ids) const {
    std::string text;
    text.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] > 255)
            throw UserError("byte tokenizer: token " + std::to_string(ids[i]) + " at position " +
                            std::to_string(i) + " is outside the vocabulary of 256");
        text += static_cast<char>(ids[i]);
    }
    return text;
}

} // namespace cbs::data
