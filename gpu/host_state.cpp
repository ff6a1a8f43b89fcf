#include "gpu/host_state.hpp"

#include "theory/check.hpp"

#include <algorithm>
#include <utility>

namespace cbs::lm {

HostState::HostState(std::int64_t total, std::size_t ewa_decays) {
    const auto n = static_cast<std::size_t>(total);
    for (auto* b : {&params, &grads, &m, &v})
        b->assign(n, 0.0f);
    ewa.assign(ewa_decays, std::vector<float>(n, 0.0f));
}

std::vector<float>& HostState::buffer(StateRef which) {
    return const_cast<std::vector<float>&>(std::as_const(*this).buffer(which));
}

const std::vector<float>& HostState::buffer(StateRef which) const {
    return select_state(which, params, grads, m, v, ewa);
}

void HostState::set(StateRef which, std::span<const float> host) {
    std::vector<float>& b = buffer(which);
    CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
    std::copy(host.begin(), host.end(), b.begin());
}

void HostState::get(StateRef which, std::span<float> host) const {
    const std::vector<float>& b = buffer(which);
    CBS_CHECK(host.size() == b.size(), "state size ", host.size(), " != ", b.size());
    std::copy(b.begin(), b.end(), host.begin());
}

} // namespace cbs::lm
