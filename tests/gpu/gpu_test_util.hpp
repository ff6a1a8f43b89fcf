// Helpers of the GPU tests: random inputs, bf16 rounding on the host, norm-relative errors.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace gputest {

using Vec = std::vector<float>;

inline Vec randn(std::size_t n, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> dist(0.0, 1.0);
    Vec v(n);
    for (float& x : v)
        x = static_cast<float>(shift + scale * dist(rng));
    return v;
}

/// Round-to-nearest-even to bfloat16, returned as float (finite inputs).
inline float round_bf16(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

inline Vec round_bf16(const Vec& v) {
    Vec r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        r[i] = round_bf16(v[i]);
    return r;
}

/// ||a - ref|| / ||ref|| (NaN anywhere in a gives NaN, which fails every bound).
template <typename A, typename B>
double rel_l2(const A& a, const B& ref) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(ref[i]);
        num += d * d;
        den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
    }
    return std::sqrt(num) / std::sqrt(den > 0 ? den : 1e-300);
}

/// max_i |a - ref| / (atol + rtol |ref|): <= 1 means every element passes.
template <typename A, typename B>
double worst_ratio(const A& a, const B& ref, double atol, double rtol) {
    double w = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(ref[i]));
        const double r = d / (atol + rtol * std::abs(static_cast<double>(ref[i])));
        if (!(r <= w)) w = r; // NaN propagates
    }
    return w;
}

} // namespace gputest
