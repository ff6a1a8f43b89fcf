#include "gpu/cpu/cpu_backend.hpp"

#include "gpu/optimizer.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <utility>

namespace cbs::lm {

namespace {

cpu::OperandType choose(CpuPrecision p) {
    switch (p) {
    case CpuPrecision::fp32:
        return cpu::OperandType::f32;
    case CpuPrecision::bf16:
        if (!cpu::cpu_has_bf16())
            throw UserError(fmt::format("`backend` = cpu (bf16): this CPU has no native bf16 "
                                        "(oneDNN ISA {}); use fp32",
                                        cpu::onednn_isa_name()));
        return cpu::OperandType::bf16;
    case CpuPrecision::automatic:
        break;
    }
    return cpu::cpu_has_bf16() ? cpu::OperandType::bf16 : cpu::OperandType::f32;
}

} // namespace

bool fast_cpu_compiled() {
    return true;
}

FastCpuBackend::FastCpuBackend(const ModelConfig& config, const std::vector<double>& ewa_decays,
                               CpuPrecision precision, CpuKernels kernels)
    : config_(config), layout_(make_param_layout(config)), decays_(ewa_decays),
      state_(layout_.total, decays_.size()),
      model_(kernels == CpuKernels::baseline
                 ? cpu::make_fast_model_baseline(config_, layout_, choose(precision))
                 : cpu::make_fast_model(config_, layout_, choose(precision))) {
    const auto total = static_cast<std::size_t>(layout_.total);
    for (auto& e : state_.ewa)
        ewa_ptrs_.push_back(e.data());
    if (operand_type() == cpu::OperandType::bf16) {
        op_bf16_.assign(total, 0);
        eval_op_bf16_.assign(total, 0);
    } else {
        op_f32_.assign(total, 0.0f);
        eval_op_f32_.assign(total, 0.0f);
    }
}

std::string FastCpuBackend::description() const {
    return fmt::format("{} GEMM operands (oneDNN {}), {} kernels",
                       operand_type() == cpu::OperandType::bf16 ? "bf16" : "fp32",
                       cpu::onednn_isa_name(), model_->isa());
}

void* FastCpuBackend::operands(std::vector<float>& f32, std::vector<std::uint16_t>& bf16) {
    return operand_type() == cpu::OperandType::bf16 ? static_cast<void*>(bf16.data())
                                                    : static_cast<void*>(f32.data());
}

void FastCpuBackend::set_state(StateRef which, std::span<const float> host) {
    state_.set(which, host);
    if (which.kind == StateKind::params)
        model_->to_operands(state_.params.data(), operands(op_f32_, op_bf16_), layout_.total);
}

void FastCpuBackend::get_state(StateRef which, std::span<float> host) const {
    state_.get(which, host);
}

void FastCpuBackend::zero_grad() {
    std::fill(state_.grads.begin(), state_.grads.end(), 0.0f);
}

double FastCpuBackend::forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                        double grad_scale) {
    return model_->forward_backward(state_.params.data(), operands(op_f32_, op_bf16_),
                                    state_.grads.data(), tokens, batch, grad_scale);
}

double FastCpuBackend::grad_norm_squared() {
    return model_->squared_norm(state_.grads.data(), layout_.total);
}

void FastCpuBackend::optimizer_step(const OptimizerStep& step) {
    model_->optimizer_step(step, state_.params.data(), state_.grads.data(), state_.m.data(),
                           state_.v.data(), ewa_ptrs_, decays_, operands(op_f32_, op_bf16_));
}

double FastCpuBackend::evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                int ewa_index, std::int64_t updates) {
    if (ewa_index < 0)
        return model_->evaluate(state_.params.data(), operands(op_f32_, op_bf16_), tokens, batch);
    CBS_CHECK(ewa_index < static_cast<int>(state_.ewa.size()), "ewa index ", ewa_index);
    eval_params_.resize(state_.params.size());
    const auto k = static_cast<std::size_t>(ewa_index);
    ewa_bias_corrected(decays_[k], updates, state_.ewa[k], eval_params_);
    void* ops = operands(eval_op_f32_, eval_op_bf16_);
    model_->to_operands(eval_params_.data(), ops, layout_.total);
    return model_->evaluate(eval_params_.data(), ops, tokens, batch);
}

} // namespace cbs::lm
