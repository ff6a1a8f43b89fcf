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
    std::string input; ///< a study file (.h5) or a CSV (group,batch,steps)
    double anchor = 0; ///< B_opt; 0 = smallest batch size that reached the target
    int bootstrap = 1000;
    double target_multiple = 1.0;
    bool json = false;
};

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
