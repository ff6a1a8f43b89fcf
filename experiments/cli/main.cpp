// The `cbs` command-line tool: one executable, one subcommand per job (DESIGN.md).
// Exit codes: 0 success, 2 bad input (one-line message on stderr), 1 internal error.
#include "experiments/cli/advise_command.hpp"
#include "experiments/cli/coord_check_command.hpp"
#include "experiments/cli/measure_command.hpp"
#include "experiments/cli/omp_wait_policy.hpp"
#include "experiments/cli/prepare_data_command.hpp"
#include "experiments/cli/report_command.hpp"
#include "experiments/cli/run_command.hpp"
#include "experiments/cli/simulate_command.hpp"
#include "experiments/cli/sweep_command.hpp"
#include "experiments/cli/train_lm_command.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <fmt/format.h>

int main(int argc, char** argv) {
    CLI::App app{
        "cbs: the critical-batch-size toolkit. Simulates SGD on power-law least squares "
        "(exact risk recursion, Monte Carlo) to measure how the critical batch size scales."};
    app.set_version_flag("--version",
                         "cbs " + cbs::exp::cbs_version() + " (" + cbs::exp::cbs_git_sha() + ")");
    app.require_subcommand(1);

    cbs::exp::SimulateArgs simulate_args;
    CLI::App* simulate = cbs::exp::add_simulate_command(app, simulate_args);
    cbs::exp::RunArgs run_args;
    CLI::App* run = cbs::exp::add_run_command(app, run_args);
    cbs::exp::SweepArgs sweep_args;
    CLI::App* sweep = cbs::exp::add_sweep_command(app, sweep_args);
    cbs::exp::MergeArgs merge_args;
    CLI::App* merge = cbs::exp::add_merge_command(app, merge_args);
    cbs::exp::MeasureArgs measure_args;
    CLI::App* measure = cbs::exp::add_measure_command(app, measure_args);
    cbs::exp::FitArgs fit_args;
    CLI::App* fit = cbs::exp::add_fit_command(app, fit_args);
    cbs::exp::TrainLmArgs train_lm_args;
    CLI::App* train_lm = cbs::exp::add_train_lm_command(app, train_lm_args);
    cbs::exp::PrepareDataArgs prepare_data_args;
    CLI::App* prepare_data = cbs::exp::add_prepare_data_command(app, prepare_data_args);
    cbs::exp::ReportArgs report_args;
    CLI::App* report = cbs::exp::add_report_command(app, report_args);
    cbs::exp::CoordCheckArgs coord_check_args;
    CLI::App* coord_check = cbs::exp::add_coord_check_command(app, coord_check_args);
    cbs::exp::AdviseArgs advise_args;
    CLI::App* advise = cbs::exp::add_advise_command(app, advise_args);
    // Set after the subcommands exist: CLI11 copies a parent's footer into every subcommand made
    // after it, and each subcommand's --help lists only what that subcommand reads.
    app.footer("Run `cbs SUBCOMMAND --help` for a subcommand's options.\n\n" +
               cbs::exp::keys_help());

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "cbs: error: {} (see `cbs --help`)\n", e.what());
        return 2;
    }

    // The long-running, OpenMP-heavy commands spin only briefly when waiting (omp_wait_policy.hpp).
    for (const CLI::App* heavy : {run, sweep, train_lm})
        if (heavy->parsed()) cbs::exp::reexec_with_short_omp_spin(argv);

    try {
        if (simulate->parsed()) return cbs::exp::run_simulate(simulate_args);
        if (run->parsed()) return cbs::exp::run_run_command(run_args);
        if (sweep->parsed()) return cbs::exp::run_sweep_command(sweep_args);
        if (merge->parsed()) return cbs::exp::run_merge_command(merge_args);
        if (measure->parsed()) return cbs::exp::run_measure_command(measure_args);
        if (fit->parsed()) return cbs::exp::run_fit_command(fit_args);
        if (prepare_data->parsed()) return cbs::exp::run_prepare_data_command(prepare_data_args);
        if (train_lm->parsed()) return cbs::exp::run_train_lm_command(train_lm_args);
        if (report->parsed()) return cbs::exp::run_report_command(report_args);
        if (coord_check->parsed()) return cbs::exp::run_coord_check_command(coord_check_args);
        if (advise->parsed()) return cbs::exp::run_advise_command(advise_args);
    } catch (const cbs::UserError& e) {
        fmt::print(stderr, "cbs: error: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "cbs: internal error: {}\n", e.what());
        return 1;
    }
    return 1;
}
