#include "gpu/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace cbs::lm {

double learning_rate(const LmOptions& o, std::int64_t t) {
    const std::int64_t s = o.budget_steps();
    t = std::min(t, s - 1);
    const auto w =
        static_cast<std::int64_t>(std::llround(o.warmup_fraction * static_cast<double>(s)));
    if (t < w) return o.lr * (0.1 + 0.9 * static_cast<double>(t) / static_cast<double>(w));
    const double final_lr = o.final_lr_fraction * o.lr;
    switch (o.schedule) {
    case LrSchedule::constant:
        return o.lr;
    case LrSchedule::cosine: {
        const double span = static_cast<double>(std::max<std::int64_t>(1, s - 1 - w));
        const double p = std::min(1.0, static_cast<double>(t - w) / span);
        return final_lr + (o.lr - final_lr) * 0.5 * (1.0 + std::cos(M_PI * p));
    }
    case LrSchedule::wsd: {
        const auto d =
            std::max<std::int64_t>(1, std::llround(o.decay_fraction * static_cast<double>(s)));
        const std::int64_t start = std::max(w, s - d);
        if (t < start) return o.lr;
        const double span = static_cast<double>(std::max<std::int64_t>(1, s - 1 - start));
        const double p = std::min(1.0, static_cast<double>(t - start) / span);
        return o.lr + (final_lr - o.lr) * p;
    }
    }
    return o.lr;
}

std::vector<std::int64_t> eval_steps(const LmOptions& o) {
    const std::int64_t total = o.total_steps();
    std::set<std::int64_t> steps;
    for (std::int64_t p = 1; p <= total; p *= 2)
        steps.insert(p);
    if (o.eval_every > 0)
        for (std::int64_t k = o.eval_every; k <= total; k += o.eval_every)
            steps.insert(k);
    for (const std::int64_t end : {std::min(o.budget_steps(), total), total}) {
        steps.insert(end);
        const double len = o.dense_fraction * static_cast<double>(end);
        for (std::int64_t i = 0; i < o.dense_points; ++i) {
            const auto s =
                end - static_cast<std::int64_t>(std::llround(len * static_cast<double>(i) /
                                                             static_cast<double>(o.dense_points)));
            if (s >= 1) steps.insert(s);
        }
    }
    return {steps.begin(), steps.end()};
}

} // namespace cbs::lm
