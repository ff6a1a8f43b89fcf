// The fast CPU backend ("cpu", the default of `cbs train-lm` and LM sweeps): the model of
// fast_model.hpp with fp32 master weights, Adam moments and EWA buffers on the host, and a GEMM
// operand copy of the weights (bf16 or fp32) refreshed by every update. Checked against the
// reference backend (gpu/reference/) by tests/lm/test_fast_cpu_backend.cpp.
//
// Precision: bf16 GEMM operands where the running CPU has native bf16 dot products (AVX512_BF16
// or AMX, as oneDNN reports), fp32 operands elsewhere; CpuPrecision::fp32 forces fp32 on any CPU
// (`backend = "cpu-fp32"` in bench_lm and the tests).
#pragma once

#include "gpu/backend.hpp"
#include "gpu/cpu/fast_model.hpp"
#include "gpu/host_state.hpp"

#include <memory>
#include <string>
#include <vector>

namespace cbs::lm {

enum class CpuPrecision { automatic, bf16, fp32 };
/// Which compiled variant of the model's loops runs: the best this CPU has (automatic), or the
/// baseline x86-64 one on any CPU (so tests exercise it on AVX-512 machines too).
enum class CpuKernels { automatic, baseline };

class FastCpuBackend final : public LmBackend {
public:
    /// Throws cbs::UserError for CpuPrecision::bf16 on a CPU without native bf16.
    FastCpuBackend(const ModelConfig& config, const std::vector<double>& ewa_decays,
                   CpuPrecision precision = CpuPrecision::automatic,
                   CpuKernels kernels = CpuKernels::automatic);

    std::string name() const override { return "cpu"; }
    const ModelConfig& config() const override { return config_; }
    const ParamLayout& layout() const override { return layout_; }
    const std::vector<double>& ewa_decays() const override { return decays_; }
    void set_state(StateRef which, std::span<const float> host) override;
    void get_state(StateRef which, std::span<float> host) const override;
    void zero_grad() override;
    double forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                            double grad_scale) override;
    double grad_norm_squared() override;
    void optimizer_step(const OptimizerStep& step) override;
    double evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch, int ewa_index,
                    std::int64_t updates) override;

    cpu::OperandType operand_type() const { return model_->operand_type(); }
    /// "bf16 GEMM operands (oneDNN avx512_core_amx), avx512 kernels", for logs and file attributes.
    std::string description() const;

private:
    void* operands(std::vector<float>& f32, std::vector<std::uint16_t>& bf16);

    ModelConfig config_;
    ParamLayout layout_;
    std::vector<double> decays_;
    HostState state_;
    std::unique_ptr<cpu::FastModel> model_;
    std::vector<float*> ewa_ptrs_; // state_.ewa[k].data()
    // GEMM operand copies of the parameters (one of the two is used) and of the EWA weights in
    // evaluate.
    std::vector<float> op_f32_, eval_op_f32_;
    std::vector<std::uint16_t> op_bf16_, eval_op_bf16_;
    std::vector<float> eval_params_; // bias-corrected EWA weights
};

/// Whether this build has the fast backend (oneDNN found at configure time).
bool fast_cpu_compiled();

} // namespace cbs::lm
