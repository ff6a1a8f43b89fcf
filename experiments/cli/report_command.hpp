// `cbs report STUDY.h5 [MORE.h5 ...] --out DIR`: the theory-vs-experiment report of study files
// (see experiments/report.hpp for what it writes and needs).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct ReportArgs {
    std::vector<std::string> studies; ///< study files
    std::string out_dir = "results/report";
    bool quiet = false;
};

CLI::App* add_report_command(CLI::App& app, ReportArgs& args);
int run_report_command(const ReportArgs& args);

} // namespace cbs::exp
