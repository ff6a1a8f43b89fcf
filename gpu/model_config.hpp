// Shape and parameterization of the study's decoder-only language model (PAPER.md, "Training
// setup"): pre-norm LayerNorm without bias, LayerNorm on q and k, RoPE, GELU MLP (4x), no biases,
// untied input/output embeddings, no dropout. Host-only: no backend or CUDA types here.
//
// Parameterizations (both use Adam, so "LR multiplier" scales Adam's step per tensor):
//  - SP (standard): GPT-2-style init N(0, init_std^2) for every matrix, residual output
//    projections (attention out, MLP down) scaled by 1/sqrt(2 layers); LR multiplier 1 everywhere;
//    attention logits scaled by 1/sqrt(head_dim); logits multiplier 1.
//  - muP (maximal update, Tensor Programs V, Adam, "output multiplier" form): with width multiplier
//    m = d_model / mup_base_width, hidden matrices get init std / sqrt(m) and LR multiplier 1/m;
//    embeddings, the read-out and the norm gains keep init and LR; the logits are multiplied by
//    1/m; attention logits by sqrt(base_head_dim) / head_dim (1/head_dim scaling, equal to SP's
//    1/sqrt(head_dim) at the base width). At m = 1 muP and SP are the same model, exactly.
#pragma once

#include <cstdint>
#include <string>

namespace cbs::lm {

enum class Parameterization { sp, mup };

const char* to_string(Parameterization p);
/// Throws cbs::UserError("`key` = text: must be sp or mup").
Parameterization parse_parameterization(const std::string& key, const std::string& text);

struct ModelConfig {
    std::int64_t d_model = 64; ///< model.d_model: residual width C in [2, 65536]; heads | C
    std::int64_t layers = 2;   ///< model.layers: transformer blocks L in [1, 1024]
    std::int64_t heads = 4;    ///< model.heads: attention heads H; head_dim = C / H must be even
    std::int64_t context = 64; ///< model.context: tokens per sequence T, [1, 2^20]
    std::int64_t vocab = 256;  ///< model.vocab: vocabulary size V in [2, 2^32]
    Parameterization parameterization = Parameterization::sp; ///< model.parameterization
    std::int64_t mup_base_width = 64; ///< model.mup_base_width: muP base d_model (divisible by H)
    double init_std = 0.02;           ///< model.init_std: base init standard deviation > 0
    double rope_base = 10000.0;       ///< model.rope_base: RoPE frequency base > 1

    std::int64_t head_dim() const { return d_model / heads; }
    std::int64_t mlp_width() const { return 4 * d_model; }
    /// m = d_model / mup_base_width under muP, 1 under SP.
    double width_multiplier() const;
    /// Scale of q.k before the softmax.
    double attention_scale() const;
    /// Multiplier of the read-out logits (1/m under muP).
    double logit_multiplier() const;
    /// Parameters in the transformer blocks and the final norm (no token embedding, no read-out).
    std::int64_t non_embedding_parameters() const;
    /// Every parameter, embeddings included.
    std::int64_t total_parameters() const;
    /// Forward+backward FLOPs per token (6 N_matmul + attention 12 L T C, the usual estimate).
    double flops_per_token() const;
    /// Throws cbs::UserError("`model.key` = value: rule") for the first violated rule.
    void validate() const;
};

} // namespace cbs::lm
