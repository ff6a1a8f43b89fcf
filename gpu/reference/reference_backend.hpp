// The CPU reference backend ("reference"): fp32 state on the host, the model of
// reference_model.hpp, the optimizer of optimizer.hpp. Slow but exact and available everywhere;
// every fast backend (gpu/cpu/, gpu/cuda/) is checked against it.
#pragma once

#include "gpu/backend.hpp"
#include "gpu/host_state.hpp"
#include "gpu/reference/reference_model.hpp"

namespace cbs::lm {

class ReferenceBackend final : public LmBackend {
public:
    ReferenceBackend(const ModelConfig& config, const std::vector<double>& ewa_decays);

    std::string name() const override { return "reference"; }
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

private:
    ModelConfig config_;
    ParamLayout layout_;
    std::vector<double> decays_;
    ReferenceTransformer<float> model_;
    HostState state_;
    std::vector<float> scratch_; // bias-corrected EWA weights for evaluation
};

} // namespace cbs::lm
