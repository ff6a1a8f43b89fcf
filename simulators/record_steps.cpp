#include "simulators/record_steps.hpp"

#include <algorithm>
#include <cmath>

namespace cbs::sim {

std::vector<std::int64_t> record_steps(const SimOptions& o, std::int64_t total) {
    std::vector<std::int64_t> steps;
    if (o.record_mode == RecordMode::all) {
        steps.reserve(static_cast<std::size_t>(total));
        for (std::int64_t t = 1; t <= total; ++t)
            steps.push_back(t);
        return steps;
    }
    const std::int64_t n = o.record_points;
    const double log_total = std::log(static_cast<double>(total));
    for (std::int64_t k = 0; k < n; ++k) {
        const double x = std::exp(log_total * static_cast<double>(k) / static_cast<double>(n - 1));
        steps.push_back(std::clamp<std::int64_t>(std::llround(x), 1, total));
    }
    if (o.record_every > 0)
        for (std::int64_t t = o.record_every; t <= total; t += o.record_every)
            steps.push_back(t);
    steps.push_back(total);
    if (o.budget_steps() <= total) steps.push_back(o.budget_steps());
    std::sort(steps.begin(), steps.end());
    steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
    return steps;
}

} // namespace cbs::sim
