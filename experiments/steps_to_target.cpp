#include "experiments/steps_to_target.hpp"

#include "theory/check.hpp"

#include <cmath>
#include <limits>

namespace cbs::exp {

StepsToTarget steps_to_target(const std::vector<std::int64_t>& steps,
                              const std::vector<double>& risk, double target) {
    CBS_CHECK(steps.size() == risk.size(), steps.size(), " vs ", risk.size());
    CBS_CHECK(target > 0.0, "target = ", target);
    const double inf = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (!(risk[i] <= target)) continue;
        StepsToTarget out{static_cast<double>(steps[i]), static_cast<double>(steps[i])};
        if (i > 0 && risk[i - 1] > target && risk[i] > 0.0) {
            const double s0 = std::log(static_cast<double>(steps[i - 1]));
            const double s1 = std::log(static_cast<double>(steps[i]));
            const double r0 = std::log(risk[i - 1]), r1 = std::log(risk[i]);
            const double frac = (r0 - std::log(target)) / (r0 - r1);
            out.interpolated = std::exp(s0 + frac * (s1 - s0));
        }
        return out;
    }
    return {inf, inf};
}

} // namespace cbs::exp
