// `cbs coord-check` (see coord_check_command.hpp). The simulation keys are those of
// `cbs simulate` with simulator = widenet implied; net.width and net.param come from --widths and
// --params.
#include "experiments/cli/coord_check_command.hpp"

#include "data/json_writer.hpp"
#include "data/study_file.hpp"
#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "simulators/coord_check.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cbs::exp {

using data::Json;
using data::json_line;
using data::json_number;

CLI::App* add_coord_check_command(CLI::App& app, CoordCheckArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "coord-check",
        "μP coordinate check: mean |activation| per layer after a few steps, across widths "
        "(flat under mup, growing under sp)");
    cmd->add_option("config", args.config_path,
                    "TOML file with simulation keys (simulator = widenet implied; optional)");
    cmd->add_option("--set", args.sets, "Override one key: --set key=value (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--widths", args.widths, "Widths N to train")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--params", args.params, "Parameterizations: mup, sp, ntk")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--steps", args.steps, "Optimizer steps before measuring (k)")
        ->capture_default_str();
    cmd->add_flag("--json", args.json, "Print the table as JSON on stdout");
    cmd->add_option("--out", args.out_path,
                    "Write the table to this HDF5 file as /cbs/coord_check (atomically; missing "
                    "directories are created)");
    cmd->footer(fmt::format(
        "Keys: the simulation keys of `cbs simulate --help` that widenet reads (net.*, lr, "
        "batch, optimizer, spectrum.*, ...). Defaults are those of `cbs simulate` except "
        "simulator = widenet and lr = {} (the simulators' 0.5 blows up μP networks of some "
        "widths within 10 steps); net.base_width is the width at which all parameterizations "
        "agree.\n"
        "A width whose network blows up (a non-finite mean |activation|) is shown as "
        "`diverged` (JSON: \"diverged\": true, values null; HDF5: NaN) and left out of the "
        "max/min summary, with a warning on stderr naming it.",
        kCoordCheckDefaultLr));
    return cmd;
}

int run_coord_check_command(const CoordCheckArgs& args) {
    ConfigEntries entries{{"simulator", "widenet", "coord-check"},
                          {"lr", kCoordCheckDefaultLr, "coord-check default"}};
    if (!args.config_path.empty()) {
        const ConfigEntries file = load_toml_file(args.config_path);
        entries.insert(entries.end(), file.begin(), file.end());
    }
    for (const std::string& s : args.sets)
        entries.push_back(parse_set_argument(s));
    const sim::SimOptions options = resolve_sim_options(entries);
    if (options.simulator != sim::SimulatorKind::widenet)
        throw UserError(fmt::format("`simulator` = {}: coord-check needs simulator = widenet",
                                    sim::to_string(options.simulator)));
    if (args.widths.empty()) throw UserError("--widths: needs at least one width");
    for (std::int64_t w : args.widths) {
        sim::SimOptions check = options;
        check.net.width = w;
        if (w < 2 || w > 16384)
            throw UserError(fmt::format("--widths {}: every width must be in [2, 16384]", w));
        check.validate();
    }
    if (args.steps < 1 || args.steps > 100000)
        throw UserError(fmt::format("--steps {}: must be an integer in [1, 100000]", args.steps));
    std::vector<sim::Parameterization> params;
    for (const std::string& p : args.params)
        params.push_back(sim::parse_parameterization("--params", p));
    if (params.empty()) throw UserError("--params: needs at least one parameterization");
    if (!args.out_path.empty()) {
        check_output_path(args.out_path);
        make_output_directory(args.out_path);
    }

    const auto start = std::chrono::steady_clock::now();
    const std::vector<sim::CoordCheckRow> rows =
        sim::coord_check(options, args.widths, params, args.steps);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::vector<std::string> layers = sim::coord_check_layers(options.net.depth);

    // Per parameterization and layer: max / min over the widths whose value after k steps is
    // finite; widths with a non-finite value in any layer diverged and are named in a warning.
    const auto finite_row = [](const sim::CoordCheckRow& r) {
        return std::all_of(r.mean_abs.begin(), r.mean_abs.end(),
                           [](double v) { return std::isfinite(v); });
    };
    struct Summary {
        std::vector<double> spread;         ///< per layer; NaN if no width is finite
        std::vector<std::int64_t> finite;   ///< widths whose every layer is finite
        std::vector<std::int64_t> diverged; ///< the others
    };
    std::vector<Summary> summaries;
    for (sim::Parameterization p : params) {
        Summary s;
        for (std::size_t l = 0; l < layers.size(); ++l) {
            double lo = INFINITY, hi = 0.0;
            for (const auto& r : rows)
                if (r.param == p && r.step == args.steps && std::isfinite(r.mean_abs[l])) {
                    lo = std::min(lo, r.mean_abs[l]);
                    hi = std::max(hi, r.mean_abs[l]);
                }
            s.spread.push_back(std::isfinite(lo) ? hi / lo : NAN);
        }
        for (const auto& r : rows)
            if (r.param == p && r.step == args.steps)
                (finite_row(r) ? s.finite : s.diverged).push_back(r.width);
        summaries.push_back(std::move(s));
    }
    const auto width_list = [](const std::vector<std::int64_t>& widths) {
        return fmt::format("{}", fmt::join(widths, ", "));
    };
    std::string diverged_text;
    for (std::size_t i = 0; i < params.size(); ++i)
        if (!summaries[i].diverged.empty())
            diverged_text += fmt::format(
                "{}{} width{} {}", diverged_text.empty() ? "" : "; ", sim::to_string(params[i]),
                summaries[i].diverged.size() > 1 ? "s" : "", width_list(summaries[i].diverged));
    if (args.json) {
        Json out = {{"steps", args.steps}, {"layers", layers}, {"rows", Json::array()}};
        for (const auto& row : rows) {
            Json mean_abs = Json::array();
            for (std::size_t l = 0; l < layers.size(); ++l)
                mean_abs.push_back(json_number(row.mean_abs[l]));
            out["rows"].push_back({{"param", sim::to_string(row.param)},
                                   {"width", row.width},
                                   {"step", row.step},
                                   {"diverged", !finite_row(row)},
                                   {"mean_abs", std::move(mean_abs)}});
        }
        out["summary"] = Json::array();
        for (std::size_t i = 0; i < params.size(); ++i) {
            const Summary& s = summaries[i];
            Json spread = Json::array();
            for (std::size_t l = 0; l < layers.size(); ++l)
                spread.push_back(json_number(s.spread[l]));
            out["summary"].push_back({{"param", sim::to_string(params[i])},
                                      {"max_over_min", std::move(spread)},
                                      {"widths", s.finite},
                                      {"diverged_widths", s.diverged}});
        }
        out["lr"] = json_number(options.lr);
        fmt::print("{}\n", json_line(out));
    } else {
        fmt::print("cbs coord-check: depth {} {} d = {}, optimizer {}, lr {}, batch {}, base width "
                   "{}, {} network(s) per width, {} steps, {:.1f} s\n",
                   options.net.depth, sim::to_string(options.net.activation), options.net.input_dim,
                   sim::to_string(options.net.optimizer), options.lr, options.batch,
                   options.net.base_width, options.net.seeds, args.steps, seconds);
        fmt::print("mean |activation| per layer (h_l = hidden layer l, out = network output)\n");
        fmt::print("{:<6} {:>7} {:>6}", "param", "width", "step");
        for (const std::string& name : layers)
            fmt::print(" {:>11}", name);
        fmt::print("\n");
        for (const auto& r : rows) {
            fmt::print("{:<6} {:>7} {:>6}", sim::to_string(r.param), r.width, r.step);
            for (double v : r.mean_abs) {
                if (std::isfinite(v))
                    fmt::print(" {:>11.4g}", v);
                else
                    fmt::print(" {:>11}", "diverged");
            }
            fmt::print("\n");
        }
        fmt::print("max/min over widths after {} steps{}:\n", args.steps,
                   diverged_text.empty() ? "" : " (finite widths only)");
        for (std::size_t i = 0; i < params.size(); ++i) {
            const Summary& s = summaries[i];
            fmt::print("{:<6}", sim::to_string(params[i]));
            if (s.finite.empty()) {
                fmt::print(" every width diverged\n");
                continue;
            }
            for (std::size_t l = 0; l < layers.size(); ++l)
                fmt::print(" {}={:.3g}", layers[l], s.spread[l]);
            if (!s.diverged.empty())
                fmt::print("   (widths {}; diverged: {})", width_list(s.finite),
                           width_list(s.diverged));
            fmt::print("\n");
        }
    }
    if (!diverged_text.empty()) {
        std::fflush(stdout); // the table first in a combined log
        fmt::print(stderr,
                   "cbs coord-check: warning: diverged after {} steps at lr {} (left out of the "
                   "max/min summary): {}\n",
                   args.steps, options.lr, diverged_text);
    }

    if (!args.out_path.empty()) {
        data::Table table;
        std::vector<std::string> param;
        std::vector<double> width, step;
        std::vector<std::vector<double>> values(layers.size());
        for (const auto& r : rows) {
            param.push_back(sim::to_string(r.param));
            width.push_back(static_cast<double>(r.width));
            step.push_back(static_cast<double>(r.step));
            for (std::size_t l = 0; l < layers.size(); ++l)
                values[l].push_back(r.mean_abs[l]);
        }
        table.columns = {{"param", param}, {"width", width}, {"step", step}};
        for (std::size_t l = 0; l < layers.size(); ++l)
            table.columns.emplace_back(layers[l], values[l]);
        table.attrs["description"] = std::string(
            "mean |activation| per layer (h1..hL post-activation, out = output) at step 0 and "
            "after `steps` updates, averaged over net.seeds networks and the probe inputs");
        table.attrs["steps"] = args.steps;
        data::Study study;
        study.meta = make_study_meta(to_toml(options));
        study.tables["cbs/coord_check"] = std::move(table);
        data::write_study(args.out_path, study);
        if (!args.json) fmt::print("wrote {} (/cbs/coord_check)\n", args.out_path);
    }
    return 0;
}

} // namespace cbs::exp
