// `cbs measure`: steps-to-target curves or a CSV of steps -> CBS table (every estimator), and
// `cbs fit`: (x, y) points -> power-law fit with a 95% interval and forecasts.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct MeasureArgs {
    std::string input; ///< a study file (.h5), a CSV (group,batch,steps), or curves (docs/logs.md)
    double anchor = 0; ///< B_opt; 0 = smallest batch size that reached the target
    int bootstrap = 1000;
    double target_multiple = 1.0;
    bool json = false;
    // Curves (long CSV, JSON lines, TensorBoard; experiments/curve_measure.hpp):
    double target = 0; ///< fixed target loss (0 = R_opt at the budget)
    double budget = 0; ///< token budget for R_opt (0 = the `budget` column)
    std::string tag;   ///< TensorBoard scalar
    std::string runs;  ///< TensorBoard runs table
    bool skip_invalid = false;
};

/// Adds the curve options (--target, --budget, --tag, --runs, --skip-invalid) to `cmd` (shared
/// by `cbs measure` and `cbs report`).
void add_curve_options(CLI::App* cmd, double& target, double& budget, std::string& tag,
                       std::string& runs, bool& skip_invalid);

struct FitArgs {
    std::string input;             ///< CSV with header x,y (or n,m,y for a joint fit)
    std::vector<double> forecasts; ///< x values to forecast at
    bool json = false;
};

CLI::App* add_measure_command(CLI::App& app, MeasureArgs& args);
int run_measure_command(const MeasureArgs& args);
CLI::App* add_fit_command(CLI::App& app, FitArgs& args);
int run_fit_command(const FitArgs& args);

} // namespace cbs::exp
