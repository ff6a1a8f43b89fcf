// `cbs simulate`: one run of a simulator from a TOML file and/or --set overrides.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct SimulateArgs {
    std::string config_path;       ///< optional TOML file
    std::vector<std::string> sets; ///< --set key=value, applied after the file, in order
    std::string out_path;          ///< optional HDF5 output
};

/// Registers the subcommand and its options on `app`; `args` receives the parsed values.
CLI::App* add_simulate_command(CLI::App& app, SimulateArgs& args);

/// Runs it: prints a summary and a short step / risk / EWA-risk table to stdout and writes
/// --out atomically. Throws cbs::UserError on bad input (before any output file is created).
int run_simulate(const SimulateArgs& args);

} // namespace cbs::exp
