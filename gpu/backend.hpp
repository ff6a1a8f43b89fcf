// The interface between the training loop and a compute backend (CPU reference now, CUDA next).
//
// A backend owns the model state for the whole run: parameters, gradients, Adam moments and one
// buffer per tracked EWA decay, all flat arrays in the ParamLayout order. The loop only moves
// tokens in and scalars out per step (losses, the squared gradient norm), so a device backend
// never copies weights to the host during training; host copies of state happen only at
// initialisation, checkpoints and in tests (get_state / set_state).
//
// Host-only header: no CUDA types; a device backend hides them in its .cu/.cpp files.
#pragma once

#include "gpu/model_config.hpp"
#include "gpu/param_layout.hpp"
#include "theory/check.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cbs::lm {

/// Which flat buffer get_state / set_state address.
enum class StateKind { params, grads, adam_m, adam_v, ewa };

struct StateRef {
    StateKind kind = StateKind::params;
    int ewa_index = 0; ///< for StateKind::ewa: index into the backend's decays
};

/// One AdamW + EWA update. Per tensor i with LR multiplier mu_i and g = grad_scale * grad:
///   theta -= lr mu_i weight_decay theta          (decoupled; tensors with weight_decay only)
///   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
///   theta -= lr mu_i (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
/// then every EWA buffer xi_k = tau_k xi_k + (1 - tau_k) theta.
struct OptimizerStep {
    double lr = 0; ///< this step's learning rate (schedule applied), before mu_i
    double beta1 = 0.9;
    double beta2 = 0.95;
    double eps = 1e-8;
    double weight_decay = 0;
    double grad_scale = 1; ///< clipping factor applied to the accumulated gradient
    std::int64_t step = 1; ///< 1-based update count (Adam bias correction)
};

/// The state buffer `which` names, for a backend of any buffer type (host vectors, device
/// buffers; const or not): params, grads, Adam m and v, or ewa[which.ewa_index] (checked).
template <typename Buffer, typename EwaBuffers>
Buffer& select_state(StateRef which, Buffer& params, Buffer& grads, Buffer& m, Buffer& v,
                     EwaBuffers& ewa) {
    switch (which.kind) {
    case StateKind::params:
        return params;
    case StateKind::grads:
        return grads;
    case StateKind::adam_m:
        return m;
    case StateKind::adam_v:
        return v;
    case StateKind::ewa:
        break;
    }
    CBS_CHECK(which.kind == StateKind::ewa, "unknown state kind ", static_cast<int>(which.kind));
    CBS_CHECK(which.ewa_index >= 0 && which.ewa_index < static_cast<int>(ewa.size()), "ewa index ",
              which.ewa_index);
    return ewa[static_cast<std::size_t>(which.ewa_index)];
}

class LmBackend {
public:
    virtual ~LmBackend() = default;
    LmBackend() = default;
    LmBackend(const LmBackend&) = delete;
    LmBackend& operator=(const LmBackend&) = delete;

    virtual std::string name() const = 0;
    virtual const ModelConfig& config() const = 0;
    virtual const ParamLayout& layout() const = 0;
    virtual const std::vector<double>& ewa_decays() const = 0;

    /// Copies a host array of layout().total floats into / out of a state buffer.
    virtual void set_state(StateRef which, std::span<const float> host) = 0;
    virtual void get_state(StateRef which, std::span<float> host) const = 0;

    /// Sets every gradient to zero.
    virtual void zero_grad() = 0;
    /// Forward and backward on `batch` sequences, tokens (batch, context + 1) row-major: adds
    /// grad_scale * d(mean loss)/d(theta) to the gradients. Returns the mean loss (nats).
    virtual double forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                    double grad_scale) = 0;
    /// Squared L2 norm of the gradient buffer (deterministic order).
    virtual double grad_norm_squared() = 0;
    /// AdamW on the parameters, then the EWA update of every tracked decay.
    virtual void optimizer_step(const OptimizerStep& step) = 0;
    /// Mean loss on `batch` sequences (no gradients) with the raw weights (ewa_index = -1) or
    /// the bias-corrected EWA weights xi_k / (1 - tau_k^updates) (ewa_index = k).
    virtual double evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch,
                            int ewa_index, std::int64_t updates) = 0;
};

/// Backends of this build: "cpu" (the fast one; the reference where oneDNN is absent),
/// "reference" always; "cuda" when built with CUDA.
std::vector<std::string> available_backends();

/// Creates a backend with zero parameters, moments and EWA buffers. Throws cbs::UserError
/// ("`backend` = name: ...") for an unknown or unavailable backend.
std::unique_ptr<LmBackend> make_backend(const std::string& name, const ModelConfig& config,
                                        const std::vector<double>& ewa_decays);

} // namespace cbs::lm
