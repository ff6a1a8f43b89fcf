#include "experiments/measure.hpp"

#include "experiments/steps_to_target.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>

namespace cbs::exp {

namespace {

std::string attr_text(const data::AttrValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
    return std::get<std::string>(v);
}

double attr_number(const data::RunRecord& run, const std::string& key) {
    const auto it = run.attrs.find(key);
    if (it == run.attrs.end())
        throw UserError(
            fmt::format("run '{}': attribute `{}` missing: cbs measure needs it", run.id, key));
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&it->second)) return *d;
    throw UserError(fmt::format("run '{}': attribute `{}` = {}: must be a number", run.id, key,
                                std::get<std::string>(it->second)));
}

} // namespace

namespace {
bool is_diverged(const data::RunRecord& run) {
    const auto it = run.attrs.find("diverged");
    return it != run.attrs.end() && std::holds_alternative<std::int64_t>(it->second) &&
           std::get<std::int64_t>(it->second) != 0;
}
} // namespace

const std::vector<std::string>& group_keys() {
    static const std::vector<std::string> keys{"simulator",       "spectrum.a",    "spectrum.b",
                                               "spectrum.file",   "noise.sigma2",  "model.size",
                                               "data.samples",    "precond.power", "schedule",
                                               "warmup.fraction", "model.context", "warmup.tokens"};
    return keys;
}

std::vector<MeasuredGroup> measure_study(const data::Study& study, double anchor, int bootstrap,
                                         double target_multiple, bool target_by_budget) {
    // Group runs by the values of group_keys().
    std::map<std::vector<std::string>, std::vector<const data::RunRecord*>> groups;
    for (const data::RunRecord& run : study.runs) {
        std::vector<std::string> key;
        for (const std::string& k : group_keys()) {
            const auto it = run.attrs.find(k);
            key.push_back(it == run.attrs.end() ? "" : attr_text(it->second));
        }
        groups[key].push_back(&run);
    }
    // Keys that vary across groups label them.
    std::vector<bool> varies(group_keys().size(), false);
    for (const auto& [key, runs] : groups)
        for (std::size_t k = 0; k < key.size(); ++k)
            varies[k] = varies[k] || key[k] != groups.begin()->first[k];

    const double inf = std::numeric_limits<double>::infinity();
    std::vector<MeasuredGroup> out;
    std::uint64_t seed = 1;
    for (const auto& [key, runs] : groups) {
        MeasuredGroup g;
        for (std::size_t k = 0; k < key.size(); ++k)
            g.keys[group_keys()[k]] = key[k];
        for (std::size_t k = 0; k < key.size(); ++k)
            if (varies[k]) g.label += (g.label.empty() ? "" : " ") + group_keys()[k] + "=" + key[k];
        if (g.label.empty()) g.label = "all";
        // Target: best EWA risk at each run's data budget. Diverged runs (attribute diverged =
        // 1) take no part: their curve stops before the divergence, but a run that blew up
        // must not set the target nor count as reaching it.
        g.target = inf;
        for (const data::RunRecord* run : runs) {
            if (is_diverged(*run)) continue;
            const double n = attr_number(*run, "data.samples");
            const double batch = attr_number(*run, "batch");
            if (!(n > 0))
                throw UserError(fmt::format(
                    "run '{}': `data.samples` = {}: cbs measure needs a data budget > 0", run->id,
                    n));
            const auto budget = static_cast<std::int64_t>(std::ceil(n / batch));
            const auto it = std::find(run->step.begin(), run->step.end(), budget);
            if (target_by_budget) {
                for (std::size_t k = 0; k < run->step.size() && run->step[k] <= budget; ++k)
                    if (std::isfinite(run->risk_ewa[k]))
                        g.target = std::min(g.target, run->risk_ewa[k]);
            } else if (it != run->step.end()) {
                const double r = run->risk_ewa[static_cast<std::size_t>(it - run->step.begin())];
                if (std::isfinite(r)) g.target = std::min(g.target, r);
            }
        }
        g.target *= target_multiple;
        // Fewest steps per batch size.
        std::map<double, double> best;
        for (const data::RunRecord* run : runs) {
            const double batch = attr_number(*run, "batch");
            double steps = inf;
            if (std::isfinite(g.target) && !is_diverged(*run))
                steps = steps_to_target(run->step, run->risk_ewa, g.target).interpolated;
            auto [it, inserted] = best.emplace(batch, steps);
            if (!inserted) it->second = std::min(it->second, steps);
        }
        for (const auto& [batch, steps] : best)
            g.points.push_back({batch, steps});
        const auto finite =
            std::count_if(g.points.begin(), g.points.end(),
                          [](const BatchPoint& p) { return std::isfinite(p.steps); });
        if (finite < 2) {
            g.note = fmt::format("only {} batch size(s) reached the target", finite);
        } else {
            g.cbs = estimate_cbs(g.points, anchor, bootstrap, seed++);
            g.measurable = true;
        }
        out.push_back(std::move(g));
    }
    return out;
}

} // namespace cbs::exp
