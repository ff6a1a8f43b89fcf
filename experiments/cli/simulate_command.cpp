#include "experiments/cli/simulate_command.hpp"

#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/sweep.hpp"
#include "simulators/recursion_kernel.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>

namespace cbs::exp {

CLI::App* add_simulate_command(CLI::App& app, SimulateArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "simulate",
        "Run one simulation (exact risk recursion, Monte Carlo SGD or wide networks) and print its "
        "curve");
    cmd->add_option("config", args.config_path, "TOML file with configuration keys (optional)");
    cmd->add_option("--set", args.sets, "Override one key: --set key=value (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option(
        "--out", args.out_path,
        "Write the run to this HDF5 file (atomically; missing directories are created)");
    cmd->footer(keys_help());
    return cmd;
}

namespace {

void print_curve(const sim::SimOptions& o, const sim::Curve& c) {
    const bool mc = !c.risk_se.empty();
    const std::size_t n = c.step.size();
    if (n == 0) {
        fmt::print("(no recorded step before divergence)\n");
        return;
    }
    // At most ~12 rows, log-spaced over the recorded points, always including the last.
    std::vector<std::size_t> rows;
    const std::size_t max_rows = 12;
    for (std::size_t k = 0; k < max_rows; ++k) {
        const double x = std::pow(static_cast<double>(n), static_cast<double>(k) / (max_rows - 1));
        const std::size_t idx = std::min(n - 1, static_cast<std::size_t>(std::llround(x)) - 1);
        if (rows.empty() || idx > rows.back()) rows.push_back(idx);
    }
    if (mc)
        fmt::print("{:>12} {:>14} {:>24} {:>24}\n", "step", "samples", "risk (± se)",
                   "EWA risk (± se)");
    else
        fmt::print("{:>12} {:>14} {:>14} {:>14}\n", "step", "samples", "risk", "EWA risk");
    for (std::size_t i : rows) {
        if (mc)
            fmt::print("{:>12} {:>14} {:>13.6e} ±{:<9.2e} {:>13.6e} ±{:<9.2e}\n", c.step[i],
                       c.samples[i], c.risk[i], c.risk_se[i], c.risk_ewa[i], c.risk_ewa_se[i]);
        else
            fmt::print("{:>12} {:>14} {:>14.6e} {:>14.6e}\n", c.step[i], c.samples[i], c.risk[i],
                       c.risk_ewa[i]);
    }
    (void)o;
}

} // namespace

int run_simulate(const SimulateArgs& args) {
    ConfigEntries entries;
    if (!args.config_path.empty()) entries = load_toml_file(args.config_path);
    for (const std::string& s : args.sets)
        entries.push_back(parse_set_argument(s));
    const sim::SimOptions options = resolve_sim_options(entries);
    if (!args.out_path.empty()) {
        check_output_path(args.out_path);
        make_output_directory(args.out_path);
    }

    const auto start = std::chrono::steady_clock::now();
    const sim::Curve curve = simulate_any(options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const std::string model =
        std::isinf(options.model_size) ? "inf" : fmt::format("{}", options.model_size);
    fmt::print("cbs simulate: {} | a={} b={} sigma2={} M={} | B={} lr={} momentum={} ewa.decay={} "
               "p={} schedule={} | {} steps\n",
               sim::to_string(options.simulator), options.a, options.b, options.sigma2, model,
               options.batch, options.lr, options.momentum, options.ewa_decay,
               options.precond_power, sim::to_string(options.schedule), options.total_steps());
    if (options.samples > 0 && options.samples < options.batch)
        fmt::print("note: data.samples = {} < batch = {}: one step of {} samples (the last step is "
                   "always a whole batch; steps = ceil(n / B))\n",
                   options.samples, options.batch, options.batch);
    if (options.simulator == sim::SimulatorKind::recursion)
        fmt::print("recursion: {} grid points, kernel {}, {:.3f} s\n", curve.grid_points,
                   sim::step_kernel_name(), seconds);
    else if (options.simulator == sim::SimulatorKind::widenet)
        fmt::print("widenet: {} networks, width {}, depth {}, {} {}, {}, optimizer {}, task {}, "
                   "d = {}, {} held-out samples, {:.3f} s\n",
                   options.net.seeds, options.net.width, options.net.depth,
                   sim::to_string(options.net.activation), sim::to_string(options.net.param),
                   options.net.zero_readout ? "zero readout" : "random readout",
                   sim::to_string(options.net.optimizer), sim::to_string(options.net.task),
                   options.net.input_dim, options.net.eval_samples, seconds);
    else
        fmt::print("montecarlo: {} runs of dimension {}, {:.3f} s\n", options.mc_seeds, model,
                   seconds);
    if (curve.diverged)
        fmt::print("DIVERGED at step {} (risk non-finite or above {} x initial risk)\n",
                   curve.diverged_step, options.divergence_factor);
    if (options.target_risk > 0.0) {
        if (curve.target_step > 0)
            fmt::print("target EWA risk {} reached at step {} (interpolated {:.3f})\n",
                       options.target_risk, curve.target_step, curve.target_step_interp);
        else
            fmt::print("target EWA risk {} not reached in {} steps\n", options.target_risk,
                       options.total_steps());
    }
    print_curve(options, curve);

    if (!args.out_path.empty()) {
        data::Study study;
        study.meta = make_study_meta(to_toml(options));
        study.runs.push_back(make_run_record(options, curve));
        data::write_study(args.out_path, study);
        fmt::print("wrote {} (run {})\n", args.out_path, study.runs.front().id);
    }
    return 0;
}

} // namespace cbs::exp
