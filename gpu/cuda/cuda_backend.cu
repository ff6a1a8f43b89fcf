// The CUDA backend (backend.hpp's LmBackend on one GPU): the model of reference/reference_model.hpp
// computed with the kernels of cuda_kernels.cuh and cuBLAS GEMMs, the optimizer of optimizer.hpp as
// one fused pass. State stays on the device; per step only tokens go in and scalars come out.
//
// Precision (Act = __nv_bfloat16 for "cuda", float for the fp32 validation build): matmul
// operands (weight copies refreshed after every update, LayerNorm outputs, attention q/k/v and
// probabilities, GELU outputs, output gradients) are Act; GEMMs accumulate in fp32 and write
// fp32; the residual stream, statistics, logits, master weights, gradients, Adam moments and EWA
// buffers are fp32. Deterministic: no atomics, fixed reduction shapes, one stream.
#include "gpu/cuda/cuda_backend.hpp"
#include "gpu/cuda/cuda_kernels.cuh"
#include "gpu/cuda/cuda_module.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

namespace cbs::lm {

namespace cuda {

namespace {

template <typename Act>
class CudaBackend final : public LmBackend {
public:
    CudaBackend(const ModelConfig& config, const std::vector<double>& ewa_decays)
        : config_(config), layout_(make_param_layout(config)), decays_(ewa_decays),
          blas_(stream_.get()) {
        const auto total = static_cast<std::size_t>(layout_.total);
        for (DeviceBuffer<float>* b : {&params_, &grads_, &m_, &v_}) {
            b->resize(total);
            b->zero(stream_.get());
        }
        ewa_.resize(decays_.size());
        for (DeviceBuffer<float>& e : ewa_) {
            e.resize(total);
            e.zero(stream_.get());
        }
        if constexpr (!std::is_same_v<Act, float>) weights_.resize(total);

        // RoPE tables exactly as reference/reference_model.cpp builds them (double, then rounded).
        const Index t_len = config_.context, half = config_.head_dim() / 2;
        std::vector<float> cos_t(static_cast<std::size_t>(t_len * half)), sin_t(cos_t.size());
        for (Index t = 0; t < t_len; ++t)
            for (Index i = 0; i < half; ++i) {
                const double freq =
                    std::pow(config_.rope_base, -2.0 * static_cast<double>(i) /
                                                    static_cast<double>(config_.head_dim()));
                cos_t[static_cast<std::size_t>(t * half + i)] =
                    static_cast<float>(std::cos(static_cast<double>(t) * freq));
                sin_t[static_cast<std::size_t>(t * half + i)] =
                    static_cast<float>(std::sin(static_cast<double>(t) * freq));
            }
        rope_cos_.resize(cos_t.size());
        rope_sin_.resize(sin_t.size());
        copy_to_device(rope_cos_.get(), cos_t.data(), cos_t.size(), stream_.get());
        copy_to_device(rope_sin_.get(), sin_t.data(), sin_t.size(), stream_.get());

        // Optimizer tables: the tensor of every kChunk-float chunk (offsets are kChunk-aligned).
        static_assert(kChunk == kAlignment);
        std::vector<std::int32_t> chunk(static_cast<std::size_t>(layout_.total / kChunk));
        for (std::size_t ti = 0; ti < layout_.tensors.size(); ++ti) {
            const Index lo = layout_.tensors[ti].offset / kChunk;
            const Index hi = ti + 1 < layout_.tensors.size()
                                 ? layout_.tensors[ti + 1].offset / kChunk
                                 : layout_.total / kChunk;
            std::fill(chunk.begin() + lo, chunk.begin() + hi, static_cast<std::int32_t>(ti));
        }
        chunk_tensor_.resize(chunk.size());
        copy_to_device(chunk_tensor_.get(), chunk.data(), chunk.size(), stream_.get());
        tensor_lr_.resize(layout_.tensors.size());
        tensor_decay_.resize(layout_.tensors.size());
        norm_partial_.resize(kNormBlocks);
        scalar_.resize(1);
        gain_scratch_.resize(static_cast<std::size_t>(kGainChunks * 3 * config_.d_model));
        acts_.resize(static_cast<std::size_t>(config_.layers));
        stream_.synchronize();
    }

    std::string name() const override { return std::is_same_v<Act, float> ? "cuda-fp32" : "cuda"; }
    const ModelConfig& config() const override { return config_; }
    const ParamLayout& layout() const override { return layout_; }
    const std::vector<double>& ewa_decays() const override { return decays_; }

    void set_state(StateRef which, std::span<const float> host) override {
        DeviceBuffer<float>& b = buffer(which);
        CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
        copy_to_device(b.get(), host.data(), host.size(), stream_.get());
        if (which.kind == StateKind::params) weights_stale_ = true;
    }
    void get_state(StateRef which, std::span<float> host) const override {
        const DeviceBuffer<float>& b = const_cast<CudaBackend*>(this)->buffer(which);
        CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
        copy_to_host(host.data(), b.get(), host.size(), stream_.get());
    }
    void zero_grad() override { grads_.zero(stream_.get()); }

    double forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                            double grad_scale) override {
        upload_tokens(tokens, batch, true);
        refresh_weights();
        const double loss = forward(params_.get(), weights(), true, grad_scale);
        backward();
        return loss;
    }

    double grad_norm_squared() override {
        squared_norm(grads_.get(), layout_.total, norm_partial_.get(), scalar_.get(),
                     stream_.get());
        double out = 0;
        copy_to_host(&out, scalar_.get(), 1, stream_.get());
        return out;
    }

    void optimizer_step(const OptimizerStep& s) override {
        CBS_CHECK(s.step >= 1, "step ", s.step);
        // Per-tensor and per-step scalars rounded exactly as optimizer.cpp rounds them.
        std::vector<float> lr(layout_.tensors.size()), decay(layout_.tensors.size());
        for (std::size_t i = 0; i < layout_.tensors.size(); ++i) {
            const ParamTensor& t = layout_.tensors[i];
            lr[i] = static_cast<float>(s.lr * t.lr_multiplier);
            decay[i] = t.weight_decay
                           ? static_cast<float>(1.0 - s.lr * t.lr_multiplier * s.weight_decay)
                           : 1.0f;
        }
        copy_to_device(tensor_lr_.get(), lr.data(), lr.size(), stream_.get());
        copy_to_device(tensor_decay_.get(), decay.data(), decay.size(), stream_.get());
        const double c1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
        const double c2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
        AdamScalars sc{};
        sc.beta1 = static_cast<float>(s.beta1);
        sc.one_minus_beta1 = 1.0f - sc.beta1;
        sc.beta2 = static_cast<float>(s.beta2);
        sc.one_minus_beta2 = 1.0f - sc.beta2;
        sc.eps = static_cast<float>(s.eps);
        sc.grad_scale = static_cast<float>(s.grad_scale);
        sc.inv_c1 = static_cast<float>(1.0 / c1);
        sc.inv_c2 = static_cast<float>(1.0 / c2);
        std::size_t k = 0;
        EwaSet first = ewa_set(k);
        adamw_ewa(params_.get(), grads_.get(), m_.get(), v_.get(), chunk_tensor_.get(),
                  tensor_lr_.get(), tensor_decay_.get(), sc, first, layout_.total, stream_.get());
        while (k < decays_.size())
            ewa_only(params_.get(), ewa_set(k), layout_.total, stream_.get());
        weights_stale_ = true;
    }

    double evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch, int ewa_index,
                    std::int64_t updates) override {
        upload_tokens(tokens, batch, false);
        if (ewa_index < 0) {
            refresh_weights();
            return forward(params_.get(), weights(), false, 0.0);
        }
        CBS_CHECK(ewa_index < static_cast<int>(ewa_.size()), "ewa index ", ewa_index);
        CBS_CHECK(updates >= 1, "updates ", updates);
        const auto total = static_cast<std::size_t>(layout_.total);
        eval_params_.resize(total);
        const double tau = decays_[static_cast<std::size_t>(ewa_index)];
        const float inv =
            static_cast<float>(1.0 / (1.0 - std::pow(tau, static_cast<double>(updates))));
        scale_copy(ewa_[static_cast<std::size_t>(ewa_index)].get(), inv, eval_params_.get(),
                   layout_.total, stream_.get());
        const Act* w = nullptr;
        if constexpr (std::is_same_v<Act, float>) {
            w = eval_params_.get();
        } else {
            eval_weights_.resize(total);
            convert(eval_params_.get(), eval_weights_.get(), layout_.total, stream_.get());
            w = eval_weights_.get();
        }
        return forward(eval_params_.get(), w, false, 0.0);
    }

private:
    struct LayerActs {
        DeviceBuffer<float> ln1_mean, ln1_rstd, q_mean, q_rstd, k_mean, k_rstd, ln2_mean,
            ln2_rstd;               // (N) each
        DeviceBuffer<Act> h1, h2;   // (N, C) LayerNorm outputs
        DeviceBuffer<float> qkv;    // (N, 3C) before the q/k norms
        DeviceBuffer<Act> q, k, v;  // (B, H, T, D) after norms and RoPE
        DeviceBuffer<Act> probs;    // (B, H, T, T) causal softmax
        DeviceBuffer<Act> att;      // (N, C) attention output, heads concatenated
        DeviceBuffer<float> fc_pre; // (N, F) before GELU
        DeviceBuffer<Act> fc_act;   // (N, F) after GELU
    };

    EwaSet ewa_set(std::size_t& k) {
        EwaSet e{};
        while (k < decays_.size() && e.count < kMaxEwaPerLaunch) {
            e.buf[e.count] = ewa_[k].get();
            e.a[e.count] = static_cast<float>(decays_[k]);
            e.b[e.count] = static_cast<float>(1.0 - decays_[k]);
            ++e.count;
            ++k;
        }
        return e;
    }

    DeviceBuffer<float>& buffer(StateRef which) {
        return select_state(which, params_, grads_, m_, v_, ewa_);
    }

    const Act* weights() const {
        if constexpr (std::is_same_v<Act, float>)
            return params_.get();
        else
            return weights_.get();
    }
    void refresh_weights() {
        if constexpr (!std::is_same_v<Act, float>) {
            if (weights_stale_)
                convert(params_.get(), weights_.get(), layout_.total, stream_.get());
        }
        weights_stale_ = false;
    }

    // Grows the activation buffers to `batch` sequences (kept at the largest batch seen, so
    // alternating training and evaluation batches never reallocates).
    void reserve(std::int64_t batch) {
        batch_ = batch;
        if (batch <= capacity_) return;
        capacity_ = batch;
        const Index t = config_.context, c = config_.d_model, f = config_.mlp_width();
        const auto n = static_cast<std::size_t>(batch * t);
        const auto uc = static_cast<std::size_t>(c), uf = static_cast<std::size_t>(f);
        const auto att = static_cast<std::size_t>(batch * config_.heads * t * t);
        const auto v = static_cast<std::size_t>(config_.vocab);
        for (LayerActs& a : acts_) {
            for (auto* b : {&a.ln1_mean, &a.ln1_rstd, &a.q_mean, &a.q_rstd, &a.k_mean, &a.k_rstd,
                            &a.ln2_mean, &a.ln2_rstd})
                b->resize(n);
            for (auto* b : {&a.h1, &a.h2, &a.q, &a.k, &a.v, &a.att})
                b->resize(n * uc);
            a.qkv.resize(n * 3 * uc);
            a.probs.resize(att);
            a.fc_pre.resize(n * uf);
            a.fc_act.resize(n * uf);
        }
        residual_.resize(static_cast<std::size_t>(2 * config_.layers + 1));
        for (auto& r : residual_)
            r.resize(n * uc);
        lnf_mean_.resize(n);
        lnf_rstd_.resize(n);
        hf_.resize(n * uc);
        logits_.resize(n * v);
        dlogits_.resize(n * v);
        row_loss_.resize(n);
        scores_.resize(att);
        dscores_.resize(att);
        head_f32_.resize(n * uc);
        head_act_.resize(n * uc);
        dx_.resize(n * uc);
        dx_act_.resize(n * uc);
        dtmp_.resize(n * uc);
        dy_rows_.resize(n * uc);
        dfc_.resize(n * uf);
        dfc_act_.resize(n * uf);
        dqkv_act_.resize(n * 3 * uc);
        inputs_.resize(n);
        targets_.resize(n);
        embed_rows_.resize(n);
        embed_seg_token_.resize(n);
        embed_seg_start_.resize(n + 1);
    }

    void upload_tokens(std::span<const std::uint32_t> tokens, std::int64_t batch,
                       bool for_backward) {
        const Index t_len = config_.context, v_len = config_.vocab;
        CBS_CHECK(batch >= 1, "batch ", batch);
        CBS_CHECK(static_cast<Index>(tokens.size()) == batch * (t_len + 1), "tokens ",
                  tokens.size(), " != batch * (context + 1) = ", batch * (t_len + 1));
        reserve(batch);
        const Index n = batch * t_len;
        std::vector<std::int32_t> in(static_cast<std::size_t>(n)), out(in.size());
        for (Index b = 0; b < batch; ++b)
            for (Index t = 0; t < t_len; ++t) {
                const std::uint32_t x = tokens[static_cast<std::size_t>(b * (t_len + 1) + t)];
                const std::uint32_t y = tokens[static_cast<std::size_t>(b * (t_len + 1) + t + 1)];
                CBS_CHECK(x < static_cast<std::uint32_t>(v_len) &&
                              y < static_cast<std::uint32_t>(v_len),
                          "token out of range: ", std::max(x, y), " >= vocab ", v_len);
                in[static_cast<std::size_t>(b * t_len + t)] = static_cast<std::int32_t>(x);
                out[static_cast<std::size_t>(b * t_len + t)] = static_cast<std::int32_t>(y);
            }
        copy_to_device(inputs_.get(), in.data(), in.size(), stream_.get());
        copy_to_device(targets_.get(), out.data(), out.size(), stream_.get());
        if (!for_backward) return;
        // Rows grouped by input token, in row order inside a group: the embedding gradient's
        // scatter-add then runs in the CPU reference's order, without atomics.
        std::vector<std::int32_t> rows(in.size());
        std::iota(rows.begin(), rows.end(), 0);
        std::stable_sort(rows.begin(), rows.end(), [&](std::int32_t a, std::int32_t b) {
            return in[static_cast<std::size_t>(a)] < in[static_cast<std::size_t>(b)];
        });
        std::vector<std::int32_t> seg_token, seg_start;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const std::int32_t tok = in[static_cast<std::size_t>(rows[i])];
            if (seg_token.empty() || seg_token.back() != tok) {
                seg_token.push_back(tok);
                seg_start.push_back(static_cast<std::int32_t>(i));
            }
        }
        seg_start.push_back(static_cast<std::int32_t>(rows.size()));
        segments_ = static_cast<Index>(seg_token.size());
        copy_to_device(embed_rows_.get(), rows.data(), rows.size(), stream_.get());
        copy_to_device(embed_seg_token_.get(), seg_token.data(), seg_token.size(), stream_.get());
        copy_to_device(embed_seg_start_.get(), seg_start.data(), seg_start.size(), stream_.get());
    }

    const float* P(const float* params, int tensor) const {
        return params + layout_[tensor].offset;
    }
    const Act* W(const Act* w, int tensor) const { return w + layout_[tensor].offset; }
    float* G(int tensor) { return grads_.get() + layout_[tensor].offset; }

    // Forward pass on the uploaded batch with master params (gains, embedding) and their Act
    // copy (matmuls). Keeps every activation the backward pass needs; with `with_grad` also
    // writes dlogits = (softmax - onehot) * grad_scale / N. Returns the mean loss.
    double forward(const float* params, const Act* w, bool with_grad, double grad_scale) {
        cudaStream_t s = stream_.get();
        cublasHandle_t h = blas_.get();
        const Index batch = batch_, t = config_.context, c = config_.d_model;
        const Index f = config_.mlp_width(), heads = config_.heads, d = config_.head_dim();
        const Index v_len = config_.vocab, n = batch * t, bh = batch * heads;
        constexpr cudaDataType_t A = data_type<Act>(), F32 = CUDA_R_32F;
        const float scale = static_cast<float>(config_.attention_scale());

        embed_forward(inputs_.get(), P(params, layout_.wte), residual_[0].get(), n, c, s);
        for (Index l = 0; l < config_.layers; ++l) {
            const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
            LayerActs& a = acts_[static_cast<std::size_t>(l)];
            float* x = residual_[static_cast<std::size_t>(2 * l)].get();
            float* xm = residual_[static_cast<std::size_t>(2 * l + 1)].get();
            float* xo = residual_[static_cast<std::size_t>(2 * l + 2)].get();

            layernorm_forward(x, c, P(params, bt.ln1), a.h1.get(), a.ln1_mean.get(),
                              a.ln1_rstd.get(), n, c, s);
            gemm(h, false, true, n, 3 * c, c, 1.0f, a.h1.get(), A, c, W(w, bt.qkv), A, c, 0.0f,
                 a.qkv.get(), F32, 3 * c);
            qkv_norm_rope(a.qkv.get(), P(params, bt.q_norm), P(params, bt.k_norm), rope_cos_.get(),
                          rope_sin_.get(), a.q.get(), a.k.get(), a.v.get(), a.q_mean.get(),
                          a.q_rstd.get(), a.k_mean.get(), a.k_rstd.get(), batch, t, heads, d, s);
            // scores = scale q k^T per (sequence, head); the causal upper half is computed and
            // discarded (a flash-attention kernel would skip it).
            gemm(h, false, true, t, t, d, scale, a.q.get(), A, d, a.k.get(), A, d, 0.0f,
                 scores_.get(), F32, t, bh, t * d, t * d, t * t);
            attention_softmax_forward(scores_.get(), a.probs.get(), bh * t, t, s);
            gemm(h, false, false, t, d, t, 1.0f, a.probs.get(), A, t, a.v.get(), A, d, 0.0f,
                 head_f32_.get(), F32, d, bh, t * t, t * d, t * d);
            bhtd_to_rows(head_f32_.get(), a.att.get(), c, 0, batch, t, heads, d, s);
            CBS_CUDA(cudaMemcpyAsync(xm, x, static_cast<std::size_t>(n * c) * sizeof(float),
                                     cudaMemcpyDeviceToDevice, s));
            gemm(h, false, true, n, c, c, 1.0f, a.att.get(), A, c, W(w, bt.attn_out), A, c, 1.0f,
                 xm, F32, c);

            layernorm_forward(xm, c, P(params, bt.ln2), a.h2.get(), a.ln2_mean.get(),
                              a.ln2_rstd.get(), n, c, s);
            gemm(h, false, true, n, f, c, 1.0f, a.h2.get(), A, c, W(w, bt.fc_up), A, c, 0.0f,
                 a.fc_pre.get(), F32, f);
            gelu_forward(a.fc_pre.get(), a.fc_act.get(), n * f, s);
            CBS_CUDA(cudaMemcpyAsync(xo, xm, static_cast<std::size_t>(n * c) * sizeof(float),
                                     cudaMemcpyDeviceToDevice, s));
            gemm(h, false, true, n, c, f, 1.0f, a.fc_act.get(), A, f, W(w, bt.fc_down), A, f, 1.0f,
                 xo, F32, c);
        }
        const float* xf = residual_.back().get();
        layernorm_forward(xf, c, P(params, layout_.ln_f), hf_.get(), lnf_mean_.get(),
                          lnf_rstd_.get(), n, c, s);
        gemm(h, false, true, n, v_len, c, static_cast<float>(config_.logit_multiplier()), hf_.get(),
             A, c, W(w, layout_.lm_head), A, c, 0.0f, logits_.get(), F32, v_len);
        cross_entropy(logits_.get(), targets_.get(), row_loss_.get(),
                      with_grad ? dlogits_.get() : static_cast<Act*>(nullptr), n, v_len,
                      static_cast<float>(grad_scale / static_cast<double>(n)), s);
        sum_double(row_loss_.get(), n, scalar_.get(), s);
        double loss = 0;
        copy_to_host(&loss, scalar_.get(), 1, s);
        return loss / static_cast<double>(n);
    }

    // Backward of the last forward(with_grad): grads += grad_scale d(mean loss)/d(params).
    void backward() {
        cudaStream_t s = stream_.get();
        cublasHandle_t h = blas_.get();
        const float* params = params_.get();
        const Act* w = weights();
        const Index batch = batch_, t = config_.context, c = config_.d_model;
        const Index f = config_.mlp_width(), heads = config_.heads, d = config_.head_dim();
        const Index v_len = config_.vocab, n = batch * t, bh = batch * heads;
        constexpr cudaDataType_t A = data_type<Act>(), F32 = CUDA_R_32F;
        const float scale = static_cast<float>(config_.attention_scale());
        const float mult = static_cast<float>(config_.logit_multiplier());
        float* gs = gain_scratch_.get();

        // logits = mult hf Wout^T: dWout += mult dlogits^T hf; dhf = mult dlogits Wout.
        gemm(h, true, false, v_len, c, n, mult, dlogits_.get(), A, v_len, hf_.get(), A, c, 1.0f,
             G(layout_.lm_head), F32, c);
        gemm(h, false, false, n, c, v_len, mult, dlogits_.get(), A, v_len, W(w, layout_.lm_head), A,
             c, 0.0f, dtmp_.get(), F32, c);
        const float* xf = residual_.back().get();
        layernorm_backward_dx(dtmp_.get(), c, xf, c, lnf_mean_.get(), lnf_rstd_.get(),
                              P(params, layout_.ln_f), dx_.get(), c, false, n, c, s);
        layernorm_backward_gain(dtmp_.get(), c, xf, c, lnf_mean_.get(), lnf_rstd_.get(),
                                G(layout_.ln_f), gs, n, c, s);

        for (Index l = config_.layers - 1; l >= 0; --l) {
            const BlockTensors& bt = layout_.blocks[static_cast<std::size_t>(l)];
            LayerActs& a = acts_[static_cast<std::size_t>(l)];
            const float* x = residual_[static_cast<std::size_t>(2 * l)].get();
            const float* xm = residual_[static_cast<std::size_t>(2 * l + 1)].get();

            // MLP: x += gelu(h2 Wup^T) Wdown^T.
            convert(dx_.get(), dx_act_.get(), n * c, s);
            gemm(h, true, false, c, f, n, 1.0f, dx_act_.get(), A, c, a.fc_act.get(), A, f, 1.0f,
                 G(bt.fc_down), F32, f);
            gemm(h, false, false, n, f, c, 1.0f, dx_act_.get(), A, c, W(w, bt.fc_down), A, f, 0.0f,
                 dfc_.get(), F32, f);
            gelu_backward(dfc_.get(), a.fc_pre.get(), dfc_act_.get(), n * f, s);
            gemm(h, true, false, f, c, n, 1.0f, dfc_act_.get(), A, f, a.h2.get(), A, c, 1.0f,
                 G(bt.fc_up), F32, c);
            gemm(h, false, false, n, c, f, 1.0f, dfc_act_.get(), A, f, W(w, bt.fc_up), A, c, 0.0f,
                 dtmp_.get(), F32, c);
            layernorm_backward_dx(dtmp_.get(), c, xm, c, a.ln2_mean.get(), a.ln2_rstd.get(),
                                  P(params, bt.ln2), dx_.get(), c, true, n, c, s);
            layernorm_backward_gain(dtmp_.get(), c, xm, c, a.ln2_mean.get(), a.ln2_rstd.get(),
                                    G(bt.ln2), gs, n, c, s);

            // Attention: x += att Wo^T.
            convert(dx_.get(), dx_act_.get(), n * c, s);
            gemm(h, true, false, c, c, n, 1.0f, dx_act_.get(), A, c, a.att.get(), A, c, 1.0f,
                 G(bt.attn_out), F32, c);
            gemm(h, false, false, n, c, c, 1.0f, dx_act_.get(), A, c, W(w, bt.attn_out), A, c, 0.0f,
                 dtmp_.get(), F32, c);
            rows_to_bhtd(dtmp_.get(), c, head_act_.get(), batch, t, heads, d, s); // dO
            // dV = P^T dO, into the v columns of dqkv.
            gemm(h, true, false, t, d, t, 1.0f, a.probs.get(), A, t, head_act_.get(), A, d, 0.0f,
                 head_f32_.get(), F32, d, bh, t * t, t * d, t * d);
            bhtd_to_rows(head_f32_.get(), dqkv_act_.get(), 3 * c, 2 * c, batch, t, heads, d, s);
            // dP = dO V^T (into the scores scratch), then dS.
            gemm(h, false, true, t, t, d, 1.0f, head_act_.get(), A, d, a.v.get(), A, d, 0.0f,
                 scores_.get(), F32, t, bh, t * d, t * d, t * t);
            attention_softmax_backward(a.probs.get(), scores_.get(), dscores_.get(), bh * t, t,
                                       scale, s);
            // dQ = dS K and dK = dS^T Q; undo RoPE, then the q/k LayerNorm backward into dqkv.
            for (int part = 0; part < 2; ++part) {
                const bool is_q = part == 0;
                gemm(h, !is_q, false, t, d, t, 1.0f, dscores_.get(), A, t,
                     is_q ? a.k.get() : a.q.get(), A, d, 0.0f, head_f32_.get(), F32, d, bh, t * t,
                     t * d, t * d);
                rope_backward(head_f32_.get(), rope_cos_.get(), rope_sin_.get(), dy_rows_.get(),
                              batch, t, heads, d, s);
                const float* xin = a.qkv.get() + part * c;
                const float* mean = is_q ? a.q_mean.get() : a.k_mean.get();
                const float* rstd = is_q ? a.q_rstd.get() : a.k_rstd.get();
                const int gain = is_q ? bt.q_norm : bt.k_norm;
                layernorm_backward_dx(dy_rows_.get(), c, xin, 3 * c, mean, rstd, P(params, gain),
                                      dqkv_act_.get() + part * c, 3 * c, false, n, c, s);
                layernorm_backward_gain(dy_rows_.get(), c, xin, 3 * c, mean, rstd, G(gain), gs, n,
                                        c, s);
            }
            gemm(h, true, false, 3 * c, c, n, 1.0f, dqkv_act_.get(), A, 3 * c, a.h1.get(), A, c,
                 1.0f, G(bt.qkv), F32, c);
            gemm(h, false, false, n, c, 3 * c, 1.0f, dqkv_act_.get(), A, 3 * c, W(w, bt.qkv), A, c,
                 0.0f, dtmp_.get(), F32, c);
            layernorm_backward_dx(dtmp_.get(), c, x, c, a.ln1_mean.get(), a.ln1_rstd.get(),
                                  P(params, bt.ln1), dx_.get(), c, true, n, c, s);
            layernorm_backward_gain(dtmp_.get(), c, x, c, a.ln1_mean.get(), a.ln1_rstd.get(),
                                    G(bt.ln1), gs, n, c, s);
        }
        embed_backward(embed_rows_.get(), embed_seg_token_.get(), embed_seg_start_.get(), segments_,
                       dx_.get(), G(layout_.wte), c, s);
    }

    ModelConfig config_;
    ParamLayout layout_;
    std::vector<double> decays_;
    // Declared first, destroyed last: every buffer below is freed before the handle and stream.
    Stream stream_;
    CublasHandle blas_;

    DeviceBuffer<float> params_, grads_, m_, v_; // (layout.total) each, fp32
    std::vector<DeviceBuffer<float>> ewa_;       // one (layout.total) per decay
    DeviceBuffer<Act> weights_;                  // Act copy of params_ (bf16 only)
    bool weights_stale_ = true;
    DeviceBuffer<float> eval_params_; // bias-corrected EWA weights for evaluate()
    DeviceBuffer<Act> eval_weights_;
    DeviceBuffer<float> rope_cos_, rope_sin_; // (T, D/2)
    DeviceBuffer<std::int32_t> chunk_tensor_; // (layout.total / kChunk)
    DeviceBuffer<float> tensor_lr_, tensor_decay_;
    DeviceBuffer<double> norm_partial_, scalar_;
    DeviceBuffer<float> gain_scratch_; // (kGainChunks, up to 3C)

    std::int64_t batch_ = 0, capacity_ = 0;
    std::vector<LayerActs> acts_;
    std::vector<DeviceBuffer<float>> residual_; // 2L + 1 of (N, C): layer inputs and midpoints
    DeviceBuffer<float> lnf_mean_, lnf_rstd_;
    DeviceBuffer<Act> hf_;                        // (N, C)
    DeviceBuffer<float> logits_;                  // (N, V)
    DeviceBuffer<Act> dlogits_;                   // (N, V)
    DeviceBuffer<float> row_loss_;                // (N)
    DeviceBuffer<float> scores_;                  // (B, H, T, T) scores, then dP in backward
    DeviceBuffer<Act> dscores_;                   // (B, H, T, T)
    DeviceBuffer<float> head_f32_;                // (B, H, T, D) GEMM output staging
    DeviceBuffer<Act> head_act_;                  // (B, H, T, D) dO
    DeviceBuffer<float> dx_, dtmp_, dy_rows_;     // (N, C)
    DeviceBuffer<Act> dx_act_;                    // (N, C)
    DeviceBuffer<float> dfc_;                     // (N, F)
    DeviceBuffer<Act> dfc_act_;                   // (N, F)
    DeviceBuffer<Act> dqkv_act_;                  // (N, 3C)
    DeviceBuffer<std::int32_t> inputs_, targets_; // (N)
    DeviceBuffer<std::int32_t> embed_rows_, embed_seg_token_, embed_seg_start_;
    Index segments_ = 0;
};

} // namespace

} // namespace cuda

namespace {

// The module's side of cuda_module.hpp: cuda_loader.cpp calls these through the table.

int module_device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError(); // no driver or no device: not an error here
        return 0;
    }
    return count;
}

std::string module_device_description() {
    if (module_device_count() == 0) return {};
    cudaDeviceProp p{};
    CBS_CUDA(cudaGetDeviceProperties(&p, 0));
    return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) +
           ", " + std::to_string(p.multiProcessorCount) + " SMs, " +
           std::to_string(static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0))
               .substr(0, 5) +
           " GiB";
}

std::unique_ptr<LmBackend> module_make_backend(const ModelConfig& config,
                                               const std::vector<double>& ewa_decays,
                                               CudaPrecision precision) {
    if (module_device_count() == 0)
        throw UserError("`backend` = cuda: no CUDA device is present (cudaGetDeviceCount)");
    CBS_CUDA(cudaSetDevice(0));
    if (precision == CudaPrecision::fp32)
        return std::make_unique<cuda::CudaBackend<float>>(config, ewa_decays);
    return std::make_unique<cuda::CudaBackend<__nv_bfloat16>>(config, ewa_decays);
}

} // namespace

} // namespace cbs::lm

/// The module's one exported symbol (cuda_module.hpp's kCudaModuleSymbol).
extern "C" __attribute__((visibility("default"))) const cbs::lm::CudaModuleApi*
cbs_cuda_module_v1() {
    static const cbs::lm::CudaModuleApi api{
        cbs::lm::kCudaModuleAbi, cbs::lm::cuda_module_layout(), cbs::lm::module_device_count,
        cbs::lm::module_device_description, cbs::lm::module_make_backend};
    return &api;
}
