#include "gpu/reference/reference_backend.hpp"

#include "gpu/optimizer.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <omp.h>
#include <utility>

namespace cbs::lm {

namespace {

// Runs the enclosed work on one thread when a forward pass is too small to gain from threads:
// Eigen's GEMMs and our loops fork per call, which costs more than it saves for tiny models and
// far more on an oversubscribed machine (CI runners, hosts shared by several jobs). Affects only
// the calling thread (omp_set_num_threads sets a per-thread value), so it is safe in parallel
// sweeps. OMP_NUM_THREADS still caps larger models.
class SmallWorkSerial {
public:
    explicit SmallWorkSerial(double forward_flops) : saved_(omp_get_max_threads()) {
        constexpr double kSerialBelowFlops = 2e8;
        if (forward_flops < kSerialBelowFlops) omp_set_num_threads(1);
    }
    ~SmallWorkSerial() { omp_set_num_threads(saved_); }
    SmallWorkSerial(const SmallWorkSerial&) = delete;
    SmallWorkSerial& operator=(const SmallWorkSerial&) = delete;

private:
    int saved_;
};

double forward_flops(const ModelConfig& c, std::int64_t batch) {
    return c.flops_per_token() / 3.0 * static_cast<double>(batch * c.context);
}

} // namespace

ReferenceBackend::ReferenceBackend(const ModelConfig& config, const std::vector<double>& ewa_decays)
    : config_(config), layout_(make_param_layout(config)), decays_(ewa_decays),
      model_(config_, layout_), state_(layout_.total, decays_.size()) {}

void ReferenceBackend::set_state(StateRef which, std::span<const float> host) {
    state_.set(which, host);
}

void ReferenceBackend::get_state(StateRef which, std::span<float> host) const {
    state_.get(which, host);
}

void ReferenceBackend::zero_grad() {
    std::fill(state_.grads.begin(), state_.grads.end(), 0.0f);
}

double ReferenceBackend::forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                          double grad_scale) {
    const SmallWorkSerial serial(forward_flops(config_, batch));
    const double loss = model_.forward(state_.params.data(), tokens, batch, true);
    model_.backward(state_.params.data(), state_.grads.data(), grad_scale);
    return loss;
}

double ReferenceBackend::grad_norm_squared() {
    return squared_norm(state_.grads);
}

void ReferenceBackend::optimizer_step(const OptimizerStep& step) {
    adamw_update(layout_, step, state_.params, state_.grads, state_.m, state_.v);
    for (std::size_t k = 0; k < decays_.size(); ++k)
        ewa_update(decays_[k], state_.ewa[k], state_.params);
}

double ReferenceBackend::evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                  int ewa_index, std::int64_t updates) {
    const SmallWorkSerial serial(forward_flops(config_, batch));
    if (ewa_index < 0) return model_.forward(state_.params.data(), tokens, batch, false);
    CBS_CHECK(ewa_index < static_cast<int>(state_.ewa.size()), "ewa index ", ewa_index);
    scratch_.resize(state_.params.size());
    const auto k = static_cast<std::size_t>(ewa_index);
    ewa_bias_corrected(decays_[k], updates, state_.ewa[k], scratch_);
    return model_.forward(scratch_.data(), tokens, batch, false);
}

} // namespace cbs::lm
