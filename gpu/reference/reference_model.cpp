#include "gpu/reference/reference_model.hpp"

#include "gpu/model_inputs.hpp"

#include "theory/check.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace cbs::lm {

namespace {

constexpr double kLayerNormEps = 1e-5;
// Below this many scalar operations a loop runs on one thread: fork/join costs more than it saves
// for tiny models, and far more on an oversubscribed machine (CI runners, shared hosts).
constexpr std::int64_t kParallelWork = std::int64_t{1} << 17;

template <typename T>
using MatR = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Mat = Eigen::Map<MatR<T>>;
template <typename T>
using CMat = Eigen::Map<const MatR<T>>;
template <typename T>
using SMat = Eigen::Map<MatR<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using CSMat = Eigen::Map<const MatR<T>, 0, Eigen::OuterStride<>>;

using Index = std::int64_t;

// y = LN(x) * g over rows of C (x row stride sx, y contiguous). Keeps x_hat and 1/sigma for the
// backward pass. Statistics in double: this is the reference.
template <typename T>
void layernorm_forward(const T* x, Index sx, const T* g, T* hat, T* rstd, T* y, Index n, Index c) {
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const T* xr = x + r * sx;
        double mean = 0;
        for (Index i = 0; i < c; ++i)
            mean += xr[i];
        mean /= static_cast<double>(c);
        double var = 0;
        for (Index i = 0; i < c; ++i)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= static_cast<double>(c);
        const double s = 1.0 / std::sqrt(var + kLayerNormEps);
        rstd[r] = static_cast<T>(s);
        for (Index i = 0; i < c; ++i) {
            const T h = static_cast<T>((xr[i] - mean) * s);
            hat[r * c + i] = h;
            y[r * c + i] = h * g[i];
        }
    }
}

// Backward of y = LN(x) * g. dg += sum_rows dy * hat (fixed row order). dx (row stride sdx)
// is overwritten, or added to when `accumulate`. dy and dx may alias (same rows, same stride).
template <typename T>
void layernorm_backward(const T* dy, Index sdy, const T* hat, const T* rstd, const T* g, T* dg,
                        T* dx, Index sdx, Index n, Index c, bool accumulate) {
    for (Index r = 0; r < n; ++r)
        for (Index i = 0; i < c; ++i)
            dg[i] += dy[r * sdy + i] * hat[r * c + i];
#pragma omp parallel for schedule(static) if (n * c > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const T* dyr = dy + r * sdy;
        const T* hr = hat + r * c;
        double m1 = 0, m2 = 0; // mean(dhat), mean(dhat * hat), dhat = dy * g
        for (Index i = 0; i < c; ++i) {
            const double dh = static_cast<double>(dyr[i]) * g[i];
            m1 += dh;
            m2 += dh * hr[i];
        }
        m1 /= static_cast<double>(c);
        m2 /= static_cast<double>(c);
        T* dxr = dx + r * sdx;
        for (Index i = 0; i < c; ++i) {
            const T v =
                static_cast<T>(rstd[r] * (static_cast<double>(dyr[i]) * g[i] - m1 - hr[i] * m2));
            dxr[i] = accumulate ? dxr[i] + v : v;
        }
    }
}

// Rotates pairs (i, i + D/2) of every head of rows (b, t) by angle t * base^(-2i/D); `inverse`
// rotates back (the transpose, used by the backward pass since the rotation is orthogonal).
template <typename T>
void rope(T* x, Index n, Index t_len, Index heads, Index d, const T* cos_t, const T* sin_t,
          bool inverse) {
    const Index half = d / 2;
#pragma omp parallel for schedule(static) if (n * heads * d > kParallelWork)
    for (Index r = 0; r < n; ++r) {
        const Index t = r % t_len;
        T* xr = x + r * heads * d;
        for (Index h = 0; h < heads; ++h)
            for (Index i = 0; i < half; ++i) {
                const T c = cos_t[t * half + i];
                const T s = inverse ? -sin_t[t * half + i] : sin_t[t * half + i];
                const T a = xr[h * d + i], b = xr[h * d + i + half];
                xr[h * d + i] = a * c - b * s;
                xr[h * d + i + half] = a * s + b * c;
            }
    }
}

template <typename T>
T gelu(T x) {
    return static_cast<T>(0.5) * x * (static_cast<T>(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
}

template <typename T>
T gelu_grad(T x) {
    const T cdf =
        static_cast<T>(0.5) * (static_cast<T>(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
    const T pdf =
        std::exp(static_cast<T>(-0.5) * x * x) * static_cast<T>(0.5 * M_2_SQRTPI * M_SQRT1_2);
    return cdf + x * pdf;
}

template <typename T>
void zeroed(std::vector<T>& v, Index n) {
    v.assign(static_cast<std::size_t>(n), T(0));
}

} // namespace

template <typename T>
ReferenceTransformer<T>::ReferenceTransformer(const ModelConfig& config, const ParamLayout& layout)
    : config_(config), layout_(layout) {
    config_.validate();
    rope_tables(config_, rope_cos_, rope_sin_);
    acts_.resize(static_cast<std::size_t>(config_.layers));
}

template <typename T>
void ReferenceTransformer<T>::resize(std::int64_t batch) {
    if (batch == batch_) return;
    batch_ = batch;
    const Index n = batch * config_.context, c = config_.d_model, f = config_.mlp_width();
    const Index att = batch * config_.heads * config_.context * config_.context;
    targets_.assign(static_cast<std::size_t>(n), 0);
    inputs_.assign(static_cast<std::size_t>(n), 0);
    zeroed(x_, n * c);
    for (LayerActs& a : acts_) {
        for (auto* v :
             {&a.ln1_hat, &a.h1, &a.q_hat, &a.k_hat, &a.q, &a.k, &a.att, &a.ln2_hat, &a.h2})
            zeroed(*v, n * c);
        for (auto* v : {&a.ln1_rstd, &a.q_rstd, &a.k_rstd, &a.ln2_rstd})
            zeroed(*v, n);
        zeroed(a.qkv, n * 3 * c);
        zeroed(a.probs, att);
        zeroed(a.fc_pre, n * f);
        zeroed(a.fc_act, n * f);
    }
    zeroed(lnf_hat_, n * c);
    zeroed(lnf_rstd_, n);
    zeroed(hf_, n * c);
    zeroed(probs_out_, n * config_.vocab);
    zeroed(dx_, n * c);
    zeroed(dtmp_, n * c);
    zeroed(dqkv_, n * 3 * c);
    zeroed(datt_, n * c);
    zeroed(dfc_, n * f);
    zeroed(dprob_, att);
}

template <typename T>
double ReferenceTransformer<T>::forward(const T* params, std::span<const std::uint32_t> tokens,
                                        std::int64_t batch, bool /*keep_activations*/) {
    const Index t_len = config_.context, c = config_.d_model, f = config_.mlp_width();
    const Index heads = config_.heads, d = config_.head_dim(), v_len = config_.vocab;
    CBS_CHECK(batch >= 1, "batch ", batch);
    resize(batch);
    const Index n = batch * t_len;
    split_tokens(tokens, batch, config_, inputs_.data(), targets_.data());
    auto P = [&](int tensor) { return params + layout_[tensor].offset; };

    // x = wte[inputs]  (N, C)
    const T* wte = P(layout_.wte);
    for (Index r = 0; r < n; ++r)
        std::copy_n(wte + static_cast<Index>(inputs_[static_cast<std::size_t>(r)]) * c, c,
                    x_.data() + r * c);

    const T scale = static_cast<T>(config_.attention_scale());
    for (Index l = 0; l < config_.layers; ++l) {
        const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
        LayerActs& a = acts_[static_cast<std::size_t>(l)];
        layernorm_forward(x_.data(), c, P(bt.ln1), a.ln1_hat.data(), a.ln1_rstd.data(), a.h1.data(),
                          n, c);
        // qkv = h1 Wqkv^T  (N, 3C)
        Mat<T>(a.qkv.data(), n, 3 * c).noalias() =
            CMat<T>(a.h1.data(), n, c) * CMat<T>(P(bt.qkv), 3 * c, c).transpose();
        layernorm_forward(a.qkv.data(), 3 * c, P(bt.q_norm), a.q_hat.data(), a.q_rstd.data(),
                          a.q.data(), n, c);
        layernorm_forward(a.qkv.data() + c, 3 * c, P(bt.k_norm), a.k_hat.data(), a.k_rstd.data(),
                          a.k.data(), n, c);
        rope(a.q.data(), n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), false);
        rope(a.k.data(), n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), false);

        // Causal attention, one (sequence, head) per iteration.
#pragma omp parallel for schedule(static) if (n * t_len * c > kParallelWork)
        for (Index bh = 0; bh < batch * heads; ++bh) {
            const Index b = bh / heads, h = bh % heads;
            const Eigen::OuterStride<> sc(c), s3c(3 * c);
            CSMat<T> q(a.q.data() + b * t_len * c + h * d, t_len, d, sc);
            CSMat<T> k(a.k.data() + b * t_len * c + h * d, t_len, d, sc);
            CSMat<T> v(a.qkv.data() + b * t_len * 3 * c + 2 * c + h * d, t_len, d, s3c);
            Mat<T> p(a.probs.data() + bh * t_len * t_len, t_len, t_len);
            p.noalias() = (q * k.transpose()) * scale;
            for (Index i = 0; i < t_len; ++i) {
                T mx = p(i, 0);
                for (Index j = 1; j <= i; ++j)
                    mx = std::max(mx, p(i, j));
                double sum = 0;
                for (Index j = 0; j <= i; ++j) {
                    p(i, j) = std::exp(p(i, j) - mx);
                    sum += p(i, j);
                }
                const T inv = static_cast<T>(1.0 / sum);
                for (Index j = 0; j <= i; ++j)
                    p(i, j) *= inv;
                for (Index j = i + 1; j < t_len; ++j)
                    p(i, j) = T(0);
            }
            SMat<T>(a.att.data() + b * t_len * c + h * d, t_len, d, sc).noalias() = p * v;
        }
        // x += att Wo^T
        Mat<T>(x_.data(), n, c).noalias() +=
            CMat<T>(a.att.data(), n, c) * CMat<T>(P(bt.attn_out), c, c).transpose();

        layernorm_forward(x_.data(), c, P(bt.ln2), a.ln2_hat.data(), a.ln2_rstd.data(), a.h2.data(),
                          n, c);
        Mat<T>(a.fc_pre.data(), n, f).noalias() =
            CMat<T>(a.h2.data(), n, c) * CMat<T>(P(bt.fc_up), f, c).transpose();
        const Index nf = n * f;
#pragma omp parallel for schedule(static) if (nf > kParallelWork)
        for (Index i = 0; i < nf; ++i)
            a.fc_act[static_cast<std::size_t>(i)] = gelu(a.fc_pre[static_cast<std::size_t>(i)]);
        Mat<T>(x_.data(), n, c).noalias() +=
            CMat<T>(a.fc_act.data(), n, f) * CMat<T>(P(bt.fc_down), c, f).transpose();
    }

    layernorm_forward(x_.data(), c, P(layout_.ln_f), lnf_hat_.data(), lnf_rstd_.data(), hf_.data(),
                      n, c);
    // logits = mult * hf Wout^T  (N, V), turned into softmax probabilities in place.
    Mat<T>(probs_out_.data(), n, v_len).noalias() =
        (CMat<T>(hf_.data(), n, c) * CMat<T>(P(layout_.lm_head), v_len, c).transpose()) *
        static_cast<T>(config_.logit_multiplier());
    std::vector<double> row_loss(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static) if (n * v_len > kParallelWork / 8)
    for (Index r = 0; r < n; ++r) {
        T* z = probs_out_.data() + r * v_len;
        const T mx = *std::max_element(z, z + v_len);
        double sum = 0;
        for (Index i = 0; i < v_len; ++i)
            sum += std::exp(static_cast<double>(z[i] - mx));
        const double target_logit = z[targets_[static_cast<std::size_t>(r)]];
        row_loss[static_cast<std::size_t>(r)] = std::log(sum) + mx - target_logit;
        const double inv = 1.0 / sum;
        for (Index i = 0; i < v_len; ++i)
            z[i] = static_cast<T>(std::exp(static_cast<double>(z[i] - mx)) * inv);
    }
    double loss = 0;
    for (double l : row_loss)
        loss += l;
    return loss / static_cast<double>(n);
}

template <typename T>
void ReferenceTransformer<T>::backward(const T* params, T* grads, double scale_in) {
    const Index t_len = config_.context, c = config_.d_model, f = config_.mlp_width();
    const Index heads = config_.heads, d = config_.head_dim(), v_len = config_.vocab;
    const Index batch = batch_, n = batch * t_len;
    CBS_CHECK(batch >= 1, "backward() before forward()");
    auto P = [&](int tensor) { return params + layout_[tensor].offset; };
    auto G = [&](int tensor) { return grads + layout_[tensor].offset; };

    // d(mean loss)/d(logits) = (softmax - onehot) / N, times the caller's scale; in place.
    const T row_scale = static_cast<T>(scale_in / static_cast<double>(n));
#pragma omp parallel for schedule(static) if (n * v_len > kParallelWork / 8)
    for (Index r = 0; r < n; ++r) {
        T* z = probs_out_.data() + r * v_len;
        z[targets_[static_cast<std::size_t>(r)]] -= T(1);
        for (Index i = 0; i < v_len; ++i)
            z[i] *= row_scale;
    }
    const T mult = static_cast<T>(config_.logit_multiplier());
    CMat<T> dlogits(probs_out_.data(), n, v_len);
    // logits = mult * hf Wout^T: dWout += mult dlogits^T hf, dhf = mult dlogits Wout.
    Mat<T>(G(layout_.lm_head), v_len, c).noalias() +=
        (dlogits.transpose() * CMat<T>(hf_.data(), n, c)) * mult;
    Mat<T>(dtmp_.data(), n, c).noalias() = (dlogits * CMat<T>(P(layout_.lm_head), v_len, c)) * mult;
    layernorm_backward(dtmp_.data(), c, lnf_hat_.data(), lnf_rstd_.data(), P(layout_.ln_f),
                       G(layout_.ln_f), dx_.data(), c, n, c, false);

    const T scale = static_cast<T>(config_.attention_scale());
    for (Index l = config_.layers - 1; l >= 0; --l) {
        const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
        LayerActs& a = acts_[static_cast<std::size_t>(l)];
        CMat<T> dx(dx_.data(), n, c);

        // MLP: x += gelu(h2 W1^T) W2^T.
        Mat<T>(G(bt.fc_down), c, f).noalias() += dx.transpose() * CMat<T>(a.fc_act.data(), n, f);
        Mat<T>(dfc_.data(), n, f).noalias() = dx * CMat<T>(P(bt.fc_down), c, f);
        const Index nf = n * f;
#pragma omp parallel for schedule(static) if (nf > kParallelWork)
        for (Index i = 0; i < nf; ++i)
            dfc_[static_cast<std::size_t>(i)] *= gelu_grad(a.fc_pre[static_cast<std::size_t>(i)]);
        Mat<T>(G(bt.fc_up), f, c).noalias() +=
            CMat<T>(dfc_.data(), n, f).transpose() * CMat<T>(a.h2.data(), n, c);
        Mat<T>(dtmp_.data(), n, c).noalias() =
            CMat<T>(dfc_.data(), n, f) * CMat<T>(P(bt.fc_up), f, c);
        layernorm_backward(dtmp_.data(), c, a.ln2_hat.data(), a.ln2_rstd.data(), P(bt.ln2),
                           G(bt.ln2), dx_.data(), c, n, c, true);

        // Attention: x += att Wo^T.
        Mat<T>(G(bt.attn_out), c, c).noalias() += dx.transpose() * CMat<T>(a.att.data(), n, c);
        Mat<T>(datt_.data(), n, c).noalias() = dx * CMat<T>(P(bt.attn_out), c, c);
        // dqkv: q | k columns receive d(q, k after RoPE), v columns dV.
#pragma omp parallel for schedule(static) if (n * t_len * c > kParallelWork)
        for (Index bh = 0; bh < batch * heads; ++bh) {
            const Index b = bh / heads, h = bh % heads;
            const Eigen::OuterStride<> sc(c), s3c(3 * c);
            CSMat<T> q(a.q.data() + b * t_len * c + h * d, t_len, d, sc);
            CSMat<T> k(a.k.data() + b * t_len * c + h * d, t_len, d, sc);
            CSMat<T> v(a.qkv.data() + b * t_len * 3 * c + 2 * c + h * d, t_len, d, s3c);
            CSMat<T> da(datt_.data() + b * t_len * c + h * d, t_len, d, sc);
            CMat<T> p(a.probs.data() + bh * t_len * t_len, t_len, t_len);
            Mat<T> ds(dprob_.data() + bh * t_len * t_len, t_len, t_len);
            T* dqkv_b = dqkv_.data() + b * t_len * 3 * c;
            SMat<T>(dqkv_b + 2 * c + h * d, t_len, d, s3c).noalias() = p.transpose() * da;
            ds.noalias() = da * v.transpose(); // dP
            for (Index i = 0; i < t_len; ++i) {
                double dot = 0;
                for (Index j = 0; j <= i; ++j)
                    dot += static_cast<double>(p(i, j)) * ds(i, j);
                for (Index j = 0; j <= i; ++j)
                    ds(i, j) = p(i, j) * static_cast<T>(ds(i, j) - dot) * scale;
                for (Index j = i + 1; j < t_len; ++j)
                    ds(i, j) = T(0);
            }
            SMat<T>(dqkv_b + h * d, t_len, d, s3c).noalias() = ds * k;
            SMat<T>(dqkv_b + c + h * d, t_len, d, s3c).noalias() = ds.transpose() * q;
        }
        // Undo RoPE on the q and k gradients (rows of stride 3C: rotate a copy).
        for (int part = 0; part < 2; ++part) {
            SMat<T> dpart(dqkv_.data() + part * c, n, c, Eigen::OuterStride<>(3 * c));
            Mat<T> tmp(dtmp_.data(), n, c);
            tmp = dpart;
            rope(dtmp_.data(), n, t_len, heads, d, rope_cos_.data(), rope_sin_.data(), true);
            const bool is_q = part == 0;
            layernorm_backward(dtmp_.data(), c, is_q ? a.q_hat.data() : a.k_hat.data(),
                               is_q ? a.q_rstd.data() : a.k_rstd.data(),
                               P(is_q ? bt.q_norm : bt.k_norm), G(is_q ? bt.q_norm : bt.k_norm),
                               dqkv_.data() + part * c, 3 * c, n, c, false);
        }
        CMat<T> dqkv(dqkv_.data(), n, 3 * c);
        Mat<T>(G(bt.qkv), 3 * c, c).noalias() += dqkv.transpose() * CMat<T>(a.h1.data(), n, c);
        Mat<T>(dtmp_.data(), n, c).noalias() = dqkv * CMat<T>(P(bt.qkv), 3 * c, c);
        layernorm_backward(dtmp_.data(), c, a.ln1_hat.data(), a.ln1_rstd.data(), P(bt.ln1),
                           G(bt.ln1), dx_.data(), c, n, c, true);
    }
    // Token embedding: scatter-add in row order (deterministic).
    T* dwte = G(layout_.wte);
    for (Index r = 0; r < n; ++r) {
        T* row = dwte + static_cast<Index>(inputs_[static_cast<std::size_t>(r)]) * c;
        const T* src = dx_.data() + r * c;
        for (Index i = 0; i < c; ++i)
            row[i] += src[i];
    }
}

template class ReferenceTransformer<float>;
template class ReferenceTransformer<double>;

} // namespace cbs::lm
