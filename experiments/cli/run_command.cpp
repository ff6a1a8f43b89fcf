#include "experiments/cli/run_command.hpp"

#include "data/json_writer.hpp"
#include "data/study_file.hpp"
#include "experiments/cbs_tables.hpp"
#include "experiments/lm_study.hpp"
#include "experiments/report.hpp"
#include "experiments/run_output.hpp"
#include "experiments/run_store.hpp"
#include "experiments/study.hpp"
#include "experiments/sweep.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <optional>

namespace cbs::exp {

using data::Json;
using data::json_line;
using data::json_number;

CLI::App* add_run_command(CLI::App& app, RunArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "run",
        "Run a CBS study: tune per batch size, measure steps to the target, estimate the CBS, "
        "fit it against data and model size, compare with theory");
    cmd->add_option("study", args.config_path, "Study TOML (default: the embedded default study)");
    cmd->add_option("--set", args.sets, "Override one key: --set key=value (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--out", args.out_path,
                    "Study file to write (HDF5, atomically); its directory is created if missing, "
                    "for the default and for any path given. Resumable: finished cells are kept "
                    "in FILE.cells.h5 until FILE is written, and rerunning the same command after "
                    "a kill continues from them")
        ->capture_default_str();
    cmd->add_flag("--json", args.json, "Print the results as JSON on stdout (see docs/json.md)");
    cmd->add_flag("--quiet", args.quiet, "No progress lines on stderr");
    cmd->add_option("--report", args.report_dir,
                    "Report directory (default: the --out path without .h5, plus -report; missing "
                    "parent directories are created)");
    cmd->add_flag("--no-report", args.no_report,
                  "Do not write the report (it needs python3-matplotlib; see `cbs report`)");
    cmd->add_flag("--print-default", args.print_default,
                  "Print the embedded default study and exit");
    cmd->footer(std::string("Study keys (see experiments/study.hpp): study.name, study.families "
                            "(sgd, momentum, ewa, momentum_ewa, uniform_average, tail_average), "
                            "study.batches, study.lr_grid, study.lr_refine, study.momentum_grid, "
                            "study.ewa_grid, study.horizon, study.target, study.target_value, "
                            "study.anchor, study.bootstrap, series.<name>.<simulation key>.\n"
                            "Run `cbs run --print-default` for the embedded study.\n"
                            "A study file whose base sets simulator = \"lm\" is a language-model "
                            "study instead: its list values are sweep axes (as in `cbs sweep`), "
                            "runs are measured per model size and data budget and the CBS fitted "
                            "against both (experiments/lm_study.hpp, experiments/studies/"
                            "lm_cpu.toml). With data.budgets = [D1, ...] one training per "
                            "(model, batch, lr) serves every budget (experiments/studies/"
                            "lm_cpu_study.toml, docs/results-lm.md).\n"));
    return cmd;
}

namespace {

std::string number_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.4g}", v);
}

/// Hidden width N of a wide-network group; NaN for the least-squares simulators.
double network_width(const sim::SimOptions& o) {
    return o.simulator == sim::SimulatorKind::widenet ? static_cast<double>(o.net.width)
                                                      : std::numeric_limits<double>::quiet_NaN();
}

data::Table steps_table(const StudyResult& r) {
    std::vector<std::string> series, group, family;
    std::vector<double> n, m, batch, steps, lr, momentum, ewa, budget_risk;
    for (const GroupResult& g : r.groups)
        for (const BatchResult& b : g.batches) {
            series.push_back(g.series);
            group.push_back(g.label);
            family.push_back(to_string(g.family));
            n.push_back(static_cast<double>(g.options.samples));
            m.push_back(g.options.model_size);
            batch.push_back(static_cast<double>(b.batch));
            steps.push_back(b.steps);
            lr.push_back(b.lr);
            momentum.push_back(b.momentum);
            ewa.push_back(b.ewa_decay);
            budget_risk.push_back(b.budget_risk);
        }
    data::Table t;
    t.columns = {{"series", series},
                 {"group", group},
                 {"family", family},
                 {"n", n},
                 {"M", m},
                 {"batch", batch},
                 {"steps", steps},
                 {"lr", lr},
                 {"momentum", momentum},
                 {"ewa_decay", ewa},
                 {"budget_risk_ewa", budget_risk}};
    t.attrs["description"] = std::string(
        "per group and batch size: fewest steps to the target EWA risk (inf = never within the "
        "horizon) and the hyper-parameters that achieved it; budget_risk_ewa = best EWA risk after "
        "n");
    return t;
}

data::Table estimates_table(const StudyResult& r) {
    std::vector<EstimateRow> rows;
    for (const GroupResult& g : r.groups)
        rows.push_back({g.series, g.label, to_string(g.family), g.note,
                        static_cast<double>(g.options.samples), g.options.model_size,
                        network_width(g.options), g.target, g.r_opt, g.measurable, g.cbs});
    return exp::estimates_table(rows);
}

data::Table fits_table(const StudyResult& r) {
    std::vector<FitRow> rows;
    for (const FitResult& f : r.fits)
        rows.push_back({f.series, to_string(f.family), f.variable, f.fit, f.predicted});
    return exp::fits_table(rows);
}

void print_summary(const StudySpec& spec, const StudyResult& r) {
    fmt::print("cbs run: study '{}': {} groups, {} simulations, {:.1f} s\n\n", spec.name,
               r.groups.size(), r.runs, r.seconds);
    fmt::print("{:<8} {:<22} {:<13} {:>10} {:>7} {:>9} {:>19} {:>9} {:>9} {:>9} {:>8}\n", "series",
               "group", "family", "R_opt", "B_opt", "CBS", "95% interval", "direct", "b/(5a)",
               "B_noise", "k*");
    for (const GroupResult& g : r.groups) {
        if (!g.measurable) {
            fmt::print("{:<8} {:<22} {:<13} {:>10} not measurable: {}\n", g.series, g.label,
                       to_string(g.family), number_text(g.r_opt), g.note);
            continue;
        }
        const CbsEstimates& c = g.cbs;
        fmt::print("{:<8} {:<22} {:<13} {:>10} {:>7} {:>9} {:>19} {:>9} {:>9} {:>9} {:>8}\n",
                   g.series, g.label, to_string(g.family), number_text(g.r_opt),
                   number_text(c.b_opt), number_text(c.study),
                   "[" + number_text(c.study_ci.low) + ", " + number_text(c.study_ci.high) + "]",
                   number_text(c.direct), number_text(c.anchor_zero), number_text(c.b_noise),
                   number_text(g.k_star));
    }
    fmt::print("(k* = (lr_eff n / B_opt)^(1/a): coordinates learned at the optimum; a model with "
               "M below ~k* saturates and its CBS departs from the M = inf value)\n");
    if (r.fits.empty()) return;
    fmt::print("\n{:<8} {:<13} {:<13} {:>9} {:>19} {:>10}   {}\n", "series", "family", "fit",
               "exponent", "95% interval", "predicted", "local slopes");
    for (const FitResult& f : r.fits) {
        std::string slopes;
        for (double s : f.local)
            slopes += number_text(s) + " ";
        const std::string what = f.variable == "data.samples" ? "CBS vs n"
                                 : f.variable == "model.size" ? "CBS vs M"
                                 : f.variable == "net.width"  ? "CBS vs N"
                                 : f.variable == "r_opt"      ? "R_opt vs n"
                                                              : "T* vs n";
        fmt::print("{:<8} {:<13} {:<13} {:>9.3f} {:>19} {:>10}   {}\n", f.series,
                   to_string(f.family), what, f.fit.alpha,
                   fmt::format("[{:.3f}, {:.3f}]", f.fit.alpha_low, f.fit.alpha_high),
                   number_text(f.predicted), slopes);
    }
    // Which prediction applies to which family (docs/averaging.md).
    std::string saturating, forgetting;
    for (Family f : spec.families) {
        std::string& list = family_saturates(f) ? saturating : forgetting;
        list += (list.empty() ? "" : ", ") + std::string(to_string(f));
    }
    fmt::print("(predicted CBS vs n: 1 - a/min(b, 2a+1) for {}; 1 - a/b for {}: the bias of "
               "averages that forget the early iterates does not saturate at b = 2a+1, "
               "docs/averaging.md)\n",
               saturating.empty() ? "none of these families" : saturating,
               forgetting.empty() ? "none of these families" : forgetting);
}

void print_json(const StudySpec& spec, const StudyResult& r) {
    Json groups = Json::array();
    for (const GroupResult& g : r.groups) {
        const CbsEstimates& c = g.cbs;
        Json group = {{"series", g.series},
                      {"group", g.label},
                      {"family", to_string(g.family)},
                      {"n", g.options.samples},
                      {"M", json_number(g.options.model_size)},
                      {"target", json_number(g.target)},
                      {"r_opt", json_number(g.r_opt)},
                      {"measurable", g.measurable}};
        if (g.measurable) {
            CbsJson j = cbs_estimates_json(c);
            group["b_opt"] = std::move(j.b_opt);
            group["fit"] = std::move(j.fit);
            group["cbs"] = std::move(j.cbs);
        }
        Json batches = Json::array();
        for (const BatchResult& b : g.batches)
            batches.push_back({{"batch", b.batch},
                               {"steps", json_number(b.steps)},
                               {"lr", json_number(b.lr)},
                               {"momentum", json_number(b.momentum)},
                               {"ewa_decay", json_number(b.ewa_decay)}});
        group["batches"] = std::move(batches);
        groups.push_back(std::move(group));
    }
    Json fits = Json::array();
    for (const FitResult& f : r.fits)
        fits.push_back(
            {{"series", f.series},
             {"family", to_string(f.family)},
             {"variable", f.variable},
             {"exponent", json_number(f.fit.alpha)},
             {"exponent_ci", {json_number(f.fit.alpha_low), json_number(f.fit.alpha_high)}},
             {"predicted", json_number(f.predicted)},
             {"c", json_number(f.fit.c)},
             {"r2", json_number(f.fit.r2)}});
    fmt::print("{}\n", json_line({{"study", spec.name},
                                  {"seconds", r.seconds},
                                  {"simulations", r.runs},
                                  {"groups", std::move(groups)},
                                  {"fits", std::move(fits)}}));
}

/// The report of the study file `cbs run` just wrote (unless --no-report).
void write_study_report(const RunArgs& args) {
    if (args.no_report) return;
    std::string dir = args.report_dir;
    if (dir.empty()) {
        const std::filesystem::path out(args.out_path);
        dir = (out.parent_path() / (out.stem().string() + "-report")).string();
    }
    // The summary (stdout, block-buffered when redirected) goes out before the report's line on
    // stderr, so a combined log (`cbs run > log 2>&1`) does not interleave them mid-line.
    std::fflush(stdout);
    try {
        write_report({{args.out_path}, dir, args.quiet});
    } catch (const UserError& e) {
        throw UserError("wrote " + args.out_path + ", but not its report: " + e.what());
    }
    if (!args.json) fmt::print("wrote {}\n", (std::filesystem::path(dir) / "report.html").string());
}

/// `cbs run` of a language-model study (experiments/lm_study.hpp).
int run_lm_run(const RunArgs& args, const ConfigEntries& entries) {
    std::string config = "# cbs run: language-model study (list values are sweep axes)\n";
    for (const ConfigEntry& e : entries)
        config += config::setting_line(e);
    check_output_path(args.out_path);
    const LmStudyResult r = run_lm_study(entries, config, args.out_path, 400, args.quiet);
    if (args.json) {
        Json groups = Json::array();
        for (const auto& group : r.groups) {
            const MeasuredGroup& m = group.measured;
            groups.push_back({{"group", m.label},
                              {"tokens", group.tokens},
                              {"parameters", group.parameters},
                              {"r_opt", json_number(m.target)},
                              {"measurable", m.measurable},
                              {"cbs", json_number(m.measurable ? m.cbs.study : NAN)},
                              {"cbs_ci",
                               {json_number(m.measurable ? m.cbs.study_ci.low : NAN),
                                json_number(m.measurable ? m.cbs.study_ci.high : NAN)}}});
        }
        fmt::print("{}\n", json_line({{"study", "lm"},
                                      {"seconds", r.seconds},
                                      {"trainings", r.runs},
                                      {"groups", std::move(groups)}}));
    } else {
        fmt::print("{}\nwrote {}\n", lm_study_summary(r), args.out_path);
    }
    write_study_report(args);
    return 0;
}

} // namespace

int run_run_command(const RunArgs& args) {
    if (args.print_default) {
        fmt::print("{}", default_study_toml());
        return 0;
    }
    ConfigEntries entries = args.config_path.empty()
                                ? parse_toml(default_study_toml(), "default study")
                                : load_toml_file(args.config_path);
    for (const std::string& s : args.sets)
        entries.push_back(parse_set_argument(s));
    if (is_lm_study(entries)) return run_lm_run(args, entries);
    const StudySpec spec = parse_study(entries);
    check_output_path(args.out_path);
    make_output_directory(args.out_path);

    // Finished cells go to OUT.cells.h5 as they finish, so a killed study resumes where it
    // stopped when the same command is run again (study.hpp, "Resuming"); it is deleted once
    // the study file is written.
    const std::string cells_path = args.out_path + ".cells.h5";
    std::optional<RunStore> cells;
    cells.emplace(cells_path, spec.config_text);
    const StudyResult result = run_study(
        spec,
        [&](const std::string& line) {
            if (!args.quiet) fmt::print(stderr, "cbs run: {}\n", line);
        },
        &*cells);

    data::Study study;
    study.meta = make_study_meta(spec.config_text);
    // The winning run of every group and batch size, re-simulated to the data budget with its
    // curve recorded (60 log-spaced points), so reports can show the curves.
    for (const GroupResult& g : result.groups)
        for (const BatchResult& b : g.batches) {
            if (!(b.lr > 0)) continue;
            sim::SimOptions o = g.options;
            o.batch = b.batch;
            o.lr = b.lr;
            o.momentum = b.momentum;
            o.ewa_decay = b.ewa_decay;
            o.record_points = 60;
            data::RunRecord run = make_run_record(o, simulate_any(o));
            run.attrs["study.series"] = g.series;
            run.attrs["study.group"] = g.label;
            run.attrs["study.family"] = std::string(to_string(g.family));
            run.attrs["study.steps_to_target"] = b.steps;
            if (std::none_of(study.runs.begin(), study.runs.end(),
                             [&](const data::RunRecord& x) { return x.id == run.id; }))
                study.runs.push_back(std::move(run));
        }
    study.tables["cbs/steps"] = steps_table(result);
    study.tables["cbs/estimates"] = estimates_table(result);
    study.tables["fits/cbs"] = fits_table(result);
    data::write_study(args.out_path, study);
    cells.reset();
    remove_run_store(cells_path);

    if (args.json)
        print_json(spec, result);
    else {
        print_summary(spec, result);
        fmt::print("\nwrote {}\n", args.out_path);
    }
    write_study_report(args);
    return 0;
}

} // namespace cbs::exp
