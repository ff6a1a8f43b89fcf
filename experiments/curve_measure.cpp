#include "experiments/curve_measure.hpp"

#include "data/json_writer.hpp"
#include "experiments/cbs_tables.hpp"
#include "experiments/run_output.hpp"
#include "experiments/steps_to_target.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <map>

namespace cbs::exp {

namespace fs = std::filesystem;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool has_suffix(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_jsonl_name(const std::string& path) {
    return has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson") || has_suffix(path, ".json");
}

/// Steps to reach `target` on a run's curve (step-0 points left out: the interpolation is in log
/// step). +inf if never reached.
double run_steps(const data::CurveRun& run, double target) {
    std::vector<std::int64_t> steps;
    std::vector<double> loss;
    for (std::size_t k = 0; k < run.step.size(); ++k)
        if (run.step[k] > 0) {
            steps.push_back(run.step[k]);
            loss.push_back(run.loss[k]);
        }
    return steps_to_target(steps, loss, target).interpolated;
}

} // namespace

bool is_curve_input(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return true; // read_curve_input says if it is no log dir
    if (is_jsonl_name(path)) return true;
    if (has_suffix(path, ".h5") || has_suffix(path, ".hdf5")) return false;
    const std::vector<std::string> header = data::csv_header_fields(path);
    return std::find(header.begin(), header.end(), "run") != header.end() &&
           std::find(header.begin(), header.end(), "loss") != header.end();
}

data::CurveLog read_curve_input(const std::string& path, const CurveInputOptions& options) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        if (!data::is_tensorboard_dir(path))
            throw UserError(fmt::format("'{}': a directory without TensorBoard event files "
                                        "(events.out.tfevents.*)",
                                        path));
        return data::read_tensorboard(path, {options.tag, options.runs_csv, options.skip_invalid});
    }
    for (const auto& [given, name] :
         {std::pair{!options.tag.empty(), "--tag"}, std::pair{!options.runs_csv.empty(), "--runs"},
          std::pair{options.skip_invalid, "--skip-invalid"}})
        if (given)
            throw UserError(fmt::format("{}: applies to TensorBoard directories only, and '{}' "
                                        "is a file",
                                        name, path));
    return data::read_curves_file(path);
}

std::vector<CurveGroup> measure_curves(const data::CurveLog& log,
                                       const CurveMeasureOptions& options) {
    if (options.target < 0 || !std::isfinite(options.target))
        throw UserError(fmt::format("--target {}: must be a loss > 0", options.target));
    if (options.budget < 0 || !std::isfinite(options.budget))
        throw UserError(fmt::format("--budget {}: must be a number of tokens > 0", options.budget));
    if (options.target > 0 && options.budget > 0)
        throw UserError("--target and --budget: give one (a fixed target loss, or R_opt at a "
                        "token budget)");
    if (options.target > 0 && options.target_multiple != 1.0)
        throw UserError("--target-multiple scales R_opt at a budget: it does not apply to a fixed "
                        "--target");
    std::map<std::string, std::vector<const data::CurveRun*>> groups;
    for (const data::CurveRun& r : log.runs)
        groups[r.group].push_back(&r);
    if (!(options.target > 0)) {
        if (!(options.budget > 0))
            for (const auto& [name, runs] : groups)
                if (!log.budgets.count(name))
                    throw UserError(fmt::format(
                        "{}: group '{}' has no target: give --target LOSS, --budget TOKENS, or a "
                        "`budget` column",
                        log.source, name));
        if (!log.has_tokens)
            throw UserError(fmt::format("{}: a budget target needs the tokens seen at each step: "
                                        "a `tokens` field ({}), or --target LOSS",
                                        log.source,
                                        log.format == "tensorboard"
                                            ? "TensorBoard: a tokens_per_step column in --runs"
                                            : "column or JSON key"));
    }

    std::vector<CurveGroup> out;
    std::uint64_t seed = 1;
    for (const auto& [name, runs] : groups) {
        CurveGroup g;
        g.group = name;
        g.budget = options.budget > 0        ? options.budget
                   : log.budgets.count(name) ? log.budgets.at(name)
                                             : kNaN;
        g.r_opt = kNaN;
        if (options.target > 0) {
            g.target = options.target;
        } else {
            double best = kInf;
            for (const data::CurveRun* r : runs) {
                if (r->diverged) continue; // a run that blew up sets no target
                for (std::size_t k = 0; k < r->step.size(); ++k)
                    // Exactly "at or before D tokens": tokens are exact integers in practice.
                    if (r->tokens[k] <= g.budget && std::isfinite(r->loss[k]))
                        best = std::min(best, r->loss[k]);
            }
            g.r_opt = std::isfinite(best) ? best : kNaN;
            g.target = g.r_opt * options.target_multiple;
        }
        std::map<double, CurveWinner> by_batch;
        for (const data::CurveRun* r : runs) {
            CurveWinner& w = by_batch[r->batch];
            if (w.runs == 0) {
                w.batch = r->batch;
                w.steps = kInf;
            }
            ++w.runs;
            if (r->diverged) {
                ++w.diverged;
                continue;
            }
            if (!(g.target > 0)) continue;
            const double s = run_steps(*r, g.target);
            if (s < w.steps) { // runs are in id order: ties keep the first
                w.steps = s;
                w.run = r->id;
                w.hparams = r->hparams;
            }
        }
        for (auto& [batch, w] : by_batch) {
            g.points.push_back({batch, w.steps});
            g.winners.push_back(std::move(w));
        }
        const auto finite =
            std::count_if(g.points.begin(), g.points.end(),
                          [](const BatchPoint& p) { return std::isfinite(p.steps); });
        if (std::isnan(g.target)) {
            g.note =
                fmt::format("no finite loss logged at or before the budget ({} tokens)", g.budget);
        } else if (!(g.target > 0)) {
            g.note = fmt::format("target {} <= 0: steps-to-target interpolates in log loss, which "
                                 "needs a positive loss",
                                 g.target);
        } else if (finite < 2) {
            g.note = fmt::format("only {} batch size(s) reached the target", finite);
        } else {
            g.cbs = estimate_cbs(g.points, options.anchor, options.bootstrap, seed++);
            g.measurable = true;
        }
        out.push_back(std::move(g));
    }
    return out;
}

namespace {
std::string num(double v) {
    if (std::isnan(v)) return "n/a";
    if (std::isinf(v)) return v > 0 ? "never" : "-inf";
    return fmt::format("{:.6g}", v);
}

using data::json_number;

std::size_t diverged_runs(const data::CurveLog& log) {
    return static_cast<std::size_t>(std::count_if(
        log.runs.begin(), log.runs.end(), [](const data::CurveRun& r) { return r.diverged; }));
}
} // namespace

std::string curves_summary_text(const data::CurveLog& log, const std::vector<CurveGroup>& groups) {
    std::string out = fmt::format("\n{} ({}): {} runs, {} diverged", log.source, log.format,
                                  log.runs.size(), diverged_runs(log));
    if (log.format == "tensorboard")
        out += fmt::format(", {} invalid event files skipped, {} run directories not in --runs",
                           log.skipped_files, log.ignored_run_dirs);
    out += "\n";
    for (const std::string& reason : log.skipped_reasons)
        out += "  skipped: " + reason + "\n";
    if (!log.varying_fields.empty()) {
        std::string names;
        for (const std::string& f : log.varying_fields)
            names += (names.empty() ? "" : ", ") + f;
        out +=
            "  fields that change within a run (not hyper-parameters, not shown): " + names + "\n";
    }
    for (const CurveGroup& g : groups) {
        out += fmt::format("\ngroup {}: target {}", g.group, num(g.target));
        if (std::isfinite(g.r_opt))
            out += fmt::format(" (R_opt, the best loss by {} tokens: {})", num(g.budget),
                               num(g.r_opt));
        out += fmt::format("\n  {:>10} {:>12} {:>5} {:>8}  {}\n", "batch", "steps", "runs",
                           "diverged", "winning run (hyper-parameters)");
        for (const CurveWinner& w : g.winners) {
            std::string h;
            for (const auto& [key, value] : w.hparams)
                h += (h.empty() ? "" : " ") + key + "=" + value;
            out += fmt::format("  {:>10} {:>12} {:>5} {:>8}  {}{}\n", num(w.batch), num(w.steps),
                               w.runs, w.diverged, w.run.empty() ? "-" : w.run,
                               h.empty() ? "" : " (" + h + ")");
        }
    }
    return out;
}

data::Json curves_summary_json(const data::CurveLog& log, const std::vector<CurveGroup>& groups) {
    data::Json j;
    j["format"] = log.format;
    j["source"] = log.source;
    j["runs"] = log.runs.size();
    j["diverged"] = diverged_runs(log);
    j["skipped_files"] = log.skipped_files;
    j["skipped"] = log.skipped_reasons;
    j["ignored_run_dirs"] = log.ignored_run_dirs;
    j["varying_fields"] = log.varying_fields;
    j["groups"] = data::Json::array();
    for (const CurveGroup& g : groups) {
        data::Json jg;
        jg["group"] = g.group;
        jg["budget"] = json_number(g.budget);
        jg["r_opt"] = json_number(g.r_opt);
        jg["target"] = json_number(g.target);
        jg["winners"] = data::Json::array();
        for (const CurveWinner& w : g.winners)
            jg["winners"].push_back(
                {{"batch", w.batch},
                 {"steps", json_number(w.steps)},
                 {"run", w.run.empty() ? data::Json(nullptr) : data::Json(w.run)},
                 {"hparams", w.hparams},
                 {"runs", w.runs},
                 {"diverged", w.diverged}});
        j["groups"].push_back(std::move(jg));
    }
    return j; // written by data::json_line, which replaces invalid UTF-8 in names
}

data::Study curves_study(const data::CurveLog& log, const std::vector<CurveGroup>& groups,
                         const std::string& config_text) {
    data::Study study;
    study.meta.cbs_version = cbs_version();
    study.meta.git_sha = cbs_git_sha();
    study.meta.config = config_text;
    study.meta.created = data::utc_timestamp();
    std::size_t k = 0;
    for (const data::CurveRun& r : log.runs) {
        data::RunRecord rec;
        // Ids are unique and free of '/' (a TensorBoard run may be "a/b").
        std::string id = r.id;
        std::replace(id.begin(), id.end(), '/', '|');
        if (id == "." || id == "..") id = "run" + id;
        rec.id = fmt::format("{:05d} {}", k++, id);
        rec.attrs["run"] = r.id;
        rec.attrs["group"] = r.group;
        rec.attrs["batch"] = r.batch;
        rec.attrs["diverged"] = std::int64_t{r.diverged ? 1 : 0};
        for (const auto& [key, value] : r.hparams)
            rec.attrs["hparam." + key] = value;
        rec.step = r.step;
        for (std::size_t i = 0; i < r.step.size(); ++i)
            rec.samples.push_back(r.tokens.empty()
                                      ? static_cast<std::int64_t>(std::llround(r.step[i] * r.batch))
                                      : static_cast<std::int64_t>(std::llround(
                                            std::isfinite(r.tokens[i]) ? r.tokens[i] : -1.0)));
        rec.risk = r.loss;
        rec.risk_ewa = r.loss;
        study.runs.push_back(std::move(rec));
    }
    std::vector<EstimateRow> estimates;
    std::vector<std::string> series, group, family, winner, hparams;
    std::vector<double> n, m, batch, steps, runs, diverged;
    for (const CurveGroup& g : groups) {
        estimates.push_back({"curves", g.group, "curves", g.note, g.budget, kNaN, kNaN, g.target,
                             g.r_opt, g.measurable, g.cbs});
        for (const CurveWinner& w : g.winners) {
            series.push_back("curves");
            group.push_back(g.group);
            family.push_back("curves");
            n.push_back(g.budget);
            m.push_back(kNaN);
            batch.push_back(w.batch);
            steps.push_back(w.steps);
            winner.push_back(w.run);
            std::string h;
            for (const auto& [key, value] : w.hparams)
                h += (h.empty() ? "" : " ") + key + "=" + value;
            hparams.push_back(h);
            runs.push_back(w.runs);
            diverged.push_back(w.diverged);
        }
    }
    data::Table steps_table;
    steps_table.columns = {{"series", series}, {"group", group}, {"family", family}, {"n", n},
                           {"M", m},           {"batch", batch}, {"steps", steps}};
    steps_table.attrs["description"] = std::string(
        "curves: per group and batch size, the fewest steps to the target over the runs");
    data::Table winners;
    winners.columns = {{"group", group},      {"batch", batch},     {"steps", steps},
                       {"run", winner},       {"hparams", hparams}, {"runs", runs},
                       {"diverged", diverged}};
    winners.attrs["source"] = log.source;
    winners.attrs["format"] = log.format;
    winners.attrs["description"] = std::string(
        "curves: per group and batch size, the run with the fewest steps to the target and its "
        "hyper-parameters (run empty: none reached it)");
    study.tables["cbs/estimates"] = estimates_table(estimates);
    study.tables["cbs/steps"] = steps_table;
    study.tables["cbs/winners"] = winners;
    return study;
}

} // namespace cbs::exp
