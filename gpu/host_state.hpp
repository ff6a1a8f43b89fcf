// The training state of a backend that keeps it in host memory (the reference and the fast CPU
// backend): fp32 parameters, gradients, Adam moments and one EWA buffer per decay, each a flat
// array of layout.total floats in ParamLayout order, zero-initialised, addressed by StateRef.
#pragma once

#include "gpu/backend.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace cbs::lm {

struct HostState {
    HostState(std::int64_t total, std::size_t ewa_decays);

    std::vector<float> params, grads, m, v; ///< (total) each
    std::vector<std::vector<float>> ewa;    ///< one (total) buffer per decay

    std::vector<float>& buffer(StateRef which);
    const std::vector<float>& buffer(StateRef which) const;
    /// Copies `host` (total floats, checked) into / out of the buffer `which` names.
    void set(StateRef which, std::span<const float> host);
    void get(StateRef which, std::span<float> host) const;
};

} // namespace cbs::lm
