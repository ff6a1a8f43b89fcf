// Host-only entry points that run one CUDA kernel (or the GEMM wrapper) on host arrays: upload,
// launch, download. For tests/gpu only, which compare each against a plain reference; production
// code goes through the backend. Defined only in builds with CUDA (CBS_HAVE_CUDA); every function
// needs a device (callers skip without one).
#pragma once

#include <cstdint>
#include <vector>

namespace cbs::lm::cuda_checks {

using Vec = std::vector<float>;

struct LayerNormForward {
    Vec y, mean, rstd; // (n, c), (n), (n)
};
/// y = LN(x) g, x (n, c); y rounded to bf16 when `bf16`.
LayerNormForward layernorm_forward(const Vec& x, const Vec& g, std::int64_t n, std::int64_t c,
                                   bool bf16);

struct LayerNormBackward {
    Vec dx, dg; // (n, c) (fp32 output), (c): dg = dg_in + sum_rows dy x_hat
};
LayerNormBackward layernorm_backward(const Vec& dy, const Vec& x, const Vec& mean, const Vec& rstd,
                                     const Vec& g, const Vec& dg_in, std::int64_t n,
                                     std::int64_t c);

/// Causal softmax of rows (rows, t) of scores; query position = row % t.
Vec attention_softmax_forward(const Vec& scores, std::int64_t rows, std::int64_t t, bool bf16);
/// scale P (dP - rowsum(P dP)), fp32.
Vec attention_softmax_backward(const Vec& probs, const Vec& dprobs, std::int64_t rows,
                               std::int64_t t, float scale);

Vec gelu_forward(const Vec& pre, bool bf16);
Vec gelu_backward(const Vec& dact, const Vec& pre); // fp32

struct CrossEntropy {
    Vec row_loss; // (n)
    Vec dlogits;  // (n, v) fp32
    double sum = 0;
};
CrossEntropy cross_entropy(const Vec& logits, const std::vector<std::int32_t>& targets,
                           std::int64_t n, std::int64_t v, float row_scale);

/// Row-major C (m, n) = alpha op(A) op(B) + beta C through the backend's GEMM wrapper, operands
/// rounded to bf16 when `bf16` (fp32 otherwise: true fp32 GEMM).
Vec gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
         const Vec& a, const Vec& b, float beta, const Vec& c, bool bf16);

// RoPE, the q/k norms, the embedding scatter-add, the optimizer and the gradient norm are
// checked through the backend itself (tests/gpu/test_cuda_backend.cpp), where the fp32 build
// isolates each one's gradient tensor.

} // namespace cbs::lm::cuda_checks
