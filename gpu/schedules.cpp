#include "gpu/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace cbs::lm {

double learning_rate(const LmOptions& o, std::int64_t t) {
    const std::int64_t s = o.budget_steps();
    const std::int64_t w = o.warmup_steps();
    // A constant schedule does not depend on the run's length (so one run serves every budget of
    // data.budgets); the others hold their value at S - 1 past S.
    if (o.schedule != LrSchedule::constant) t = std::min(t, s - 1);
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
    // Every served budget: its step S_b and its horizon step; with eval.spacing, evaluations at
    // most that relative gap apart over [(1 - dense_fraction) S_b, horizon S_b], where a target
    // set at S_b is crossed (steps-to-target is interpolated between evaluations).
    for (const std::int64_t budget : o.served_budgets()) {
        const std::int64_t sb = std::min(o.steps_for_tokens(budget), total);
        const std::int64_t hb = std::min(o.horizon_steps_for_tokens(budget), total);
        steps.insert(sb);
        steps.insert(hb);
        if (o.eval_spacing > 0) {
            double s = std::max(1.0, (1.0 - o.dense_fraction) * static_cast<double>(sb));
            while (s <= static_cast<double>(hb)) {
                steps.insert(static_cast<std::int64_t>(std::llround(s)));
                s = std::max(s * (1.0 + o.eval_spacing), s + 1.0);
            }
        }
    }
    return {steps.begin(), steps.end()};
}

} // namespace cbs::lm
