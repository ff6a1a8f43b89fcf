// The reference transformer on the CPU: forward pass, mean cross-entropy, and a hand-written
// backward pass, templated on the scalar so the same code runs in fp32 (the reference backend)
// and in fp64 (the finite-difference gradient check). Eigen GEMMs (OpenMP-parallel inside Eigen),
// OpenMP over (sequence, head) for attention; every reduction runs in a fixed order, so results
// do not depend on the thread count.
//
// Notation: B sequences of T tokens, N = B*T rows, C = d_model, H heads of D = C/H, F = 4C, V.
#pragma once

#include "gpu/model_config.hpp"
#include "gpu/param_layout.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace cbs::lm {

template <typename T>
class ReferenceTransformer {
public:
    ReferenceTransformer(const ModelConfig& config, const ParamLayout& layout);

    /// Forward pass on `batch` sequences. tokens: (batch, T + 1) row-major; inputs are columns
    /// [0, T), targets columns [1, T + 1). Every token must be < V (checked). Returns the mean
    /// cross-entropy over the batch*T predictions (nats), accumulated in double. Keeps the
    /// activations for backward() when `keep_activations`.
    double forward(const T* params, std::span<const std::uint32_t> tokens, std::int64_t batch,
                   bool keep_activations = true);

    /// Backward pass of the last forward(keep_activations = true): grads += scale * d(mean loss)
    /// / d(params), same layout as params. Precondition: params unchanged since that forward.
    void backward(const T* params, T* grads, double scale);

private:
    struct LayerActs {
        std::vector<T> ln1_hat, ln1_rstd, h1; // (N, C), (N), (N, C)
        std::vector<T> qkv;                   // (N, 3C): q | k | v before q/k norms
        std::vector<T> q_hat, k_hat;          // (N, C) normalised q, k (before gains)
        std::vector<T> q_rstd, k_rstd;        // (N)
        std::vector<T> q, k;                  // (N, C) after gains and RoPE
        std::vector<T> probs;                 // (B, H, T, T) causal softmax, zero above diagonal
        std::vector<T> att;                   // (N, C) attention output, heads concatenated
        std::vector<T> ln2_hat, ln2_rstd, h2; // (N, C), (N), (N, C)
        std::vector<T> fc_pre, fc_act;        // (N, F) before / after GELU
    };

    void resize(std::int64_t batch);

    ModelConfig config_;
    ParamLayout layout_;
    std::int64_t batch_ = 0;             // sequences in the cached activations
    std::vector<T> rope_cos_, rope_sin_; // (T, D/2)
    std::vector<std::uint32_t> targets_; // (N)
    std::vector<std::uint32_t> inputs_;  // (N)
    std::vector<T> x_;                   // (N, C) residual stream (scratch)
    std::vector<LayerActs> acts_;
    std::vector<T> lnf_hat_, lnf_rstd_, hf_; // (N, C), (N), (N, C)
    std::vector<T> probs_out_;               // (N, V) softmax of the logits
    // Backward scratch.
    std::vector<T> dx_, dtmp_, dqkv_, datt_, dfc_; // (N, C), (N, C), (N, 3C), (N, C), (N, F)
    std::vector<T> dprob_;                         // (B, H, T, T)
};

extern template class ReferenceTransformer<float>;
extern template class ReferenceTransformer<double>;

} // namespace cbs::lm
