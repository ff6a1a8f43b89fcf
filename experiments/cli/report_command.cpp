#include "experiments/cli/report_command.hpp"

#include "experiments/report.hpp"

#include <CLI/CLI.hpp>

namespace cbs::exp {

CLI::App* add_report_command(CLI::App& app, ReportArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "report", "Write the theory-vs-experiment report of study files: DIR/report.html "
                  "(self-contained), DIR/report.md with PNG figures beside it, DIR/claims.json");
    cmd->add_option("studies", args.studies, "Study files (HDF5) written by cbs run / cbs sweep")
        ->required();
    cmd->add_option(
           "--out", args.out_dir,
           "Report directory (replaced atomically; missing parent directories are created)")
        ->capture_default_str();
    cmd->add_flag("--quiet", args.quiet, "No summary line on stderr");
    cmd->footer("Figures are drawn by matplotlib under /usr/bin/python3 (override with the "
                "environment variable CBS_PYTHON); it needs Debian's python3-numpy, "
                "python3-h5py and python3-matplotlib.");
    return cmd;
}

int run_report_command(const ReportArgs& args) {
    write_report({args.studies, args.out_dir, args.quiet});
    return 0;
}

} // namespace cbs::exp
