// Random streams of the wide-network simulator: xoshiro256** seeded through splitmix64, and
// standard normals by the Box-Muller transform. A stream is a pure function of (seed, stream id),
// so every network, data stream and held-out set is reproducible and independent of threading.
#pragma once

#include <cmath>
#include <cstdint>

namespace cbs::sim::net {

/// Stream ids reserved for shared (seed-independent within a simulation) randomness.
inline constexpr std::uint64_t kHeldOutStream = 0x8000000000000001ULL;
inline constexpr std::uint64_t kTeacherStream = 0x8000000000000002ULL;

class Rng {
public:
    /// The state depends only on (seed, stream).
    Rng(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t x = splitmix(seed) ^ splitmix(stream ^ 0xD1B54A32D192ED03ULL);
        for (auto& s : state_)
            s = splitmix(x += 0x9E3779B97F4A7C15ULL); // never all zero
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    /// Uniform in (0, 1]: 53 random bits, never 0 (safe for log).
    double uniform_open0() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }

    /// out[0..n) <- independent standard normals (Box-Muller, two per pair of uniforms).
    template <typename T>
    void fill_normal(T* out, std::ptrdiff_t n) {
        constexpr double two_pi = 6.283185307179586476925286766559;
        std::ptrdiff_t i = 0;
        for (; i + 1 < n; i += 2) {
            const double r = std::sqrt(-2.0 * std::log(uniform_open0()));
            const double angle = two_pi * uniform_open0();
            out[i] = static_cast<T>(r * std::cos(angle));
            out[i + 1] = static_cast<T>(r * std::sin(angle));
        }
        if (i < n) {
            const double r = std::sqrt(-2.0 * std::log(uniform_open0()));
            out[i] = static_cast<T>(r * std::cos(two_pi * uniform_open0()));
        }
    }

private:
    static std::uint64_t splitmix(std::uint64_t x) {
        x += 0x9E3779B97F4A7C15ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        return x ^ (x >> 31);
    }
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t state_[4];
};

} // namespace cbs::sim::net
