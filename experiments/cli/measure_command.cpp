#include "experiments/cli/measure_command.hpp"

#include "data/json_writer.hpp"
#include "data/study_file.hpp"
#include "experiments/cbs_estimators.hpp"
#include "experiments/cbs_tables.hpp"
#include "experiments/curve_measure.hpp"
#include "experiments/lm_study.hpp"
#include "experiments/measure.hpp"
#include "experiments/scaling_fits.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace cbs::exp {

using data::Json;
using data::json_line;
using data::json_number;

namespace {

std::string num(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.6g}", v);
}

struct Row {
    std::string group;
    double target;
    bool measurable;
    std::string note;
    CbsEstimates cbs;
};

void print_rows(const std::vector<Row>& rows, bool json, const Json& curves = nullptr) {
    if (json) {
        Json groups = Json::array();
        for (const Row& r : rows) {
            Json g = {{"group", r.group},
                      {"target", json_number(r.target)},
                      {"measurable", r.measurable}};
            if (r.measurable) {
                const CbsEstimates& c = r.cbs;
                CbsJson j = cbs_estimates_json(c);
                g["b_opt"] = std::move(j.b_opt);
                g["fit"] = std::move(j.fit);
                Json cbs = std::move(j.cbs);
                for (const auto& [theta, v] : c.study_by_threshold)
                    cbs[fmt::format("study_{}", std::lround(theta * 100))] = json_number(v);
                for (const auto& [theta, v] : c.direct_by_threshold)
                    cbs[fmt::format("direct_{}", std::lround(theta * 100))] = json_number(v);
                g["cbs"] = std::move(cbs);
            } else {
                g["note"] = r.note;
            }
            groups.push_back(std::move(g));
        }
        Json doc = {{"groups", std::move(groups)}};
        if (!curves.is_null()) doc["curves"] = curves; // other trainers' curves only
        fmt::print("{}\n", json_line(doc));
        return;
    }
    fmt::print("{:<34} {:>8} {:>10} {:>10} {:>10} {:>21} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
               "group", "B_opt", "a", "b", "CBS", "95% interval", "direct", "b/(5a)", "B_noise",
               "CBS@10%", "CBS@50%");
    for (const Row& r : rows) {
        if (!r.measurable) {
            fmt::print("{:<34} not measurable: {}\n", r.group, r.note);
            continue;
        }
        const CbsEstimates& c = r.cbs;
        auto at = [](const std::map<double, double>& m, double t) {
            const auto it = m.find(t);
            return it == m.end() ? std::nan("") : it->second;
        };
        fmt::print("{:<34} {:>8} {:>10} {:>10} {:>10} {:>21} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                   r.group, num(c.b_opt), num(c.fit.a), num(c.fit.b), num(c.study),
                   "[" + num(c.study_ci.low) + ", " + num(c.study_ci.high) + "]", num(c.direct),
                   num(c.anchor_zero), num(c.b_noise), num(at(c.study_by_threshold, 0.1)),
                   num(at(c.study_by_threshold, 0.5)));
    }
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

void add_curve_options(CLI::App* cmd, double& target, double& budget, std::string& tag,
                       std::string& runs, bool& skip_invalid) {
    cmd->add_option("--target", target,
                    "curves: fixed target loss (0 = R_opt, the best loss by the token budget)")
        ->capture_default_str();
    cmd->add_option("--budget", budget,
                    "curves: token budget D of R_opt for every group (0 = the `budget` column)")
        ->capture_default_str();
    cmd->add_option("--tag", tag, "TensorBoard: the scalar's tag (e.g. val/loss)");
    cmd->add_option("--runs", runs,
                    "TensorBoard: runs table, CSV run,batch[,group,budget,tokens_per_step,...]");
    cmd->add_flag("--skip-invalid", skip_invalid,
                  "TensorBoard: skip (and count) corrupt or truncated event files");
}

CLI::App* add_measure_command(CLI::App& app, MeasureArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "measure", "CBS per group from a study file's curves (cbs sweep output), a CSV of "
                   "group,batch,steps, or other trainers' curves (long CSV run,batch,step,loss; "
                   "JSON lines; a TensorBoard directory: docs/logs.md): the study's a + b/B "
                   "estimator, the direct 20% rule, b/(5a), B_noise, 10%/50% thresholds, "
                   "bootstrap intervals");
    cmd->add_option("input", args.input,
                    "study file (.h5), CSV with header group,batch,steps, curve CSV (header "
                    "run,batch,step,loss[,group,tokens,budget,...]), JSON lines (.jsonl), or a "
                    "TensorBoard log directory")
        ->required();
    cmd->add_option("--anchor", args.anchor,
                    "B_opt (0 = smallest batch size that reached the target)")
        ->capture_default_str();
    cmd->add_option("--bootstrap", args.bootstrap, "bootstrap resamples")->capture_default_str();
    cmd->add_option("--target-multiple", args.target_multiple,
                    "study files and curves: target = this multiple of R_opt")
        ->capture_default_str();
    add_curve_options(cmd, args.target, args.budget, args.tag, args.runs, args.skip_invalid);
    cmd->add_flag("--json", args.json, "print the results as JSON");
    return cmd;
}

int run_measure_command(const MeasureArgs& args) {
    if (args.anchor < 0) throw UserError(fmt::format("--anchor {}: must be >= 0", args.anchor));
    if (args.bootstrap < 0)
        throw UserError(fmt::format("--bootstrap {}: must be >= 0", args.bootstrap));
    if (!(args.target_multiple > 0))
        throw UserError(fmt::format("--target-multiple {}: must be > 0", args.target_multiple));
    std::vector<Row> rows;
    if (is_curve_input(args.input)) {
        const data::CurveLog log =
            read_curve_input(args.input, {args.tag, args.runs, args.skip_invalid});
        const std::vector<CurveGroup> groups = measure_curves(
            log, {args.target, args.budget, args.target_multiple, args.anchor, args.bootstrap});
        for (const CurveGroup& g : groups)
            rows.push_back({g.group, g.target, g.measurable, g.note, g.cbs});
        if (args.json) {
            print_rows(rows, true, curves_summary_json(log, groups));
        } else {
            print_rows(rows, false);
            fmt::print("{}", curves_summary_text(log, groups));
        }
        return 0;
    }
    if (args.target != 0 || args.budget != 0 || !args.tag.empty() || !args.runs.empty() ||
        args.skip_invalid)
        throw UserError(fmt::format("--target, --budget, --tag, --runs and --skip-invalid apply "
                                    "to curves (docs/logs.md); '{}' is a study file or a steps "
                                    "CSV",
                                    args.input));
    if (ends_with(args.input, ".csv")) {
        std::uint64_t seed = 1;
        for (const auto& [group, points] : read_steps_csv(args.input)) {
            Row r{group, std::nan(""), false, "", {}};
            const auto finite =
                std::count_if(points.begin(), points.end(),
                              [](const BatchPoint& p) { return std::isfinite(p.steps); });
            if (finite < 2) {
                r.note = "fewer than 2 finite steps";
            } else {
                r.cbs = estimate_cbs(points, args.anchor, args.bootstrap, seed++);
                r.measurable = true;
            }
            rows.push_back(std::move(r));
        }
    } else {
        data::Study study = data::read_study(args.input);
        if (study.runs.empty())
            throw UserError(fmt::format("'{}': the study file holds no runs", args.input));
        // LM runs with data.budgets serve each of their budgets, measured as `cbs run` does
        // (experiments/lm_study.hpp): R_opt(D) is then the best loss reached by D tokens.
        const std::size_t stored = study.runs.size();
        study.runs = expand_budgets(study.runs);
        const bool shared_budgets = study.runs.size() != stored;
        for (const MeasuredGroup& g : measure_study(study, args.anchor, args.bootstrap,
                                                    args.target_multiple, shared_budgets))
            rows.push_back({g.label, g.target, g.measurable, g.note, g.cbs});
    }
    print_rows(rows, args.json);
    return 0;
}

CLI::App* add_fit_command(CLI::App& app, FitArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "fit",
        "Power-law fit y = c x^alpha (CSV header x,y) or y = c n^alpha m^gamma (header n,m,y), "
        "least squares in logs, 95% intervals, optional forecasts");
    cmd->add_option("input", args.input, "CSV file")->required();
    cmd->add_option("--forecast", args.forecasts, "x values to forecast y at (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_flag("--json", args.json, "print the results as JSON");
    return cmd;
}

int run_fit_command(const FitArgs& args) {
    std::ifstream in(args.input);
    if (!in)
        throw UserError(fmt::format("cannot read '{}': no such file or not readable", args.input));
    std::string header;
    std::getline(in, header);
    header.erase(std::remove_if(header.begin(), header.end(), ::isspace), header.end());
    const bool joint = header == "n,m,y";
    if (!joint && header != "x,y")
        throw UserError(fmt::format("{}:1: header '{}': must be x,y or n,m,y", args.input, header));
    std::vector<double> x, m, y;
    std::string line;
    int line_no = 1;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::stringstream ss(line);
        std::string cell;
        std::vector<double> values;
        while (std::getline(ss, cell, ',')) {
            char* end = nullptr;
            const double v = std::strtod(cell.c_str(), &end);
            while (end && (*end == ' ' || *end == '\r'))
                ++end;
            if (cell.empty() || end == cell.c_str() || *end != '\0')
                throw UserError(
                    fmt::format("{}:{}: '{}' is not a number", args.input, line_no, cell));
            values.push_back(v);
        }
        if (values.size() != (joint ? 3u : 2u))
            throw UserError(fmt::format("{}:{}: expected {} columns, got {}", args.input, line_no,
                                        joint ? 3 : 2, values.size()));
        x.push_back(values[0]);
        if (joint) m.push_back(values[1]);
        y.push_back(values.back());
    }
    if (joint) {
        const JointPowerLawFit f = fit_joint_power_law(x, m, y);
        if (args.json)
            fmt::print(
                "{}\n",
                json_line({{"c", json_number(f.c)},
                           {"alpha", json_number(f.alpha)},
                           {"alpha_ci", {json_number(f.alpha_low), json_number(f.alpha_high)}},
                           {"gamma", json_number(f.gamma)},
                           {"gamma_ci", {json_number(f.gamma_low), json_number(f.gamma_high)}},
                           {"r2", json_number(f.r2)},
                           {"points", f.points}}));
        else
            fmt::print("y = {:.6g} * n^{:.4f} [{:.4f}, {:.4f}] * m^{:.4f} [{:.4f}, {:.4f}]   (R^2 "
                       "{:.4f}, {} points)\n",
                       f.c, f.alpha, f.alpha_low, f.alpha_high, f.gamma, f.gamma_low, f.gamma_high,
                       f.r2, f.points);
        return 0;
    }
    const PowerLawFit f = fit_power_law(x, y);
    std::string forecasts;
    Json forecasts_json = Json::array();
    for (double at : args.forecasts) {
        if (!(at > 0)) throw UserError(fmt::format("--forecast {}: must be > 0", at));
        const Forecast fc = forecast(f, x, at);
        if (args.json)
            forecasts_json.push_back({{"x", at},
                                      {"y", json_number(fc.value)},
                                      {"low", json_number(fc.low)},
                                      {"high", json_number(fc.high)}});
        else
            forecasts += fmt::format("  forecast at x = {}: {:.6g} [{:.6g}, {:.6g}]\n", at,
                                     fc.value, fc.low, fc.high);
    }
    if (args.json)
        fmt::print("{}\n",
                   json_line({{"c", json_number(f.c)},
                              {"alpha", json_number(f.alpha)},
                              {"alpha_ci", {json_number(f.alpha_low), json_number(f.alpha_high)}},
                              {"alpha_se", json_number(f.alpha_se)},
                              {"r2", json_number(f.r2)},
                              {"points", f.points},
                              {"forecasts", std::move(forecasts_json)}}));
    else
        fmt::print("y = {:.6g} * x^{:.4f}   alpha 95% interval [{:.4f}, {:.4f}], R^2 {:.4f}, {} "
                   "points\n{}",
                   f.c, f.alpha, f.alpha_low, f.alpha_high, f.r2, f.points, forecasts);
    return 0;
}

} // namespace cbs::exp
