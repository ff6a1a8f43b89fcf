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
      model_(config_, layout_) {
    const auto total = static_cast<std::size_t>(layout_.total);
    for (auto* b : {&params_, &grads_, &m_, &v_})
        b->assign(total, 0.0f);
    ewa_.assign(decays_.size(), std::vector<float>(total, 0.0f));
}

std::vector<float>& ReferenceBackend::buffer(StateRef which) {
    return const_cast<std::vector<float>&>(std::as_const(*this).buffer(which));
}

const std::vector<float>& ReferenceBackend::buffer(StateRef which) const {
    return select_state(which, params_, grads_, m_, v_, ewa_);
}

void ReferenceBackend::set_state(StateRef which, std::span<const float> host) {
    std::vector<float>& b = buffer(which);
    CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
    std::copy(host.begin(), host.end(), b.begin());
}

void ReferenceBackend::get_state(StateRef which, std::span<float> host) const {
    const std::vector<float>& b = buffer(which);
    CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
    std::copy(b.begin(), b.end(), host.begin());
}

void ReferenceBackend::zero_grad() {
    std::fill(grads_.begin(), grads_.end(), 0.0f);
}

double ReferenceBackend::forward_backward(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                          double grad_scale) {
    const SmallWorkSerial serial(forward_flops(config_, batch));
    const double loss = model_.forward(params_.data(), tokens, batch, true);
    model_.backward(params_.data(), grads_.data(), grad_scale);
    return loss;
}

double ReferenceBackend::grad_norm_squared() {
    return squared_norm(grads_);
}

void ReferenceBackend::optimizer_step(const OptimizerStep& step) {
    adamw_update(layout_, step, params_, grads_, m_, v_);
    for (std::size_t k = 0; k < decays_.size(); ++k)
        ewa_update(decays_[k], ewa_[k], params_);
}

double ReferenceBackend::evaluate(std::span<const std::uint32_t> tokens, std::int64_t batch,
                                  int ewa_index, std::int64_t updates) {
    const SmallWorkSerial serial(forward_flops(config_, batch));
    if (ewa_index < 0) return model_.forward(params_.data(), tokens, batch, false);
    CBS_CHECK(ewa_index < static_cast<int>(ewa_.size()), "ewa index ", ewa_index);
    scratch_.resize(params_.size());
    const auto k = static_cast<std::size_t>(ewa_index);
    ewa_bias_corrected(decays_[k], updates, ewa_[k], scratch_);
    return model_.forward(scratch_.data(), tokens, batch, false);
}

} // namespace cbs::lm
