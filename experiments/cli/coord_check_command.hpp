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

/// The learning rate coord-check uses unless the config or --set gives `lr`. Not the simulators'
/// 0.5: at 0.5 the default μP networks of widths 128 and 1024 blow up within 10 steps (and every
/// SP width above 64). At 0.01 every default width (64 ... 4096, SGD, depth 2, relu, d = 32,
/// batch 16) stays finite under μP and SP, and SP's width dependence still shows (its second
/// hidden layer shrinks ~30x from width 64 to 4096 while μP's stays within a few percent).
inline constexpr const char* kCoordCheckDefaultLr = "0.01";

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
