// Steps-to-target from a recorded curve (any source: recursion, Monte Carlo, networks, LMs).
#pragma once

#include <cstdint>
#include <vector>

namespace cbs::exp {

struct StepsToTarget {
    double first = 0;        ///< first recorded step with EWA risk <= target (+inf if none)
    double interpolated = 0; ///< crossing interpolated linearly in (log step, log risk) between
                             ///< that point and the previous recorded one (+inf if none)
};

/// Preconditions: steps increasing, same length as risk; target > 0.
StepsToTarget steps_to_target(const std::vector<std::int64_t>& steps,
                              const std::vector<double>& risk, double target);

} // namespace cbs::exp
