// A small reader (and writer) of the protocol-buffer wire format, enough for TensorBoard's event
// files (data/tensorboard.hpp): fields of wire types 0 (varint), 1 (64-bit), 2 (length-delimited)
// and 5 (32-bit). Written from the format's public description
// (protobuf.dev/programming-guides/encoding): a field key is the varint (number << 3 | type); a
// varint is 7 bits per byte, least significant group first, at most 10 bytes; fixed-width values
// are little-endian. Every read is bounds-checked: a malformed message throws WireError with the
// byte offset (within the message) where it went wrong; nothing is read past the given bytes.
// Groups (types 3 and 4, deprecated) are refused: no message read here has them.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cbs::data::wire {

class WireError : public std::runtime_error {
public:
    WireError(const std::string& what, std::size_t offset)
        : std::runtime_error(what), offset_(offset) {}
    std::size_t offset() const { return offset_; }

private:
    std::size_t offset_;
};

enum WireType : int { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

struct Field {
    std::uint32_t number = 0;
    WireType type = kVarint;
    std::uint64_t value = 0; ///< varint, or the raw bits of a fixed64 / fixed32
    std::string_view bytes;  ///< type kBytes: the payload (a view into the message)
    std::size_t offset = 0;  ///< offset of the field's key within the message
};

/// Iterates over the fields of one message, which it views: the message must outlive the Reader.
class Reader {
public:
    explicit Reader(std::string_view message) : data_(message) {}
    explicit Reader(std::string&&) = delete; ///< a temporary string would dangle

    /// The next field; false at the end of the message. Throws WireError if malformed.
    bool next(Field& f) {
        if (pos_ >= data_.size()) return false;
        f.offset = pos_;
        const std::uint64_t key = varint();
        const std::uint64_t number = key >> 3;
        const int type = static_cast<int>(key & 7);
        if (number == 0 || number > 536870911u) // 2^29 - 1: the largest field number
            throw WireError("field number " + std::to_string(number) + " out of range", f.offset);
        f.number = static_cast<std::uint32_t>(number);
        f.bytes = {};
        switch (type) {
        case kVarint:
            f.type = kVarint;
            f.value = varint();
            break;
        case kFixed64:
            f.type = kFixed64;
            f.value = fixed(8);
            break;
        case kFixed32:
            f.type = kFixed32;
            f.value = fixed(4);
            break;
        case kBytes: {
            f.type = kBytes;
            const std::size_t at = pos_;
            const std::uint64_t length = varint();
            if (length > data_.size() - pos_)
                throw WireError("length " + std::to_string(length) + " runs past the message (" +
                                    std::to_string(data_.size() - pos_) + " bytes left)",
                                at);
            f.bytes = data_.substr(pos_, static_cast<std::size_t>(length));
            pos_ += static_cast<std::size_t>(length);
            break;
        }
        default:
            throw WireError("wire type " + std::to_string(type) + " (field " +
                                std::to_string(number) + ") is not supported",
                            f.offset);
        }
        return true;
    }

    /// Reads one varint (at most 10 bytes; the 10th may hold only the top bit).
    std::uint64_t varint() {
        const std::size_t start = pos_;
        std::uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos_ >= data_.size()) throw WireError("varint runs past the message", start);
            const auto byte = static_cast<std::uint8_t>(data_[pos_++]);
            if (shift == 63 && byte > 1) throw WireError("varint overflows 64 bits", start);
            v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
            if (!(byte & 0x80)) return v;
        }
        throw WireError("varint longer than 10 bytes", start);
    }

    bool at_end() const { return pos_ >= data_.size(); }
    std::size_t position() const { return pos_; }

private:
    std::uint64_t fixed(int width) {
        if (data_.size() - pos_ < static_cast<std::size_t>(width))
            throw WireError(std::to_string(width) + "-byte value runs past the message", pos_);
        std::uint64_t v = 0;
        for (int k = 0; k < width; ++k)
            v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + k])) << (8 * k);
        pos_ += static_cast<std::size_t>(width);
        return v;
    }

    std::string_view data_;
    std::size_t pos_ = 0;
};

inline double as_double(std::uint64_t bits) {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

inline float as_float(std::uint64_t bits) {
    const auto b32 = static_cast<std::uint32_t>(bits);
    float f;
    std::memcpy(&f, &b32, sizeof f);
    return f;
}

// ---- writing (tests, fuzz seeds, exports) ----

inline void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}

inline void put_key(std::string& out, std::uint32_t number, WireType type) {
    put_varint(out, (static_cast<std::uint64_t>(number) << 3) | static_cast<std::uint64_t>(type));
}

inline void put_fixed(std::string& out, std::uint64_t bits, int width) {
    for (int k = 0; k < width; ++k)
        out += static_cast<char>((bits >> (8 * k)) & 0xff);
}

inline void put_double(std::string& out, std::uint32_t number, double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put_key(out, number, kFixed64);
    put_fixed(out, bits, 8);
}

inline void put_float(std::string& out, std::uint32_t number, float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put_key(out, number, kFixed32);
    put_fixed(out, bits, 4);
}

inline void put_bytes(std::string& out, std::uint32_t number, std::string_view payload) {
    put_key(out, number, kBytes);
    put_varint(out, payload.size());
    out.append(payload.data(), payload.size());
}

} // namespace cbs::data::wire
