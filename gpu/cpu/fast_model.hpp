// The fast CPU backend's model: the transformer of model_config.hpp (the same maths as the
// reference in gpu/reference/) arranged for speed. GEMMs go through oneDNN (onednn_gemm.hpp) with
// bf16 or fp32 operands and fp32 accumulation; everything else is fused, vectorised loops over
// fp32 values, parallel over rows with OpenMP.
//
// Precision contract (OperandType::bf16): every GEMM operand (weights, the LayerNorm outputs, the
// attention output, GELU output, and the gradients that enter a GEMM) is rounded to bf16 (round
// to nearest even) as PyTorch's bf16 autocast does; accumulation, activations kept for the
// backward pass, LayerNorm statistics, softmax, attention, master weights, gradients, Adam
// moments and EWA buffers are fp32. With OperandType::f32 nothing is rounded.
//
// The implementation (fast_model_impl.hpp) is compiled twice, for AVX-512 and for baseline
// x86-64, and make_fast_model picks one from the running CPU.
//
// Notation: B sequences of T tokens, N = B*T rows, C = d_model, H heads of D = C/H, F = 4C, V.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/cpu/onednn_gemm.hpp"
#include "gpu/model_config.hpp"
#include "gpu/param_layout.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace cbs::lm::cpu {

class FastModel {
public:
    virtual ~FastModel() = default;

    virtual OperandType operand_type() const = 0;
    /// Name of the compiled variant running: "avx512" or "baseline".
    virtual const char* isa() const = 0;

    /// The GEMM operand copy of n values: bf16 bits (uint16) or a plain fp32 copy, per
    /// operand_type(); `out` holds n elements of that type.
    virtual void to_operands(const float* x, void* out, std::int64_t n) = 0;

    /// Forward and backward on `batch` sequences (tokens (batch, T + 1), inputs and targets as in
    /// backend.hpp): grads += grad_scale * d(mean loss)/d(params). `params` holds the fp32 weights
    /// (embeddings and gains are read from it), `operands` their to_operands copy (matrices are
    /// read from it). Returns the mean loss (nats), summed in double in row order.
    virtual double forward_backward(const float* params, const void* operands, float* grads,
                                    std::span<const std::uint32_t> tokens, std::int64_t batch,
                                    double grad_scale) = 0;
    /// Mean loss without gradients.
    virtual double evaluate(const float* params, const void* operands,
                            std::span<const std::uint32_t> tokens, std::int64_t batch) = 0;

    /// AdamW (backend.hpp's OptimizerStep, the same fp32 arithmetic as optimizer.hpp), then
    /// ewa[k] = tau_k ewa[k] + (1 - tau_k) params for each decay, then the operand copy of the
    /// new params into `operands`. Elementwise, so independent of the thread count.
    virtual void optimizer_step(const OptimizerStep& step, float* params, const float* grads,
                                float* m, float* v, std::span<float* const> ewa,
                                std::span<const double> decays, void* operands) = 0;

    /// sum x_i^2 in double over 64 fixed blocks combined in order (thread-count independent).
    virtual double squared_norm(const float* x, std::int64_t n) = 0;
};

/// The fast model for `config` with `type` operands, compiled for the best ISA this CPU runs.
std::unique_ptr<FastModel> make_fast_model(const ModelConfig& config, const ParamLayout& layout,
                                           OperandType type);

/// Declared here, defined by the two compilations of fast_model_impl.hpp.
std::unique_ptr<FastModel> make_fast_model_avx512(const ModelConfig&, const ParamLayout&,
                                                  OperandType);
std::unique_ptr<FastModel> make_fast_model_baseline(const ModelConfig&, const ParamLayout&,
                                                    OperandType);

} // namespace cbs::lm::cpu
