// `cbs run`: a whole CBS study (tuning sweeps, targets, steps-to-target, CBS estimators, fits,
// theory side by side) from a study TOML or the embedded default; see experiments/study.hpp.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct RunArgs {
    std::string config_path;       ///< optional study TOML (default: the embedded study)
    std::vector<std::string> sets; ///< --set overrides, after the file
    std::string out_path = "results/study.h5";
    bool json = false;          ///< print results as JSON on stdout
    bool quiet = false;         ///< no progress on stderr
    bool print_default = false; ///< print the embedded default study and exit
    std::string report_dir;     ///< report directory; empty = <out without .h5>-report
    bool no_report = false;     ///< skip the report
};

CLI::App* add_run_command(CLI::App& app, RunArgs& args);
int run_run_command(const RunArgs& args);

} // namespace cbs::exp
