// `cbs sweep` and `cbs merge` (sweep_command.hpp).
//
// Order of work in `cbs sweep`, so that bad input never leaves files behind: read the config,
// expand the axes, resolve and validate every point, check --shard and --out; only then open the
// store (which writes nothing until the first run finishes) and run.
//
// The `config` attribute of the study is the study's own text: the TOML file verbatim, then the
// --set arguments as comment lines ("# --set batch=[16,32]"). Comments, because appending them as
// TOML could clash with the file (a key set twice, a dotted key under the file's last [table]);
// the resolved parameters of every run are in its attributes anyway.
//
// MPI (mpi_session.hpp): MPI is loaded and initialised only when the environment says an MPI
// launcher started this process as one of several ranks, so a plain `cbs sweep` never pays for it.
// Rank r of K runs shard (i + N*r)/(N*K) for --shard i/N (default 0/1): that is rank r's share of
// the --shard slice. Every rank adds to the shared PATH.journal (one file per run; sharded sweeps
// never rewrite PATH), the ranks agree on success with an all-reduce (which is also the barrier),
// and rank 0 reopens the store, which now sees every rank's journal files, and checkpoints it --
// unless --shard was given too: then other slices may still be adding to the same journal, and
// gathering is left to `cbs merge` as for any sharded sweep.
#include "experiments/cli/sweep_command.hpp"

#include "experiments/run_output.hpp"

#include "experiments/config_source.hpp"
#include "experiments/mpi_session.hpp"
#include "experiments/run_store.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/sweep.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace cbs::exp {

namespace fs = std::filesystem;

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "sweep", "Run a grid of simulations or LM trainings (every list value is an axis) into "
                 "one resumable study file; finished runs already in --out are skipped");
    cmd->add_option("config", args.config_path,
                    "Study TOML file; list values such as batch = [16, 32, 64] are sweep axes "
                    "(optional)");
    cmd->add_option("--set", args.sets,
                    "Override one key: --set key=value, or an axis: --set key=[v1,v2,...] "
                    "(repeatable, applied after the file)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--out", args.out_path,
                    "Study HDF5 file; resumed if it exists (runs in flight go to FILE.journal/); "
                    "missing directories are created")
        ->required();
    cmd->add_option("--shard", args.shard,
                    "Run only shard i of K (0-based, \"i/K\"), e.g. a job-array task; shards "
                    "sharing one --out leave their runs in FILE.journal/ for `cbs merge FILE` "
                    "[default: 0/1, everything]");
    cmd->add_flag("-q,--quiet", args.quiet, "Print nothing but errors (no progress, no summary)");
    cmd->footer(keys_help() +
                "\nWith simulator = \"lm\" a point is an LM training instead: its keys are "
                "those of `cbs train-lm --help` (ewa.decays is one list value, not an axis).\n");
    return cmd;
}

CLI::App* add_merge_command(CLI::App& app, MergeArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "merge", "Gather the runs that shards left in FILE.journal/ into the study file FILE");
    cmd->add_option("file", args.path, "Study HDF5 file (FILE and/or FILE.journal/ must exist)")
        ->required();
    return cmd;
}

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// "batch (4) x lr (3)": the keys whose values differ between points, in entry order.
std::string axes_text(const std::vector<ConfigEntries>& points) {
    if (points.size() < 2) return "no axes";
    std::string text;
    for (std::size_t e = 0; e < points.front().size(); ++e) {
        std::set<std::string> values;
        for (const ConfigEntries& p : points)
            values.insert(p[e].value);
        if (values.size() < 2) continue;
        if (!text.empty()) text += " x ";
        text += fmt::format("{} ({})", points.front()[e].key, values.size());
    }
    return text;
}

std::string rate_text(const SweepSummary& s) {
    return s.seconds > 0 ? fmt::format("{:.1f}", static_cast<double>(s.ran) / s.seconds) : "-";
}

} // namespace

int run_sweep_command(const SweepArgs& args) {
    // 1. Everything the user gave, validated before any file is touched.
    ConfigEntries entries;
    std::string config;
    if (!args.config_path.empty()) {
        entries = load_toml_file(args.config_path);
        config = read_text(args.config_path);
    }
    if (!args.sets.empty()) {
        if (!config.empty() && config.back() != '\n') config += '\n';
        config += "# --set arguments, applied after the file:\n";
    }
    for (const std::string& s : args.sets) {
        entries.push_back(parse_set_argument(s));
        config += "# --set " + s + "\n";
    }
    const std::vector<ConfigEntries> points = expand_axes(entries);
    const std::vector<SweepRun> runs = make_sweep_runs(points);
    ShardSpec shard = args.shard.empty() ? ShardSpec{} : parse_shard(args.shard);
    const int user_shards = shard.count; // before MPI ranks split it
    check_output_path(args.out_path);
    make_output_directory(args.out_path);

    // 2. MPI ranks split the shard further.
    MpiWorld world;
    std::optional<MpiSession> mpi;
    if (const std::string evidence = mpi_launcher_evidence(); !evidence.empty()) {
        mpi.emplace(evidence);
        world = mpi->world();
    }
    if (world.size > 1) shard = {shard.index + shard.count * world.rank, shard.count * world.size};
    const bool lead = world.rank == 0;

    if (lead && !args.quiet) {
        fmt::print("cbs sweep: {} points ({}){}\n", points.size(), axes_text(points),
                   world.size > 1
                       ? fmt::format(", {} MPI ranks (progress lines: rank 0's share)", world.size)
                   : shard.count > 1 ? fmt::format(", shard {}/{}", shard.index, shard.count)
                                     : "");
        std::fflush(stdout);
    }

    // 3. Run.
    SweepSummary summary;
    std::exception_ptr failure;
    try {
        RunStore store(args.out_path, config);
        SweepProgress progress;
        progress.enabled = lead && !args.quiet;
        summary = run_sweep(runs, store, shard, progress);
    } catch (...) {
        failure = std::current_exception();
    }

    if (world.size > 1) {
        // The all-reduce is the barrier: after it every rank's journal files are on disk.
        const int failed_anywhere = mpi->max_on_all(failure ? 1 : 0);
        const unsigned long long counts[4] = {summary.total, summary.skipped, summary.ran,
                                              summary.diverged};
        unsigned long long totals[4] = {0, 0, 0, 0};
        mpi->sum_to_root(counts, totals, 4);
        const double seconds = mpi->max_to_root(summary.seconds);
        if (failure) std::rethrow_exception(failure);
        if (failed_anywhere != 0)
            throw UserError(fmt::format("the sweep failed on another MPI rank; finished runs are "
                                        "kept in '{}.journal' (rerun to resume)",
                                        args.out_path));
        if (!lead) return 0;
        summary.total = static_cast<std::size_t>(totals[0]);
        summary.skipped = static_cast<std::size_t>(totals[1]);
        summary.ran = static_cast<std::size_t>(totals[2]);
        summary.diverged = static_cast<std::size_t>(totals[3]);
        summary.seconds = seconds;
        if (!args.quiet)
            fmt::print("cbs sweep: {} runs ({} already stored, {} ran, {} diverged) on {} ranks "
                       "in {:.1f} s, {} runs/s\n",
                       summary.total, summary.skipped, summary.ran, summary.diverged, world.size,
                       summary.seconds, rate_text(summary));
        if (user_shards > 1) {
            // Other --shard slices may be adding to the same journal right now: leave gathering
            // to `cbs merge` (two processes rewriting PATH would drop each other's runs).
            if (!args.quiet)
                fmt::print("shard {}: runs are kept in {}.journal; run `cbs merge {}` once every "
                           "shard has finished\n",
                           args.shard, args.out_path, args.out_path);
            return 0;
        }
        RunStore gathered(args.out_path, config); // sees every rank's journal files
        gathered.checkpoint();
        if (!args.quiet) fmt::print("wrote {} ({} runs)\n", args.out_path, gathered.size());
        return 0;
    }
    if (failure) std::rethrow_exception(failure);

    if (!args.quiet) {
        fmt::print("cbs sweep: {} runs ({} already stored, {} ran, {} diverged) in {:.1f} s, {} "
                   "runs/s\n",
                   summary.total, summary.skipped, summary.ran, summary.diverged, summary.seconds,
                   rate_text(summary));
        if (shard.count > 1)
            fmt::print("shard {}/{}: runs are kept in {}.journal; run `cbs merge {}` once every "
                       "shard has finished\n",
                       shard.index, shard.count, args.out_path, args.out_path);
        else
            fmt::print("wrote {}\n", args.out_path);
    }
    return 0;
}

int run_merge_command(const MergeArgs& args) {
    std::error_code ec;
    const std::string journal = args.path + ".journal";
    if (!fs::exists(args.path, ec) && !fs::is_directory(journal, ec))
        throw UserError(fmt::format("cbs merge '{}': neither the study file nor its journal "
                                    "'{}' exists",
                                    args.path, journal));
    std::size_t files = 0;
    for (fs::directory_iterator it(journal, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".h5") ++files;
    RunStore store(args.path, ""); // empty config: keep the stored one
    store.checkpoint();
    fmt::print("cbs merge: gathered {} journal file{} into {} ({} runs)\n", files,
               files == 1 ? "" : "s", args.path, store.size());
    return 0;
}

} // namespace cbs::exp
