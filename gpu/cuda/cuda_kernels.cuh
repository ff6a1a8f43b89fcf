// Private to gpu/*.cu: the CUDA backend's kernels (launchers on a stream) and the row-major GEMM
// wrapper over cuBLAS. Every launcher checks its launch (CBS_CUDA_LAUNCHED).
//
// `Act` is the type of matmul operands and stored activations: __nv_bfloat16 in the production
// backend, float in the validation backend (every GEMM then runs in true fp32, no TF32, so a
// comparison with the CPU reference can use fp32 tolerances and catches indexing bugs that bf16
// noise would hide). Residual stream, LayerNorm statistics, GEMM outputs, logits, gradients,
// master weights, Adam moments and EWA buffers are fp32 in both.
//
// Notation as in reference/reference_model.hpp: B sequences of T tokens, N = B*T rows, C = d_model,
// H heads of D = C/H, F = 4C, V. "rows" layout is (N, ld) row-major; "bhtd" layout is (B, H, T, D).
#pragma once

#include "gpu/cuda/cuda_common.cuh"

#include <cstdint>

namespace cbs::lm::cuda {

using Index = std::int64_t;

template <typename T>
constexpr cudaDataType_t data_type();
template <>
constexpr cudaDataType_t data_type<float>() {
    return CUDA_R_32F;
}
template <>
constexpr cudaDataType_t data_type<__nv_bfloat16>() {
    return CUDA_R_16BF;
}

/// Row-major C (m, n) = alpha op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n), lda/ldb/ldc the
/// row strides as stored; fp32 accumulation (CUBLAS_COMPUTE_32F: no TF32 for fp32 operands).
/// `batch` > 1: strided batched, element strides sa, sb, sc between consecutive matrices.
void gemm(cublasHandle_t h, bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
          const void* a, cudaDataType_t at, Index lda, const void* b, cudaDataType_t bt, Index ldb,
          float beta, void* c, cudaDataType_t ct, Index ldc, Index batch = 1, Index sa = 0,
          Index sb = 0, Index sc = 0);

inline constexpr float kLayerNormEps = 1e-5f; // as reference/reference_model.cpp
inline constexpr int kGainChunks = 64;        // row chunks of the deterministic gain reduction
inline constexpr int kNormBlocks = 512;       // fixed grid of the deterministic norm reduction
inline constexpr int kMaxEwaPerLaunch = 4;
inline constexpr Index kChunk = 64; // = kAlignment: every 64-float chunk lies in one tensor

/// y = convert(x), elementwise.
template <typename Act>
void convert(const float* x, Act* y, Index n, cudaStream_t s);
/// y = x * factor (fp32), elementwise (EWA bias correction).
void scale_copy(const float* x, float factor, float* y, Index n, cudaStream_t s);

/// x[r, :] = wte[tokens[r], :] (fp32 gather).
void embed_forward(const std::int32_t* tokens, const float* wte, float* x, Index n, Index c,
                   cudaStream_t s);
/// dwte[token, :] += sum of dx[r, :] over the rows r of that token, in row order (deterministic,
/// the CPU reference's order). rows: row indices sorted by (token, row); segments: per distinct
/// token, its id and first position in rows (seg_start has segments + 1 entries).
void embed_backward(const std::int32_t* rows, const std::int32_t* seg_token,
                    const std::int32_t* seg_start, Index segments, const float* dx, float* dwte,
                    Index c, cudaStream_t s);

/// y = LN(x) * g over rows of c (x row stride sx, y contiguous); keeps mean and 1/sigma.
template <typename Act>
void layernorm_forward(const float* x, Index sx, const float* g, Act* y, float* mean, float* rstd,
                       Index n, Index c, cudaStream_t s);
/// dx = backward of LN (dy row stride sdy, x row stride sx, dx row stride sdx); overwrites dx, or
/// adds to it when `accumulate` (OutT = float only).
template <typename OutT>
void layernorm_backward_dx(const float* dy, Index sdy, const float* x, Index sx, const float* mean,
                           const float* rstd, const float* g, OutT* dx, Index sdx, bool accumulate,
                           Index n, Index c, cudaStream_t s);
/// dg += sum_rows dy * x_hat, two fixed-order passes through scratch (kGainChunks * c floats).
void layernorm_backward_gain(const float* dy, Index sdy, const float* x, Index sx,
                             const float* mean, const float* rstd, float* dg, float* scratch,
                             Index n, Index c, cudaStream_t s);

/// From qkv (N, 3C) fp32: q = RoPE(LN(q) g_q), k = RoPE(LN(k) g_k) and v, each to bhtd; keeps
/// the q and k statistics. cos/sin: (T, D/2).
template <typename Act>
void qkv_norm_rope(const float* qkv, const float* gq, const float* gk, const float* cos_t,
                   const float* sin_t, Act* q, Act* k, Act* v, float* q_mean, float* q_rstd,
                   float* k_mean, float* k_rstd, Index batch, Index t_len, Index heads, Index d,
                   cudaStream_t s);
/// dy_rows (N, C) fp32 = inverse RoPE of d_bhtd (B, H, T, D) fp32.
void rope_backward(const float* d_bhtd, const float* cos_t, const float* sin_t, float* dy_rows,
                   Index batch, Index t_len, Index heads, Index d, cudaStream_t s);

/// dst[(b T + t) ld + col0 + h D + j] = src[((b H + h) T + t) D + j].
template <typename Act>
void bhtd_to_rows(const float* src, Act* dst, Index ld, Index col0, Index batch, Index t_len,
                  Index heads, Index d, cudaStream_t s);
/// dst (B, H, T, D) = src rows (row stride ld).
template <typename Act>
void rows_to_bhtd(const float* src, Index ld, Act* dst, Index batch, Index t_len, Index heads,
                  Index d, cudaStream_t s);

/// Causal softmax of every row of scores (rows = B H T, row length T, query position = row % T);
/// probs zero above the diagonal.
template <typename Act>
void attention_softmax_forward(const float* scores, Act* probs, Index rows, Index t_len,
                               cudaStream_t s);
/// dscores = scale * P (dP - rowsum(P dP)), zero above the diagonal.
template <typename Act>
void attention_softmax_backward(const Act* probs, const float* dprobs, Act* dscores, Index rows,
                                Index t_len, float scale, cudaStream_t s);

/// act = GELU(pre) (erf form, as the reference).
template <typename Act>
void gelu_forward(const float* pre, Act* act, Index n, cudaStream_t s);
/// dpre = dact * GELU'(pre).
template <typename Act>
void gelu_backward(const float* dact, const float* pre, Act* dpre, Index n, cudaStream_t s);

/// Per row of logits (N, V): row_loss = logsumexp - logit[target]; when dlogits is not null,
/// dlogits = (softmax - onehot(target)) * row_scale.
template <typename Act>
void cross_entropy(const float* logits, const std::int32_t* targets, float* row_loss, Act* dlogits,
                   Index n, Index v, float row_scale, cudaStream_t s);
/// out[0] = sum of x in double, fixed order (one block).
void sum_double(const float* x, Index n, double* out, cudaStream_t s);

/// Per-step AdamW scalars (host-computed exactly as optimizer.cpp does).
struct AdamScalars {
    float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, grad_scale, inv_c1, inv_c2;
};
/// Up to kMaxEwaPerLaunch EWA buffers updated in the same pass: xi = a xi + b theta.
struct EwaSet {
    float* buf[kMaxEwaPerLaunch];
    float a[kMaxEwaPerLaunch];
    float b[kMaxEwaPerLaunch];
    int count;
};
/// The AdamW update of backend.hpp on the flat buffers (arithmetic rounded like optimizer.cpp:
/// no FMA contraction), then the EWA buffers of `ewa`. chunk_tensor: tensor index of every
/// kChunk-element chunk; tensor_lr / tensor_decay: per tensor lr mu_i and 1 - lr mu_i wd.
void adamw_ewa(float* p, const float* g, float* m, float* v, const std::int32_t* chunk_tensor,
               const float* tensor_lr, const float* tensor_decay, AdamScalars sc, EwaSet ewa,
               Index total, cudaStream_t s);
/// EWA update alone (more buffers than one launch takes).
void ewa_only(const float* p, EwaSet ewa, Index total, cudaStream_t s);
/// out[0] = sum g^2 in double: kNormBlocks fixed partial sums (partial, kNormBlocks doubles),
/// combined in order; bitwise reproducible on any device.
void squared_norm(const float* g, Index n, double* partial, double* out, cudaStream_t s);

} // namespace cbs::lm::cuda
