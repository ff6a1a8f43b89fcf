#include "gpu/optimizer.hpp"

#include "theory/check.hpp"

#include <cmath>
#include <vector>

namespace cbs::lm {

void adamw_update(const ParamLayout& layout, const OptimizerStep& s, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v) {
    const auto total = static_cast<std::size_t>(layout.total);
    CBS_CHECK(params.size() == total && grads.size() == total && m.size() == total &&
              v.size() == total);
    CBS_CHECK(s.step >= 1, "step ", s.step);
    // Bias corrections in double, then the per-element arithmetic in fp32 (as on a device).
    const double c1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
    const double c2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
    const float b1 = static_cast<float>(s.beta1), b2 = static_cast<float>(s.beta2);
    const float gs = static_cast<float>(s.grad_scale), eps = static_cast<float>(s.eps);
    const float inv_c1 = static_cast<float>(1.0 / c1), inv_c2 = static_cast<float>(1.0 / c2);
    for (const ParamTensor& t : layout.tensors) {
        const float lr = static_cast<float>(s.lr * t.lr_multiplier);
        const float decay = t.weight_decay
                                ? static_cast<float>(1.0 - s.lr * t.lr_multiplier * s.weight_decay)
                                : 1.0f;
        float* p = params.data() + t.offset;
        const float* g = grads.data() + t.offset;
        float* mm = m.data() + t.offset;
        float* vv = v.data() + t.offset;
        const std::int64_t size = t.size();
#pragma omp parallel for simd schedule(static) if (size > (std::int64_t{1} << 18))
        for (std::int64_t i = 0; i < size; ++i) {
            const float gi = g[i] * gs;
            mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
            vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
            const float mhat = mm[i] * inv_c1, vhat = vv[i] * inv_c2;
            p[i] = p[i] * decay - lr * mhat / (std::sqrt(vhat) + eps);
        }
    }
}

void ewa_update(double tau, std::span<float> ewa, std::span<const float> params) {
    CBS_CHECK(ewa.size() == params.size());
    const float a = static_cast<float>(tau), b = static_cast<float>(1.0 - tau);
    const auto n = static_cast<std::int64_t>(ewa.size());
#pragma omp parallel for simd schedule(static) if (n > (std::int64_t{1} << 18))
    for (std::int64_t i = 0; i < n; ++i)
        ewa[i] = a * ewa[i] + b * params[i];
}

void ewa_bias_corrected(double tau, std::int64_t updates, std::span<const float> ewa,
                        std::span<float> out) {
    CBS_CHECK(ewa.size() == out.size() && updates >= 1, "updates ", updates);
    const float inv = static_cast<float>(1.0 / (1.0 - std::pow(tau, static_cast<double>(updates))));
    const auto n = static_cast<std::int64_t>(ewa.size());
#pragma omp parallel for simd schedule(static) if (n > (std::int64_t{1} << 18))
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = ewa[i] * inv;
}

double squared_norm(std::span<const float> x) {
    constexpr std::int64_t kBlocks = 64;
    const auto n = static_cast<std::int64_t>(x.size());
    std::vector<double> partial(kBlocks, 0.0);
#pragma omp parallel for schedule(static) if (n > (std::int64_t{1} << 18))
    for (std::int64_t b = 0; b < kBlocks; ++b) {
        const std::int64_t lo = n * b / kBlocks, hi = n * (b + 1) / kBlocks;
        double s = 0;
        for (std::int64_t i = lo; i < hi; ++i)
            s += static_cast<double>(x[i]) * x[i];
        partial[static_cast<std::size_t>(b)] = s;
    }
    double total = 0;
    for (double s : partial)
        total += s;
    return total;
}

} // namespace cbs::lm
