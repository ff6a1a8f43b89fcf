#include "simulators/schedule.hpp"

#include <cmath>
#include <numbers>

namespace cbs::sim {

double learning_rate(const SimOptions& o, std::int64_t t, std::int64_t total) {
    const auto warmup = static_cast<std::int64_t>(std::llround(o.warmup_fraction * total));
    if (t < warmup) return o.lr * static_cast<double>(t + 1) / static_cast<double>(warmup);
    const double final_lr = o.final_lr_fraction * o.lr;
    switch (o.schedule) {
    case Schedule::constant:
        return o.lr;
    case Schedule::cosine: {
        const double span = static_cast<double>(total - 1 - warmup);
        if (span <= 0) return o.lr;
        const double progress = static_cast<double>(t - warmup) / span; // 0 .. 1
        return final_lr + (o.lr - final_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    case Schedule::wsd: {
        const auto decay = static_cast<std::int64_t>(std::llround(o.decay_fraction * total));
        const std::int64_t start = total - decay; // first decaying step
        if (t < start || decay <= 1) return o.lr;
        const double progress = static_cast<double>(t - start) / static_cast<double>(decay - 1);
        return o.lr + (final_lr - o.lr) * progress;
    }
    }
    return o.lr;
}

double effective_time(const SimOptions& o, std::int64_t total) {
    double sum = 0.0;
    for (std::int64_t t = 0; t < total; ++t)
        sum += learning_rate(o, t, total);
    return sum;
}

} // namespace cbs::sim
