#include "gpu/checkpoint.hpp"

#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>

namespace cbs::lm {

namespace {

constexpr char kMagic[8] = {'C', 'B', 'S', 'L', 'M', 'C', 'K', '1'};

class Writer {
public:
    void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    void u64(std::uint64_t v) { raw(&v, 8); }
    void i64(std::int64_t v) { raw(&v, 8); }
    void f64(double v) { raw(&v, 8); }
    void str(const std::string& s) {
        u64(s.size());
        raw(s.data(), s.size());
    }
    template <typename T>
    void vec(const std::vector<T>& v) {
        u64(v.size());
        raw(v.data(), v.size() * sizeof(T));
    }
    std::string& bytes() { return out_; }

private:
    std::string out_;
};

class Reader {
public:
    Reader(const std::string& bytes, std::size_t end, const std::string& path)
        : bytes_(bytes), end_(end), path_(path) {}
    void raw(void* p, std::size_t n) {
        if (n > end_ - pos_) throw UserError(fmt::format("checkpoint '{}': truncated", path_));
        std::memcpy(p, bytes_.data() + pos_, n);
        pos_ += n;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        raw(&v, 8);
        return v;
    }
    std::int64_t i64() {
        std::int64_t v = 0;
        raw(&v, 8);
        return v;
    }
    double f64() {
        double v = 0;
        raw(&v, 8);
        return v;
    }
    std::string str() {
        const std::uint64_t n = u64();
        if (n > end_ - pos_) throw UserError(fmt::format("checkpoint '{}': truncated", path_));
        std::string s(bytes_.data() + pos_, n);
        pos_ += n;
        return s;
    }
    template <typename T>
    std::vector<T> vec() {
        const std::uint64_t n = u64();
        if (n > (end_ - pos_) / sizeof(T))
            throw UserError(fmt::format("checkpoint '{}': truncated", path_));
        std::vector<T> v(n);
        raw(v.data(), n * sizeof(T));
        return v;
    }
    bool done() const { return pos_ == end_; }

private:
    const std::string& bytes_;
    std::size_t end_;
    std::size_t pos_ = 8;
    std::string path_;
};

} // namespace

void write_checkpoint(const std::string& path, const LmCheckpoint& c) {
    Writer w;
    w.raw(kMagic, 8);
    w.str(c.options_toml);
    w.i64(c.step);
    w.f64(c.train_loss_sum);
    w.i64(c.train_loss_count);
    w.i64(c.diverged_step);
    w.vec(c.curve_step);
    w.vec(c.curve_samples);
    w.vec(c.risk);
    w.vec(c.risk_ewa);
    w.vec(c.train_loss);
    w.u64(c.risk_ewa_by_decay.size());
    for (const auto& v : c.risk_ewa_by_decay)
        w.vec(v);
    w.u64(c.buffers.size());
    for (const auto& b : c.buffers)
        w.vec(b);
    w.u64(fnv1a(w.bytes()));

    const std::string partial = path + ".partial";
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        out.write(w.bytes().data(), static_cast<std::streamsize>(w.bytes().size()));
        out.close();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(partial, ec);
            throw UserError(fmt::format("checkpoint '{}': cannot write", path));
        }
    }
    std::error_code ec;
    std::filesystem::rename(partial, path, ec);
    if (ec) {
        std::filesystem::remove(partial, ec);
        throw UserError(fmt::format("checkpoint '{}': cannot rename into place", path));
    }
}

LmCheckpoint read_checkpoint(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UserError(fmt::format("checkpoint '{}': no such file or not readable", path));
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0)
        throw UserError(fmt::format("checkpoint '{}': not a cbs LM checkpoint", path));
    std::uint64_t stored = 0;
    std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
    if (fnv1a(bytes.substr(0, bytes.size() - 8)) != stored)
        throw UserError(fmt::format("checkpoint '{}': corrupt or truncated (hash mismatch)", path));
    Reader r(bytes, bytes.size() - 8, path);
    LmCheckpoint c;
    c.options_toml = r.str();
    c.step = r.i64();
    c.train_loss_sum = r.f64();
    c.train_loss_count = r.i64();
    c.diverged_step = r.i64();
    c.curve_step = r.vec<std::int64_t>();
    c.curve_samples = r.vec<std::int64_t>();
    c.risk = r.vec<double>();
    c.risk_ewa = r.vec<double>();
    c.train_loss = r.vec<double>();
    const std::uint64_t decays = r.u64();
    if (decays > 1024) throw UserError(fmt::format("checkpoint '{}': corrupt", path));
    for (std::uint64_t i = 0; i < decays; ++i)
        c.risk_ewa_by_decay.push_back(r.vec<double>());
    const std::uint64_t buffers = r.u64();
    if (buffers > 1024) throw UserError(fmt::format("checkpoint '{}': corrupt", path));
    for (std::uint64_t i = 0; i < buffers; ++i)
        c.buffers.push_back(r.vec<float>());
    if (!r.done()) throw UserError(fmt::format("checkpoint '{}': trailing bytes", path));
    return c;
}

} // namespace cbs::lm
