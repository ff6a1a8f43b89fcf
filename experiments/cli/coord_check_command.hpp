// `cbs coord-check`: the μP coordinate check (simulators/coord_check.hpp) as a table, JSON or an
// HDF5 study file (table /cbs/coord_check, docs/hdf5-schema.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct CoordCheckArgs {
    std::string config_path;       ///< optional TOML file of simulation keys (widenet)
    std::vector<std::string> sets; ///< --set key=value, applied after the file, in order
    std::vector<std::int64_t> widths{64, 128, 256, 512, 1024, 2048, 4096};
    std::vector<std::string> params{"mup", "sp"};
    std::int64_t steps = 10;
    bool json = false;
    std::string out_path; ///< optional HDF5 output
};

/// Registers the subcommand and its options on `app`; `args` receives the parsed values.
CLI::App* add_coord_check_command(CLI::App& app, CoordCheckArgs& args);

/// Runs it: prints the table (or JSON) and writes --out atomically. Throws cbs::UserError on bad
/// input before any output file is created.
int run_coord_check_command(const CoordCheckArgs& args);

} // namespace cbs::exp
