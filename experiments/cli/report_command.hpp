// `cbs report STUDY.h5 [MORE.h5 ...] --out DIR`: the theory-vs-experiment report of study files
// (see experiments/report.hpp for what it writes and needs). Other trainers' curves (long CSV,
// JSON lines, TensorBoard directories: docs/logs.md) are measured first and reported as study
// files of their own (experiments/curve_measure.hpp: curves_study).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct ReportArgs {
    std::vector<std::string> studies; ///< study files or curve inputs
    std::string out_dir = "results/report";
    bool quiet = false;
    // Curves (as `cbs measure`):
    double target = 0, budget = 0, target_multiple = 1.0;
    std::string tag, runs;
    bool skip_invalid = false;
    int bootstrap = 1000;
};

CLI::App* add_report_command(CLI::App& app, ReportArgs& args);
int run_report_command(const ReportArgs& args);

} // namespace cbs::exp
