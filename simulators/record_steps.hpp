// Which steps a run records. Step t means "after t optimizer updates"; recorded steps are in
// [1, total], strictly increasing, and always include the last step and the budget step
// (SimOptions::budget_steps(), when it is <= total).
#pragma once

#include "simulators/sim_options.hpp"

#include <cstdint>
#include <vector>

namespace cbs::sim {

/// record = all: every step; record = log / N: N points log-spaced in [1, total] (rounded and
/// de-duplicated, so fewer when total is small); record_every = k adds every k-th step.
std::vector<std::int64_t> record_steps(const SimOptions& o, std::int64_t total);

} // namespace cbs::sim
