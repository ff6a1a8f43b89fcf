// The fast CPU model's implementation (fast_model.hpp), included by fast_model_avx512.cpp and
// fast_model_baseline.cpp, each compiled with its own ISA flags and its own CBS_FAST_NS namespace
// name, so both variants live in one executable and the CPU picks at run time.
//
// Loops are written for the compiler's vectoriser (`#pragma omp simd`, no calls in inner loops):
// exp and erf are polynomial approximations below, accurate to a few fp32 ulps (checked against
// the reference in tests/lm/test_fast_cpu_backend.cpp). Every reduction has a fixed order that
// does not depend on the thread count.
#ifndef CBS_FAST_NS
#error "define CBS_FAST_NS before including fast_model_impl.hpp"
#endif

#include "gpu/cpu/fast_model.hpp"
#include "gpu/model_inputs.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <omp.h>

namespace cbs::lm::cpu::CBS_FAST_NS {

namespace {

using Index = std::int64_t;
using Bf16 = std::uint16_t;

constexpr float kLayerNormEps = 1e-5f;
// Below this many scalar operations a loop runs on one thread (fork/join costs more).
constexpr Index kParallelWork = Index{1} << 15;

// ---- scalar helpers, written to vectorise -------------------------------------------------------

inline Bf16 bf16_bits(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u); // round to nearest even
    return static_cast<Bf16>(u >> 16);
}
inline void store(float* d, float v) {
    *d = v;
}
inline void store(Bf16* d, float v) {
    *d = bf16_bits(v);
}

// e^x for x <= 88 (clamped), relative error ~2e-7; inputs below -87 give e^-87 (~1.6e-38), which
// is zero for every use here (softmax terms beside a max term of 1).
inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float t = x * 1.44269504088896341f;
    const float fi = (t + 12582912.0f) - 12582912.0f; // round to nearest (|t| < 2^22)
    const float r = (x - fi * 0.693145751953125f) - fi * 1.42860682030941723212e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    // A NaN input stays NaN through p; the exponent is taken from 0 then (no NaN-to-int cast).
    const std::int32_t bits = (static_cast<std::int32_t>(fi == fi ? fi : 0.0f) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// erf(x) by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7).
inline float erf_approx(float x) {
    const float ax = x < 0 ? -x : x;
    const float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = 1.0f - p * t * exp_approx(-ax * ax);
    return x < 0 ? -y : y;
}

inline float gelu(float x) {
    return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f));
}
inline float gelu_grad(float x) {
    const float cdf = 0.5f * (1.0f + erf_approx(x * 0.70710678118654752f));
    const float pdf = exp_approx(-0.5f * x * x) * 0.39894228040143268f;
    return cdf + x * pdf;
}

template <typename V>
void assign(std::vector<V>& v, Index n) {
    v.assign(static_cast<std::size_t>(n), V(0));
}

// ---- kernels
// -------------------------------------------------------------------------------------

// y = LN(x) * g per row (x row stride sx; hat, y contiguous (n, c)); keeps hat and 1/sigma.
template <typename Op>
void layernorm_forward(const float* x, Index sx, const float* g, float* hat, float* rstd, Op* y,
                       Index n, Index c) {
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const float* xr = x + r * sx;
        float mean = 0;
#pragma omp simd reduction(+ : mean)
        for (Index i = 0; i < c; ++i)
            mean += xr[i];
        mean /= static_cast<float>(c);
        float var = 0;
#pragma omp simd reduction(+ : var)
        for (Index i = 0; i < c; ++i)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= static_cast<float>(c);
        const float s = 1.0f / std::sqrt(var + kLayerNormEps);
        rstd[r] = s;
        float* hr = hat + r * c;
        Op* yr = y + r * c;
#pragma omp simd
        for (Index i = 0; i < c; ++i) {
            const float h = (xr[i] - mean) * s;
            hr[i] = h;
            store(yr + i, h * g[i]);
        }
    }
}

// dg[i] += sum over rows of dy[r, i] * hat[r, i], rows in order (columns split among threads).
inline void gain_gradient(const float* dy, Index sdy, const float* hat, Index n, Index c,
                          float* dg) {
    constexpr Index kCols = 64;
    const Index blocks = (c + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
    for (Index blk = 0; blk < blocks; ++blk) {
        const Index lo = blk * kCols, hi = std::min(c, lo + kCols);
        float acc[kCols] = {};
        for (Index r = 0; r < n; ++r) {
            const float* dyr = dy + r * sdy + lo;
            const float* hr = hat + r * c + lo;
#pragma omp simd
            for (Index i = 0; i < hi - lo; ++i)
                acc[i] += dyr[i] * hr[i];
        }
        for (Index i = lo; i < hi; ++i)
            dg[i] += acc[i - lo];
    }
}

// dx (row stride sdx) = or += d LN(x) g / dx from dy (row stride sdy). Gains: gain_gradient.
template <typename Out>
void layernorm_backward(const float* dy, Index sdy, const float* hat, const float* rstd,
                        const float* g, Out* dx, Index sdx, Index n, Index c, bool accumulate) {
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const float* dyr = dy + r * sdy;
        const float* hr = hat + r * c;
        float m1 = 0, m2 = 0;
#pragma omp simd reduction(+ : m1, m2)
        for (Index i = 0; i < c; ++i) {
            const float dh = dyr[i] * g[i];
            m1 += dh;
            m2 += dh * hr[i];
        }
        m1 /= static_cast<float>(c);
        m2 /= static_cast<float>(c);
        Out* dxr = dx + r * sdx;
        const float s = rstd[r];
        if constexpr (std::is_same_v<Out, float>) {
            if (accumulate) {
#pragma omp simd
                for (Index i = 0; i < c; ++i)
                    dxr[i] += s * (dyr[i] * g[i] - m1 - hr[i] * m2);
                continue;
            }
        }
#pragma omp simd
        for (Index i = 0; i < c; ++i)
            store(dxr + i, s * (dyr[i] * g[i] - m1 - hr[i] * m2));
    }
}

// Rotates pairs (i, i + D/2) of each head of row r (position r % T) in place; rows of stride sx.
inline void rope(float* x, Index sx, Index n, Index t_len, Index heads, Index d, const float* cos_t,
                 const float* sin_t, bool inverse) {
    const Index half = d / 2;
    const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if (n * heads * d > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const float* cr = cos_t + (r % t_len) * half;
        const float* sr = sin_t + (r % t_len) * half;
        for (Index h = 0; h < heads; ++h) {
            float* a = x + r * sx + h * d;
            float* b = a + half;
#pragma omp simd
            for (Index i = 0; i < half; ++i) {
                const float s = sign * sr[i];
                const float ai = a[i], bi = b[i];
                a[i] = ai * cr[i] - bi * s;
                b[i] = ai * s + bi * cr[i];
            }
        }
    }
}

template <typename Op>
void to_operand_array(const float* x, Op* out, Index n) {
#pragma omp parallel for simd schedule(static) if (n > 4 * kParallelWork)
    for (Index i = 0; i < n; ++i)
        store(out + i, x[i]);
}

// (B*T rows of stride sx, head h in columns [h D, (h + 1) D)) -> out (B, H, T, D) contiguous.
template <typename Op>
void to_heads(const float* x, Index sx, Op* out, Index batch, Index t_len, Index heads, Index d) {
#pragma omp parallel for schedule(static) if (batch * t_len * heads * d > kParallelWork)
    for (Index r = 0; r < batch * t_len; ++r) {
        const Index b = r / t_len, t = r % t_len;
        for (Index h = 0; h < heads; ++h) {
            const float* src = x + r * sx + h * d;
            Op* dst = out + ((b * heads + h) * t_len + t) * d;
#pragma omp simd
            for (Index i = 0; i < d; ++i)
                store(dst + i, src[i]);
        }
    }
}

// The inverse of to_heads: in (B, H, T, D) fp32 -> rows of stride sx.
template <typename Out>
void from_heads(const float* in, Out* x, Index sx, Index batch, Index t_len, Index heads, Index d) {
#pragma omp parallel for schedule(static) if (batch * t_len * heads * d > kParallelWork)
    for (Index r = 0; r < batch * t_len; ++r) {
        const Index b = r / t_len, t = r % t_len;
        for (Index h = 0; h < heads; ++h) {
            const float* src = in + ((b * heads + h) * t_len + t) * d;
            Out* dst = x + r * sx + h * d;
#pragma omp simd
            for (Index i = 0; i < d; ++i)
                store(dst + i, src[i]);
        }
    }
}

// ---- the model ---------------------------------------------------------------------------
// -----------------------------------------------------------------------------------

template <typename Op>
class Model final : public FastModel {
public:
    Model(const ModelConfig& config, const ParamLayout& layout) : config_(config), layout_(layout) {
        config_.validate();
        const Index t_len = config_.context;
        rope_tables(config_, rope_cos_, rope_sin_);
        acts_.resize(static_cast<std::size_t>(config_.layers));
        assign(causal_bias_, t_len * t_len);
        assign(causal_keep_, t_len * t_len);
        for (Index i = 0; i < t_len; ++i)
            for (Index j = 0; j < t_len; ++j) {
                causal_bias_[i * t_len + j] = j <= i ? 0.0f : -INFINITY;
                causal_keep_[i * t_len + j] = j <= i ? 1.0f : 0.0f;
            }
        // Logit rows per chunk: about 8 MB of fp32 logits at a time.
        head_rows_ = std::max<Index>(16, (Index{1} << 21) / config_.vocab);
    }

    OperandType operand_type() const override {
        return std::is_same_v<Op, float> ? OperandType::f32 : OperandType::bf16;
    }
    const char* isa() const override { return CBS_FAST_ISA_NAME; }

    void to_operands(const float* x, void* out, std::int64_t n) override {
        to_operand_array(x, static_cast<Op*>(out), n);
    }

    double forward_backward(const float* params, const void* operands, float* grads,
                            std::span<const std::uint32_t> tokens, std::int64_t batch,
                            double grad_scale) override {
        const double loss =
            forward(params, static_cast<const Op*>(operands), tokens, batch, grads, grad_scale);
        backward(params, static_cast<const Op*>(operands), grads);
        return loss;
    }

    double evaluate(const float* params, const void* operands,
                    std::span<const std::uint32_t> tokens, std::int64_t batch) override {
        return forward(params, static_cast<const Op*>(operands), tokens, batch, nullptr, 0.0);
    }

    void optimizer_step(const OptimizerStep& s, float* params, const float* grads, float* m,
                        float* v, std::span<float* const> ewa, std::span<const double> decays,
                        void* operands) override {
        CBS_CHECK(s.step >= 1, "step ", s.step);
        CBS_CHECK(ewa.size() == decays.size());
        const double c1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
        const double c2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
        const float b1 = static_cast<float>(s.beta1), b2 = static_cast<float>(s.beta2);
        const float gs = static_cast<float>(s.grad_scale), eps = static_cast<float>(s.eps);
        const float inv_c1 = static_cast<float>(1.0 / c1), inv_c2 = static_cast<float>(1.0 / c2);
        Op* wop = static_cast<Op*>(operands);
        for (const ParamTensor& t : layout_.tensors) {
            const float lr = static_cast<float>(s.lr * t.lr_multiplier);
            const float decay =
                t.weight_decay ? static_cast<float>(1.0 - s.lr * t.lr_multiplier * s.weight_decay)
                               : 1.0f;
            float* p = params + t.offset;
            const float* g = grads + t.offset;
            float* mm = m + t.offset;
            float* vv = v + t.offset;
            Op* w = wop + t.offset;
            const Index size = t.size();
#pragma omp parallel for simd schedule(static) if (size > 4 * kParallelWork)
            for (Index i = 0; i < size; ++i) {
                const float gi = g[i] * gs;
                mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
                vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
                const float mhat = mm[i] * inv_c1, vhat = vv[i] * inv_c2;
                p[i] = p[i] * decay - lr * mhat / (std::sqrt(vhat) + eps);
                store(w + i, p[i]);
            }
        }
        const Index total = layout_.total;
        for (std::size_t k = 0; k < ewa.size(); ++k) {
            const float a = static_cast<float>(decays[k]), b = static_cast<float>(1.0 - decays[k]);
            float* e = ewa[k];
#pragma omp parallel for simd schedule(static) if (total > 4 * kParallelWork)
            for (Index i = 0; i < total; ++i)
                e[i] = a * e[i] + b * params[i];
        }
    }

    double squared_norm(const float* x, std::int64_t n) override {
        constexpr Index kBlocks = 64;
        double partial[kBlocks] = {};
#pragma omp parallel for schedule(static) if (n > 4 * kParallelWork)
        for (Index b = 0; b < kBlocks; ++b) {
            const Index lo = n * b / kBlocks, hi = n * (b + 1) / kBlocks;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (Index i = lo; i < hi; ++i)
                s += static_cast<double>(x[i]) * x[i];
            partial[b] = s;
        }
        double total = 0;
        for (double s : partial)
            total += s;
        return total;
    }

private:
    struct LayerActs {
        std::vector<float> ln1_hat, ln1_rstd; // (N, C), (N)
        std::vector<Op> h1;                   // (N, C) GEMM operand
        std::vector<float> qkv;               // (N, 3C) q | k | v before the q/k norms
        std::vector<float> q_hat, k_hat;      // (N, C)
        std::vector<float> q_rstd, k_rstd;    // (N)
        std::vector<Op> qh, kh, vh;           // (B, H, T, D) q, k after gains and RoPE; v
        std::vector<float> probs;             // (B, H, T, T) causal softmax, zero above diagonal
        std::vector<Op> probs_op;             // the same, as a GEMM operand
        std::vector<Op> att;                  // (N, C) attention output (GEMM operand)
        std::vector<float> ln2_hat, ln2_rstd; // (N, C), (N)
        std::vector<Op> h2;                   // (N, C)
        std::vector<float> fc_pre;            // (N, F) before GELU
        std::vector<Op> fc_act;               // (N, F) after GELU (GEMM operand)
    };

    void resize(Index batch) {
        const Index t_len = config_.context, c = config_.d_model, f = config_.mlp_width();
        if (batch == batch_) return;
        batch_ = batch;
        const Index n = batch * t_len;
        const Index att = batch * config_.heads * t_len * t_len;
        targets_.assign(static_cast<std::size_t>(n), 0);
        inputs_.assign(static_cast<std::size_t>(n), 0);
        assign(x_, n * c);
        for (LayerActs& a : acts_) {
            for (auto* v : {&a.ln1_hat, &a.q_hat, &a.k_hat, &a.ln2_hat})
                assign(*v, n * c);
            for (auto* v : {&a.qh, &a.kh, &a.vh})
                assign(*v, n * c);
            assign(a.probs_op, att);
            for (auto* v : {&a.ln1_rstd, &a.q_rstd, &a.k_rstd, &a.ln2_rstd})
                assign(*v, n);
            for (auto* v : {&a.h1, &a.att, &a.h2})
                assign(*v, n * c);
            assign(a.qkv, n * 3 * c);
            assign(a.probs, att);
            assign(a.fc_pre, n * f);
            assign(a.fc_act, n * f);
        }
        assign(lnf_hat_, n * c);
        assign(lnf_rstd_, n);
        assign(hf_, n * c);
        assign(logits_, std::min(n, head_rows_) * config_.vocab);
        assign(dlogits_, n * config_.vocab);
        row_loss_.assign(static_cast<std::size_t>(n), 0.0);
        for (auto* v : {&dx_, &dtmp_, &datt_, &dq_, &dk_, &q_, &k_, &heads_f32_})
            assign(*v, n * c);
        assign(heads_op_, n * c);
        assign(scores_, att);
        assign(dscores_op_, att);
        assign(dx_op_, n * c);
        assign(dfc_, n * f);
        assign(dfc_op_, n * f);
        assign(dqkv_op_, n * 3 * c);
    }

    GemmShape shape(Index m, Index n, Index k, bool ta, bool tb, bool acc, float alpha = 1.0f) {
        GemmShape s;
        s.m = m;
        s.n = n;
        s.k = k;
        s.trans_a = ta;
        s.trans_b = tb;
        s.lda = ta ? m : k;
        s.ldb = tb ? k : n;
        s.ldc = n;
        s.type = operand_type();
        s.accumulate = acc;
        s.alpha = alpha;
        return s;
    }
    // Y (m, n) (+)= X (m, k) W^T with W (n, k) row-major: the nn.Linear product.
    void linear(const Op* x, const Op* w, float* y, Index m, Index n, Index k, bool acc,
                float alpha = 1.0f) {
        gemms_.run(shape(m, n, k, false, true, acc, alpha), x, w, y);
    }
    // dX (m, k) = dY (m, n) W (n, k).
    void linear_dx(const Op* dy, const Op* w, float* dx, Index m, Index n, Index k,
                   float alpha = 1.0f) {
        gemms_.run(shape(m, k, n, false, false, false, alpha), dy, w, dx);
    }
    // dW (n, k) += dY^T (n, m) X (m, k).
    void linear_dw(const Op* dy, const Op* x, float* dw, Index m, Index n, Index k,
                   float alpha = 1.0f) {
        gemms_.run(shape(n, k, m, true, false, true, alpha), dy, x, dw);
    }

    // batch x (m, n) = alpha op(A) op(B) over contiguous (B H) matrices.
    void batched(const Op* a, const Op* b, float* c, Index batch, Index m, Index n, Index k,
                 bool ta, bool tb, float alpha = 1.0f) {
        GemmShape s = shape(m, n, k, ta, tb, false, alpha);
        s.batch = batch;
        s.stride_a = m * k;
        s.stride_b = k * n;
        s.stride_c = m * n;
        gemms_.run(s, a, b, c);
    }

    // q_, k_ (after RoPE) and v (qkv's third part): per (sequence, head) S = scale Q K^T, the
    // causal softmax P (kept, fp32 and as an operand), O = P V into the attention output.
    void attention_forward(LayerActs& a, Index batch) {
        const Index t_len = config_.context, c = config_.d_model, heads = config_.heads;
        const Index d = config_.head_dim(), bh = batch * heads;
        const float scale = static_cast<float>(config_.attention_scale());
        to_heads(q_.data(), c, a.qh.data(), batch, t_len, heads, d);
        to_heads(k_.data(), c, a.kh.data(), batch, t_len, heads, d);
        to_heads(a.qkv.data() + 2 * c, 3 * c, a.vh.data(), batch, t_len, heads, d);
        batched(a.qh.data(), a.kh.data(), scores_.data(), bh, t_len, t_len, d, false, true, scale);
        const Index rows = bh * t_len;
#pragma omp parallel for schedule(static) if (rows * t_len > kParallelWork)
        for (Index r = 0; r < rows; ++r) {
            const float* sc = scores_.data() + r * t_len;
            float* p = a.probs.data() + r * t_len;
            Op* pop = a.probs_op.data() + r * t_len;
            // Whole rows with the causal mask from tables (-inf / 0 added, 0 / 1 multiplied):
            // loops of a fixed length, without branches, vectorise.
            const float* bias = causal_bias_.data() + (r % t_len) * t_len;
            const float* keep = causal_keep_.data() + (r % t_len) * t_len;
            float mx = sc[0];
#pragma omp simd reduction(max : mx)
            for (Index j = 0; j < t_len; ++j)
                mx = std::max(mx, sc[j] + bias[j]);
            float sum = 0;
#pragma omp simd reduction(+ : sum)
            for (Index j = 0; j < t_len; ++j) {
                p[j] = exp_approx(sc[j] - mx) * keep[j];
                sum += p[j];
            }
            const float inv = 1.0f / sum;
#pragma omp simd
            for (Index j = 0; j < t_len; ++j) {
                p[j] *= inv;
                store(pop + j, p[j]);
            }
        }
        batched(a.probs_op.data(), a.vh.data(), heads_f32_.data(), bh, t_len, d, t_len, false,
                false);
        from_heads(heads_f32_.data(), a.att.data(), c, batch, t_len, heads, d);
    }

    // From datt_ (N, C): dV into dqkv_op_'s v columns, d(q, k after RoPE) into dq_, dk_.
    void attention_backward(const LayerActs& a, Index batch) {
        const Index t_len = config_.context, c = config_.d_model, heads = config_.heads;
        const Index d = config_.head_dim(), bh = batch * heads;
        const float scale = static_cast<float>(config_.attention_scale());
        to_heads(datt_.data(), c, heads_op_.data(), batch, t_len, heads, d); // dO
        // dV = P^T dO
        batched(a.probs_op.data(), heads_op_.data(), heads_f32_.data(), bh, t_len, d, t_len, true,
                false);
        from_heads(heads_f32_.data(), dqkv_op_.data() + 2 * c, 3 * c, batch, t_len, heads, d);
        // dP = dO V^T, then dS = P (dP - rowsum(P dP)) scale.
        batched(heads_op_.data(), a.vh.data(), scores_.data(), bh, t_len, t_len, d, false, true);
        const Index rows = bh * t_len;
#pragma omp parallel for schedule(static) if (rows * t_len > kParallelWork)
        for (Index r = 0; r < rows; ++r) {
            const float* dp = scores_.data() + r * t_len;
            const float* p = a.probs.data() + r * t_len;
            Op* ds = dscores_op_.data() + r * t_len;
            // P is zero above the diagonal, so whole rows give the causal dS.
            float dot = 0;
#pragma omp simd reduction(+ : dot)
            for (Index j = 0; j < t_len; ++j)
                dot += p[j] * dp[j];
#pragma omp simd
            for (Index j = 0; j < t_len; ++j)
                store(ds + j, p[j] * (dp[j] - dot) * scale);
        }
        // dQ = dS K, dK = dS^T Q.
        batched(dscores_op_.data(), a.kh.data(), heads_f32_.data(), bh, t_len, d, t_len, false,
                false);
        from_heads(heads_f32_.data(), dq_.data(), c, batch, t_len, heads, d);
        batched(dscores_op_.data(), a.qh.data(), heads_f32_.data(), bh, t_len, d, t_len, true,
                false);
        from_heads(heads_f32_.data(), dk_.data(), c, batch, t_len, heads, d);
    }

    // The read-out and softmax cross-entropy, chunked over rows so that the fp32 logits stay
    // small; with grads, also d(loss)/d(logits) (GEMM operand) for every row, then the read-out's
    // weight gradient and dx_ = d loss / d hf (one GEMM each over all rows).
    double head(const Op* w, float* grads, Index n, double grad_scale) {
        const Index c = config_.d_model, v_len = config_.vocab;
        const float mult = static_cast<float>(config_.logit_multiplier());
        const Op* w_head = w + layout_[layout_.lm_head].offset;
        const bool train = grads != nullptr;
        const float row_scale = static_cast<float>(grad_scale / static_cast<double>(n));
        for (Index r0 = 0; r0 < n; r0 += head_rows_) {
            const Index rows = std::min(head_rows_, n - r0);
            linear(hf_.data() + r0 * c, w_head, logits_.data(), rows, v_len, c, false, mult);
#pragma omp parallel for schedule(static) if (rows * v_len > kParallelWork)
            for (Index r = 0; r < rows; ++r) {
                float* z = logits_.data() + r * v_len;
                const std::uint32_t target = targets_[static_cast<std::size_t>(r0 + r)];
                float mx = z[0];
#pragma omp simd reduction(max : mx)
                for (Index i = 0; i < v_len; ++i)
                    mx = std::max(mx, z[i]);
                const float zt = z[target];
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (Index i = 0; i < v_len; ++i) {
                    z[i] = exp_approx(z[i] - mx);
                    sum += z[i];
                }
                row_loss_[static_cast<std::size_t>(r0 + r)] =
                    std::log(static_cast<double>(sum)) + mx - zt;
                if (!train) continue;
                const float inv = row_scale / sum;
                z[target] -= sum; // softmax - onehot, times sum
                Op* dz = dlogits_.data() + (r0 + r) * v_len;
#pragma omp simd
                for (Index i = 0; i < v_len; ++i)
                    store(dz + i, z[i] * inv);
            }
        }
        double loss = 0;
        for (Index r = 0; r < n; ++r)
            loss += row_loss_[static_cast<std::size_t>(r)];
        if (train) {
            linear_dw(dlogits_.data(), hf_.data(), grads + layout_[layout_.lm_head].offset, n,
                      v_len, c, mult);
            linear_dx(dlogits_.data(), w_head, dtmp_.data(), n, v_len, c, mult);
        }
        return loss / static_cast<double>(n);
    }

    double forward(const float* params, const Op* w, std::span<const std::uint32_t> tokens,
                   Index batch, float* grads, double grad_scale) {
        const Index t_len = config_.context, c = config_.d_model, f = config_.mlp_width();
        const Index heads = config_.heads, d = config_.head_dim();
        CBS_CHECK(batch >= 1, "batch ", batch);
        resize(batch);
        const Index n = batch * t_len;
        split_tokens(tokens, batch, config_, inputs_.data(), targets_.data());
        auto P = [&](int tensor) { return params + layout_[tensor].offset; };
        auto W = [&](int tensor) { return w + layout_[tensor].offset; };

        const float* wte = P(layout_.wte);
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
        for (Index r = 0; r < n; ++r)
            std::copy_n(wte + static_cast<Index>(inputs_[static_cast<std::size_t>(r)]) * c, c,
                        x_.data() + r * c);

        for (Index l = 0; l < config_.layers; ++l) {
            const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
            LayerActs& a = acts_[static_cast<std::size_t>(l)];
            layernorm_forward(x_.data(), c, P(bt.ln1), a.ln1_hat.data(), a.ln1_rstd.data(),
                              a.h1.data(), n, c);
            linear(a.h1.data(), W(bt.qkv), a.qkv.data(), n, 3 * c, c, false);
            layernorm_forward(a.qkv.data(), 3 * c, P(bt.q_norm), a.q_hat.data(), a.q_rstd.data(),
                              q_.data(), n, c);
            layernorm_forward(a.qkv.data() + c, 3 * c, P(bt.k_norm), a.k_hat.data(),
                              a.k_rstd.data(), k_.data(), n, c);
            rope(q_.data(), c, n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), false);
            rope(k_.data(), c, n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), false);
            attention_forward(a, batch);
            linear(a.att.data(), W(bt.attn_out), x_.data(), n, c, c, true);
            layernorm_forward(x_.data(), c, P(bt.ln2), a.ln2_hat.data(), a.ln2_rstd.data(),
                              a.h2.data(), n, c);
            linear(a.h2.data(), W(bt.fc_up), a.fc_pre.data(), n, f, c, false);
            const float* pre = a.fc_pre.data();
            Op* act = a.fc_act.data();
#pragma omp parallel for simd schedule(static) if (n * f > kParallelWork)
            for (Index i = 0; i < n * f; ++i)
                store(act + i, gelu(pre[i]));
            linear(a.fc_act.data(), W(bt.fc_down), x_.data(), n, c, f, true);
        }
        layernorm_forward(x_.data(), c, P(layout_.ln_f), lnf_hat_.data(), lnf_rstd_.data(),
                          hf_.data(), n, c);
        return head(w, grads, n, grad_scale);
    }

    // After forward(grads != nullptr): dtmp_ holds d loss / d hf (scaled), the read-out's weight
    // gradient is accumulated.
    void backward(const float* params, const Op* w, float* grads) {
        const Index t_len = config_.context, c = config_.d_model, f = config_.mlp_width();
        const Index heads = config_.heads, d = config_.head_dim();
        const Index n = batch_ * t_len;
        auto P = [&](int tensor) { return params + layout_[tensor].offset; };
        auto W = [&](int tensor) { return w + layout_[tensor].offset; };
        auto G = [&](int tensor) { return grads + layout_[tensor].offset; };

        gain_gradient(dtmp_.data(), c, lnf_hat_.data(), n, c, G(layout_.ln_f));
        layernorm_backward(dtmp_.data(), c, lnf_hat_.data(), lnf_rstd_.data(), P(layout_.ln_f),
                           dx_.data(), c, n, c, false);
        for (Index l = config_.layers - 1; l >= 0; --l) {
            const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
            LayerActs& a = acts_[static_cast<std::size_t>(l)];
            // MLP: x += gelu(h2 W1^T) W2^T.
            to_operand_array(dx_.data(), dx_op_.data(), n * c);
            linear_dw(dx_op_.data(), a.fc_act.data(), G(bt.fc_down), n, c, f);
            linear_dx(dx_op_.data(), W(bt.fc_down), dfc_.data(), n, c, f);
            {
                const float* pre = a.fc_pre.data();
                const float* dfc = dfc_.data();
                Op* out = dfc_op_.data();
#pragma omp parallel for simd schedule(static) if (n * f > kParallelWork)
                for (Index i = 0; i < n * f; ++i)
                    store(out + i, dfc[i] * gelu_grad(pre[i]));
            }
            linear_dw(dfc_op_.data(), a.h2.data(), G(bt.fc_up), n, f, c);
            linear_dx(dfc_op_.data(), W(bt.fc_up), dtmp_.data(), n, f, c);
            gain_gradient(dtmp_.data(), c, a.ln2_hat.data(), n, c, G(bt.ln2));
            layernorm_backward(dtmp_.data(), c, a.ln2_hat.data(), a.ln2_rstd.data(), P(bt.ln2),
                               dx_.data(), c, n, c, true);

            // Attention: x += att Wo^T.
            to_operand_array(dx_.data(), dx_op_.data(), n * c);
            linear_dw(dx_op_.data(), a.att.data(), G(bt.attn_out), n, c, c);
            linear_dx(dx_op_.data(), W(bt.attn_out), datt_.data(), n, c, c);
            attention_backward(a, batch_);
            // Undo RoPE, then the q / k LayerNorms into dqkv's q | k columns.
            for (int part = 0; part < 2; ++part) {
                const bool is_q = part == 0;
                float* dpart = is_q ? dq_.data() : dk_.data();
                rope(dpart, c, n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), true);
                const float* hat = is_q ? a.q_hat.data() : a.k_hat.data();
                const int gain = is_q ? bt.q_norm : bt.k_norm;
                gain_gradient(dpart, c, hat, n, c, G(gain));
                layernorm_backward(dpart, c, hat, is_q ? a.q_rstd.data() : a.k_rstd.data(), P(gain),
                                   dqkv_op_.data() + part * c, 3 * c, n, c, false);
            }
            linear_dw(dqkv_op_.data(), a.h1.data(), G(bt.qkv), n, 3 * c, c);
            linear_dx(dqkv_op_.data(), W(bt.qkv), dtmp_.data(), n, 3 * c, c);
            gain_gradient(dtmp_.data(), c, a.ln1_hat.data(), n, c, G(bt.ln1));
            layernorm_backward(dtmp_.data(), c, a.ln1_hat.data(), a.ln1_rstd.data(), P(bt.ln1),
                               dx_.data(), c, n, c, true);
        }
        // Token embedding: scatter-add in row order; columns split among threads.
        float* dwte = G(layout_.wte);
        constexpr Index kCols = 64;
        const Index blocks = (c + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
        for (Index blk = 0; blk < blocks; ++blk) {
            const Index lo = blk * kCols, hi = std::min(c, lo + kCols);
            for (Index r = 0; r < n; ++r) {
                float* row = dwte + static_cast<Index>(inputs_[static_cast<std::size_t>(r)]) * c;
                const float* src = dx_.data() + r * c;
#pragma omp simd
                for (Index i = lo; i < hi; ++i)
                    row[i] += src[i];
            }
        }
    }

    ModelConfig config_;
    ParamLayout layout_;
    Gemms gemms_;
    Index batch_ = 0;
    Index head_rows_ = 0;
    std::vector<float> rope_cos_, rope_sin_; // (T, D/2)
    std::vector<float> causal_bias_;         // (T, T) 0 where j <= i, else -inf
    std::vector<float> causal_keep_;         // (T, T) 1 where j <= i, else 0
    std::vector<std::uint32_t> targets_, inputs_;
    std::vector<float> x_; // (N, C) residual stream
    std::vector<LayerActs> acts_;
    std::vector<float> lnf_hat_, lnf_rstd_;
    std::vector<Op> hf_;           // (N, C)
    std::vector<float> logits_;    // (rows per chunk, V)
    std::vector<Op> dlogits_;      // (N, V)
    std::vector<double> row_loss_; // (N)
    std::vector<float> dx_, dtmp_; // (N, C)
    std::vector<float> datt_;      // (N, C)
    std::vector<float> dq_, dk_;   // (N, C)
    std::vector<float> q_, k_;     // (N, C) q, k after norms and RoPE (forward scratch)
    std::vector<float> heads_f32_; // (B, H, T, D) attention GEMM outputs
    std::vector<Op> heads_op_;     // (B, H, T, D) dO as an operand
    std::vector<float> scores_;    // (B, H, T, T) S, then dP
    std::vector<Op> dscores_op_;   // (B, H, T, T) dS
    std::vector<Op> dx_op_;        // (N, C)
    std::vector<float> dfc_;       // (N, F)
    std::vector<Op> dfc_op_;       // (N, F)
    std::vector<Op> dqkv_op_;      // (N, 3C)
};

} // namespace

std::unique_ptr<FastModel> make(const ModelConfig& config, const ParamLayout& layout,
                                OperandType type) {
    if (type == OperandType::bf16) return std::make_unique<Model<Bf16>>(config, layout);
    return std::make_unique<Model<float>>(config, layout);
}

} // namespace cbs::lm::cpu::CBS_FAST_NS
