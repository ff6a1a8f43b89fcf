// AdamW, EWA and gradient-norm arithmetic on flat host buffers: the CPU backend's optimizer and
// the reference a device backend's fused update kernel is checked against.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/param_layout.hpp"

#include <span>

namespace cbs::lm {

/// The AdamW update of backend.hpp (OptimizerStep) on every tensor of `layout`. Elementwise, so
/// deterministic under any thread count.
void adamw_update(const ParamLayout& layout, const OptimizerStep& step, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v);

/// xi = tau xi + (1 - tau) theta.
void ewa_update(double tau, std::span<float> ewa, std::span<const float> params);

/// out = xi / (1 - tau^updates): the bias-corrected EWA weights (updates >= 1).
void ewa_bias_corrected(double tau, std::int64_t updates, std::span<const float> ewa,
                        std::span<float> out);

/// sum x_i^2 in double, over fixed blocks combined in order (independent of the thread count).
double squared_norm(std::span<const float> x);

} // namespace cbs::lm
