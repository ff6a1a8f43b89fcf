// Sweeps: a study config whose values may be lists ("axes") expands to the cartesian product of
// runs; the runs execute in parallel (OpenMP), optionally split over MPI ranks or job-array
// shards, into a RunStore, skipping runs already stored.
#pragma once

#include "experiments/config_source.hpp"
#include "experiments/run_store.hpp"
#include "simulators/curve.hpp"
#include "simulators/sim_options.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cbs::exp {

/// True if `value` is a list "[v1, v2, ...]" (as config_source renders TOML arrays and as users
/// write --set key=[v1,v2]).
bool is_list_value(const std::string& value);

/// Splits a list value into its items (trimmed, quotes removed). Throws cbs::UserError naming
/// `key` for an empty list or unbalanced brackets / nested lists.
std::vector<std::string> list_items(const std::string& key, const std::string& value);

/// Keys whose single value is a list, so that a list given for them is not a sweep axis:
/// `ewa.decays` (the LM trainer's EWA decays, all tracked in one run), `data.budgets` (the token
/// budgets one LM run serves).
bool is_list_valued_key(const std::string& key);

/// The cartesian product of all list-valued entries (except is_list_valued_key ones); scalar
/// entries are copied to every point. Order: the first axis (in entry order) varies slowest. A key
/// given twice: the later wins (also when one is a list). Entries in each point keep the original
/// order.
std::vector<ConfigEntries> expand_axes(const ConfigEntries& entries);

struct ShardSpec {
    int index = 0; ///< 0-based
    int count = 1;
};
/// Parses "i/K" (0 <= i < K); throws cbs::UserError("--shard 'text': ...") otherwise.
ShardSpec parse_shard(const std::string& text);

struct SweepProgress {
    bool enabled = true;         ///< print progress lines to stderr
    double min_interval_s = 2.0; ///< at most one line per interval (plus a final line)
};

struct SweepSummary {
    std::size_t total = 0;   ///< runs in this shard
    std::size_t skipped = 0; ///< already in the store
    std::size_t ran = 0;
    std::size_t diverged = 0; ///< of those ran
    double seconds = 0;
};

/// One run of a sweep, whatever produces it: its stable id and the work that yields its record
/// (the record's id must equal `id`; attribute `diverged` = 1 counts it as diverged).
struct SweepRun {
    std::string id;
    std::function<data::RunRecord()> execute;
};

/// Runs `runs[k]` for every k with k % shard.count == shard.index whose id is not in the store;
/// the contract of the overload below, for runs of any kind (simulations, LM trainings).
SweepSummary run_sweep(const std::vector<SweepRun>& runs, RunStore& store, const ShardSpec& shard,
                       const SweepProgress& progress, double checkpoint_interval_s = 5.0);

/// The runs of a sweep point list: `simulator = lm` points become LM trainings (gpu/train_loop),
/// every other point a simulation by simulate_any. Validates every point up front (throws
/// cbs::UserError naming the key, value and rule).
std::vector<SweepRun> make_sweep_runs(const std::vector<ConfigEntries>& points);

/// Runs `runs[k]` for every k with k % shard.count == shard.index whose run_id() is not in the
/// store, in parallel over OpenMP threads, adding each result to the store as it finishes and
/// checkpointing the store every `checkpoint_interval_s` seconds and at the end. Exceptions in a
/// run are not swallowed silently: diverged runs are ordinary results; any other failure stops
/// the sweep after the runs in flight finish and is rethrown. SIGINT/SIGTERM: stop starting new
/// runs, finish those in flight, checkpoint, then throw cbs::UserError("interrupted: ...").
/// `simulate` maps options to a curve (tests inject cheap fakes; the CLI passes the simulators).
SweepSummary run_sweep(const std::vector<sim::SimOptions>& runs, RunStore& store,
                       const ShardSpec& shard, const SweepProgress& progress,
                       const std::function<sim::Curve(const sim::SimOptions&)>& simulate,
                       double checkpoint_interval_s = 5.0);

/// The simulator the options name (recursion, Monte Carlo or wide networks).
sim::Curve simulate_any(const sim::SimOptions& options);

} // namespace cbs::exp
