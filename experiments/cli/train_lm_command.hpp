// `cbs train-lm`: one language-model training run (gpu/train_loop.hpp) from a TOML file and/or
// --set overrides, written as a one-run study file in the shared HDF5 schema.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct TrainLmArgs {
    std::string config_path;           ///< optional TOML file
    std::vector<std::string> sets;     ///< --set key=value, applied after the file, in order
    std::string out_path;              ///< HDF5 output (required)
    std::string checkpoint_path;       ///< --checkpoint: checkpoint file ("" = none)
    std::int64_t checkpoint_every = 0; ///< --checkpoint-every: also every k steps
    bool resume = false;               ///< --resume: continue from --checkpoint
    bool quiet = false;                ///< --quiet: no progress lines on stderr
};

CLI::App* add_train_lm_command(CLI::App& app, TrainLmArgs& args);

/// Validates everything (options, output path, shards) before training; throws cbs::UserError on
/// bad input with nothing written.
int run_train_lm_command(const TrainLmArgs& args);

} // namespace cbs::exp
