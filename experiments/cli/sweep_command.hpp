// `cbs sweep`: a grid of simulations from a study config whose list values are axes, run in
// parallel into one resumable study file; and `cbs merge`, which gathers runs that shards left in
// a study's journal into the study file.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace cbs::exp {

struct SweepArgs {
    std::string config_path;       ///< optional study TOML file; list values are sweep axes
    std::vector<std::string> sets; ///< --set key=value or key=[v1,v2,...], after the file
    std::string out_path;          ///< required HDF5 study file (resumed if it exists)
    std::string shard;             ///< optional "i/K": run only this job-array shard
    bool quiet = false;            ///< no progress lines on stderr
};

/// Registers `sweep` and its options on `app`; `args` receives the parsed values.
CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args);

/// Runs it: expands the axes, resolves every point (cbs::UserError for any bad value, before
/// anything is written), runs the points not yet stored in --out and prints a summary. Built with
/// MPI and started by mpirun with more than one rank, rank r of K runs shard r/K (of the --shard
/// slice, if given), all ranks add to the shared journal, and rank 0 gathers everything into --out.
int run_sweep_command(const SweepArgs& args);

struct MergeArgs {
    std::string path; ///< the study file whose journal is gathered
};

/// Registers `merge` on `app`.
CLI::App* add_merge_command(CLI::App& app, MergeArgs& args);

/// Checkpoints the study at `path`: every run in PATH.journal (e.g. from shards that shared one
/// --out) is written into PATH and the journal is removed. Throws cbs::UserError if there is
/// neither PATH nor PATH.journal.
int run_merge_command(const MergeArgs& args);

} // namespace cbs::exp
