#include "experiments/lm_study.hpp"

#include "experiments/cbs_tables.hpp"
#include "experiments/run_output.hpp"
#include "experiments/run_store.hpp"
#include "experiments/sweep.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <set>

namespace cbs::exp {

namespace {

std::string unquoted(std::string s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"'))
        s.erase(s.begin());
    while (!s.empty() && (s.back() == ' ' || s.back() == '"'))
        s.pop_back();
    return s;
}

double key_number(const MeasuredGroup& g, const std::string& key) {
    const auto it = g.keys.find(key);
    CBS_CHECK(it != g.keys.end() && !it->second.empty(), "LM group without attribute ", key);
    return std::stod(it->second);
}

/// Fits CBS against `x_of` within each set of groups that share `fixed_of`, where that set has
/// at least three distinct x values (fewer say nothing about an exponent).
void add_fits(const std::vector<LmStudyGroup>& groups, const std::string& variable,
              double (*x_of)(const LmStudyGroup&), double (*fixed_of)(const LmStudyGroup&),
              const std::string& fixed_name, std::vector<LmStudyFit>& fits) {
    std::map<double, std::vector<const LmStudyGroup*>> by_fixed;
    for (const LmStudyGroup& g : groups)
        if (g.measured.measurable && std::isfinite(g.measured.cbs.study) &&
            g.measured.cbs.study > 0)
            by_fixed[fixed_of(g)].push_back(&g);
    for (const auto& [fixed, members] : by_fixed) {
        LmStudyFit f;
        f.variable = variable;
        f.fixed = fmt::format("{}={:g}", fixed_name, fixed);
        std::set<double> distinct;
        for (const LmStudyGroup* g : members) {
            f.x.push_back(x_of(*g));
            f.y.push_back(g->measured.cbs.study);
            distinct.insert(x_of(*g));
        }
        if (distinct.size() < 3) continue;
        f.fit = fit_power_law(f.x, f.y);
        fits.push_back(std::move(f));
    }
}

} // namespace

bool is_lm_study(const ConfigEntries& entries) {
    std::string simulator;
    for (const ConfigEntry& e : entries)
        if (e.key == "simulator") simulator = unquoted(e.value);
    return simulator == "lm";
}

LmStudyResult run_lm_study(const ConfigEntries& entries, const std::string& config_text,
                           const std::string& out_path, int bootstrap, bool quiet) {
    const auto start = std::chrono::steady_clock::now();
    // Every point validated before anything is trained or written.
    const std::vector<SweepRun> runs = make_sweep_runs(expand_axes(entries));
    LmStudyResult result;
    result.runs = runs.size();

    make_output_directory(out_path);
    RunStore store(out_path, config_text);
    SweepProgress progress;
    progress.enabled = !quiet;
    result.ran = run_sweep(runs, store, ShardSpec{}, progress).ran;

    data::Study study;
    study.runs = store.runs();
    for (MeasuredGroup& m : measure_study(study, 0, bootstrap)) {
        LmStudyGroup g;
        g.parameters = key_number(m, "model.size");
        g.tokens = key_number(m, "data.samples") * key_number(m, "model.context");
        g.measured = std::move(m);
        result.groups.push_back(std::move(g));
    }
    std::sort(result.groups.begin(), result.groups.end(),
              [](const LmStudyGroup& a, const LmStudyGroup& b) {
                  return std::pair{a.parameters, a.tokens} < std::pair{b.parameters, b.tokens};
              });
    add_fits(
        result.groups, "data.samples", [](const LmStudyGroup& g) { return g.tokens; },
        [](const LmStudyGroup& g) { return g.parameters; }, "M", result.fits);
    add_fits(
        result.groups, "model.size", [](const LmStudyGroup& g) { return g.parameters; },
        [](const LmStudyGroup& g) { return g.tokens; }, "D", result.fits);

    // Tables, in the columns every study kind writes.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<EstimateRow> estimates;
    std::vector<std::string> series, group, family;
    std::vector<double> n, m, batch, steps;
    for (const LmStudyGroup& g : result.groups) {
        const MeasuredGroup& mg = g.measured;
        estimates.push_back({"lm", mg.label, "lm", mg.note, g.tokens, g.parameters, nan, mg.target,
                             mg.target, mg.measurable, mg.cbs});
        for (const BatchPoint& p : mg.points) {
            series.push_back("lm");
            group.push_back(mg.label);
            family.push_back("lm");
            n.push_back(g.tokens);
            m.push_back(g.parameters);
            batch.push_back(p.batch);
            steps.push_back(p.steps);
        }
    }
    data::Table steps_table;
    steps_table.columns = {{"series", series}, {"group", group}, {"family", family}, {"n", n},
                           {"M", m},           {"batch", batch}, {"steps", steps}};
    steps_table.attrs["description"] =
        std::string("LM study: per group (n = tokens, M = non-embedding parameters) and batch "
                    "size (sequences): fewest steps to the target val loss over the tuned runs");
    std::vector<FitRow> fit_rows;
    for (const LmStudyFit& f : result.fits)
        fit_rows.push_back({"lm", "lm", f.variable, f.fit, f.variable == "model.size" ? 0.0 : nan});
    store.set_table("cbs/steps", steps_table);
    store.set_table("cbs/estimates", estimates_table(estimates));
    store.set_table("fits/cbs", fits_table(fit_rows));
    store.checkpoint();
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

std::string lm_study_summary(const LmStudyResult& r) {
    std::string out = fmt::format(
        "cbs run: language-model study: {} groups, {} trainings ({} run now), {:.1f} s\n\n",
        r.groups.size(), r.runs, r.ran, r.seconds);
    out += fmt::format("{:<40} {:>12} {:>12} {:>9} {:>7} {:>9} {:>21}\n", "group", "tokens",
                       "parameters", "R_opt", "B_opt", "CBS", "95% interval");
    for (const LmStudyGroup& g : r.groups) {
        const MeasuredGroup& m = g.measured;
        if (!m.measurable) {
            out += fmt::format("{:<40} {:>12.4g} {:>12.4g} {:>9.4g} not measurable: {}\n", m.label,
                               g.tokens, g.parameters, m.target, m.note);
            continue;
        }
        out +=
            fmt::format("{:<40} {:>12.4g} {:>12.4g} {:>9.4g} {:>7.4g} {:>9.4g} {:>21}\n", m.label,
                        g.tokens, g.parameters, m.target, m.cbs.b_opt, m.cbs.study,
                        fmt::format("[{:.4g}, {:.4g}]", m.cbs.study_ci.low, m.cbs.study_ci.high));
    }
    out += "(CBS and B_opt in sequences; R_opt = best EWA validation loss at the budget, nats)\n";
    for (const LmStudyFit& f : r.fits)
        out += fmt::format("CBS vs {} at {}: exponent {:.3f} [{:.3f}, {:.3f}]\n",
                           f.variable == "model.size" ? "parameters" : "tokens", f.fixed,
                           f.fit.alpha, f.fit.alpha_low, f.fit.alpha_high);
    if (r.fits.empty())
        out += "(no fits: a fit needs three data budgets at one model size, or three model sizes "
               "at one budget)\n";
    return out;
}

} // namespace cbs::exp
