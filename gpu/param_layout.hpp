// Every parameter tensor of the model as a named slice of one flat fp32 buffer, with its shape,
// initialisation and per-tensor optimizer settings. All backends share this layout, so weights,
// gradients, Adam moments and EWA buffers are flat arrays of the same length, a checkpoint is a
// handful of such arrays, and a device backend can run the optimizer as one fused pass.
//
// Matrices are stored row-major as (out_features, in_features), PyTorch's nn.Linear convention,
// so y = x W^T; the token embedding is (vocab, d_model). Offsets are aligned to kAlignment floats
// (256 bytes) for vectorised device kernels; padding elements stay zero forever (their gradient
// is zero, so Adam and weight decay leave them at zero).
#pragma once

#include "gpu/model_config.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cbs::lm {

inline constexpr std::int64_t kAlignment = 64;

enum class TensorRole {
    embedding, ///< token embedding (vocab, C)
    gain,      ///< LayerNorm gain (C), initialised to 1
    hidden,    ///< matrix inside a block
    residual,  ///< matrix writing into the residual stream (attention out, MLP down)
    readout,   ///< output embedding (vocab, C)
};

struct ParamTensor {
    std::string name; ///< e.g. "layers.0.qkv"
    TensorRole role;
    std::int64_t rows = 1;    ///< first dimension (1 for vectors)
    std::int64_t cols = 1;    ///< second dimension
    std::int64_t offset = 0;  ///< first element in the flat buffer (multiple of kAlignment)
    double init_std = 0;      ///< N(0, init_std^2); gains are initialised to 1 instead
    double lr_multiplier = 1; ///< Adam step multiplier (muP)
    bool weight_decay = true; ///< decoupled weight decay applies (matrices yes, gains no)

    std::int64_t size() const { return rows * cols; }
};

/// Indices into ParamLayout::tensors of one block's tensors.
struct BlockTensors {
    int ln1, qkv, q_norm, k_norm, attn_out, ln2, fc_up, fc_down;
};

struct ParamLayout {
    std::vector<ParamTensor> tensors; ///< in buffer order
    std::int64_t total = 0;           ///< length of the flat buffer, padding included
    int wte = 0;                      ///< token embedding (V, C)
    std::vector<BlockTensors> blocks; ///< per layer: ln1 (C), qkv (3C, C), q_norm (C), k_norm (C),
                                      ///< attn_out (C, C), ln2 (C), fc_up (4C, C), fc_down (C, 4C)
    int ln_f = 0;                     ///< final norm gain (C)
    int lm_head = 0;                  ///< read-out (V, C)

    const ParamTensor& operator[](int i) const { return tensors[static_cast<std::size_t>(i)]; }
};

/// The layout of `config` (validated first). Init and LR multipliers follow model_config.hpp.
ParamLayout make_param_layout(const ModelConfig& config);

/// Initial weights, deterministic for `seed` on every platform: each tensor draws from its own
/// counter-based generator (splitmix64 + Box-Muller), independent of threads and library versions.
std::vector<float> init_parameters(const ParamLayout& layout, std::uint64_t seed);

} // namespace cbs::lm
