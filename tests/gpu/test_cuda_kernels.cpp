// Every CUDA kernel against a plain double-precision reference on fresh random inputs.
// Tolerances (STYLE.md): fp32 arithmetic ~6e-8 unit roundoff per operation, a reduction over K
// terms ~sqrt(K) of that, so 1e-5 relative for the short rows here (K <= 1024) leaves a factor
// >10 margin; bf16 outputs carry one rounding, 2^-8 = 3.9e-3 relative per element, on top.
#ifdef CBS_HAVE_CUDA

#include "gpu/cuda/cuda_kernel_checks.hpp"
#include "tests/support/backend_compare.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using namespace backend_compare;
namespace cc = cbs::lm::cuda_checks;

namespace {

constexpr double kEps = 1e-5; // LayerNorm epsilon of the model

struct LnRef {
    std::vector<double> y, mean, rstd, hat;
};
LnRef ln_ref(const Vec& x, const Vec& g, std::int64_t n, std::int64_t c) {
    LnRef r;
    r.y.resize(x.size());
    r.hat.resize(x.size());
    for (std::int64_t i = 0; i < n; ++i) {
        double m = 0, v = 0;
        for (std::int64_t j = 0; j < c; ++j)
            m += x[i * c + j];
        m /= c;
        for (std::int64_t j = 0; j < c; ++j)
            v += (x[i * c + j] - m) * (x[i * c + j] - m);
        v /= c;
        const double s = 1 / std::sqrt(v + kEps);
        r.mean.push_back(m);
        r.rstd.push_back(s);
        for (std::int64_t j = 0; j < c; ++j) {
            r.hat[i * c + j] = (x[i * c + j] - m) * s;
            r.y[i * c + j] = r.hat[i * c + j] * g[j];
        }
    }
    return r;
}

} // namespace

TEST_CASE("layernorm forward matches the reference (fp32 and bf16 outputs)", "[gpu]") {
    const std::int64_t n = 37, c = 192;
    const Vec x = randn(n * c, 1, 2.0, 0.5), g = randn(c, 2, 0.3, 1.0);
    const LnRef ref = ln_ref(x, g, n, c);
    const cc::LayerNormForward f32 = cc::layernorm_forward(x, g, n, c, false);
    CHECK(worst_ratio(f32.y, ref.y, 1e-6, 1e-5) <= 1);
    CHECK(worst_ratio(f32.mean, ref.mean, 1e-6, 1e-5) <= 1);
    CHECK(worst_ratio(f32.rstd, ref.rstd, 0, 1e-5) <= 1);
    // bf16: one rounding of an fp32 value already within 1e-5: 2^-8 relative + the fp32 part.
    const cc::LayerNormForward b16 = cc::layernorm_forward(x, g, n, c, true);
    CHECK(worst_ratio(b16.y, ref.y, 1e-6, 3.9e-3 + 1e-5) <= 1);
}

TEST_CASE("layernorm backward (dx and gain) matches the reference", "[gpu]") {
    const std::int64_t n = 300, c = 96; // n > kGainChunks: several rows per chunk
    const Vec x = randn(n * c, 3, 1.5, -0.2), g = randn(c, 4, 0.3, 1.0);
    const Vec dy = randn(n * c, 5), dg_in = randn(c, 6);
    const LnRef ref = ln_ref(x, g, n, c);
    Vec mean(ref.mean.begin(), ref.mean.end()), rstd(ref.rstd.begin(), ref.rstd.end());
    std::vector<double> dx(n * c), dg(dg_in.begin(), dg_in.end());
    for (std::int64_t i = 0; i < n; ++i) {
        double m1 = 0, m2 = 0;
        for (std::int64_t j = 0; j < c; ++j) {
            const double dh = static_cast<double>(dy[i * c + j]) * g[j];
            m1 += dh;
            m2 += dh * ref.hat[i * c + j];
            dg[j] += dy[i * c + j] * ref.hat[i * c + j];
        }
        m1 /= c;
        m2 /= c;
        for (std::int64_t j = 0; j < c; ++j)
            dx[i * c + j] = ref.rstd[i] * (dy[i * c + j] * g[j] - m1 - ref.hat[i * c + j] * m2);
    }
    const cc::LayerNormBackward got = cc::layernorm_backward(dy, x, mean, rstd, g, dg_in, n, c);
    // dx subtracts two row means from dy g: cancellation costs up to ~10x the per-op error.
    CHECK(rel_l2(got.dx, dx) <= 1e-5);
    CHECK(worst_ratio(got.dx, dx, 1e-5, 1e-4) <= 1);
    // dg sums 300 products per column: sqrt(300) * 6e-8 ~ 1e-6.
    CHECK(worst_ratio(got.dg, dg, 1e-5, 1e-5) <= 1);
}

TEST_CASE("causal attention softmax forward and backward match the reference", "[gpu]") {
    const std::int64_t t = 70, rows = 3 * t; // three (sequence, head) pairs
    const float scale = 0.125f;
    const Vec s = randn(rows * t, 7, 3.0);
    std::vector<double> p(rows * t, 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t i = r % t;
        double mx = -1e300, sum = 0;
        for (std::int64_t j = 0; j <= i; ++j)
            mx = std::max(mx, static_cast<double>(s[r * t + j]));
        for (std::int64_t j = 0; j <= i; ++j)
            sum += std::exp(s[r * t + j] - mx);
        for (std::int64_t j = 0; j <= i; ++j)
            p[r * t + j] = std::exp(s[r * t + j] - mx) / sum;
    }
    // Masked entries must be exactly 0 (worst_ratio with atol 0 there).
    CHECK(worst_ratio(cc::attention_softmax_forward(s, rows, t, false), p, 1e-7, 1e-5) <= 1);
    CHECK(worst_ratio(cc::attention_softmax_forward(s, rows, t, true), p, 1e-7, 3.9e-3 + 1e-5) <=
          1);

    const Vec pf(p.begin(), p.end());
    const Vec dp = randn(rows * t, 8);
    std::vector<double> ds(rows * t, 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t i = r % t;
        double dot = 0;
        for (std::int64_t j = 0; j <= i; ++j)
            dot += static_cast<double>(pf[r * t + j]) * dp[r * t + j];
        for (std::int64_t j = 0; j <= i; ++j)
            ds[r * t + j] = pf[r * t + j] * (dp[r * t + j] - dot) * scale;
    }
    CHECK(rel_l2(cc::attention_softmax_backward(pf, dp, rows, t, scale), ds) <= 1e-5);
}

TEST_CASE("GELU forward and backward match the reference", "[gpu]") {
    const Vec pre = randn(5000, 9, 2.5), dact = randn(5000, 10);
    std::vector<double> act(pre.size()), dpre(pre.size());
    for (std::size_t i = 0; i < pre.size(); ++i) {
        const double x = pre[i];
        const double cdf = 0.5 * (1 + std::erf(x / std::sqrt(2.0)));
        act[i] = x * cdf;
        dpre[i] = dact[i] * (cdf + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI));
    }
    // The kernels use the reference's fp32 form 0.5 x (1 + erff(x / sqrt 2)). CUDA's erff is
    // within 2 ulp; for x < 0, 1 + erff cancels, so that error (2 ulp of ~1: 1.2e-7) is absolute
    // in the cdf: up to 0.5 |x| 1.2e-7 in GELU(x) and 0.5 |dact| 1.2e-7 in the gradient, which a
    // fixed 1e-7 absolute tolerance does not cover for |x| or |dact| > ~1.7. Per-element bound:
    // 1e-6 relative + 1.5e-7 (1 + |x|) (times |dact| for the gradient); a wrong formula (e.g. the
    // tanh form, ~1e-3 off) still fails by orders of magnitude.
    const auto worst = [&](const Vec& got, const std::vector<double>& ref, double rtol, bool grad) {
        double w = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            const double scale = grad ? std::abs(static_cast<double>(dact[i])) : 1.0;
            const double tol = rtol * std::abs(ref[i]) +
                               1.5e-7 * scale * (1.0 + std::abs(static_cast<double>(pre[i])));
            const double r = std::abs(static_cast<double>(got[i]) - ref[i]) / tol;
            if (!(r <= w)) w = r; // NaN propagates
        }
        return w;
    };
    CHECK(worst(cc::gelu_forward(pre, false), act, 1e-6, false) <= 1);
    CHECK(worst(cc::gelu_forward(pre, true), act, 3.9e-3 + 1e-6, false) <= 1);
    CHECK(worst(cc::gelu_backward(dact, pre), dpre, 1e-6, true) <= 1);
}

TEST_CASE("softmax cross-entropy matches the reference", "[gpu]") {
    const std::int64_t n = 19, v = 5003; // odd vocabulary: partial last pass of every block
    const Vec z = randn(n * v, 11, 4.0);
    std::vector<std::int32_t> targets(n);
    for (std::int64_t i = 0; i < n; ++i)
        targets[i] = static_cast<std::int32_t>((i * 977) % v);
    const float row_scale = 0.37f;
    std::vector<double> loss(n), dz(n * v);
    double sum_loss = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        double mx = -1e300, sum = 0;
        for (std::int64_t j = 0; j < v; ++j)
            mx = std::max(mx, static_cast<double>(z[i * v + j]));
        for (std::int64_t j = 0; j < v; ++j)
            sum += std::exp(z[i * v + j] - mx);
        loss[i] = std::log(sum) + mx - z[i * v + targets[i]];
        sum_loss += loss[i];
        for (std::int64_t j = 0; j < v; ++j)
            dz[i * v + j] =
                (std::exp(z[i * v + j] - mx) / sum - (j == targets[i] ? 1.0 : 0.0)) * row_scale;
    }
    const cc::CrossEntropy got = cc::cross_entropy(z, targets, n, v, row_scale);
    // A float sum of 5003 exponentials: ~sqrt(5003) * 6e-8 ~ 4e-6 relative in log-sum-exp.
    CHECK(worst_ratio(got.row_loss, loss, 1e-5, 1e-5) <= 1);
    CHECK(got.sum == Approx(sum_loss).epsilon(1e-5));
    CHECK(rel_l2(got.dlogits, dz) <= 1e-5);
}

TEST_CASE("the GEMM wrapper computes row-major products for every transpose", "[gpu]") {
    const std::int64_t m = 33, n = 70, k = 129;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (int bf16 = 0; bf16 < 2; ++bf16) {
                Vec a = randn(m * k, 12 + ta), b = randn(k * n, 14 + tb), c = randn(m * n, 16);
                if (bf16) {
                    a = round_bf16(a);
                    b = round_bf16(b);
                }
                const float alpha = 0.75f, beta = 1.0f;
                std::vector<double> ref(m * n);
                for (std::int64_t i = 0; i < m; ++i)
                    for (std::int64_t j = 0; j < n; ++j) {
                        double s = 0;
                        for (std::int64_t l = 0; l < k; ++l) {
                            const double av = ta ? a[l * m + i] : a[i * k + l];
                            const double bv = tb ? b[j * k + l] : b[l * n + j];
                            s += av * bv;
                        }
                        ref[i * n + j] = alpha * s + beta * c[i * n + j];
                    }
                const Vec got = cc::gemm(ta, tb, m, n, k, alpha, a, b, beta, c, bf16);
                INFO("trans_a " << ta << " trans_b " << tb << " bf16 " << bf16);
                // Inputs are exactly representable in both cases (pre-rounded for bf16), bf16
                // products are exact in fp32: only fp32 accumulation over k = 129 terms remains.
                CHECK(rel_l2(got, ref) <= 1e-5);
            }
}

#endif // CBS_HAVE_CUDA
