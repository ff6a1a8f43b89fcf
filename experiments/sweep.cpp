// Sweeps (sweep.hpp): axis expansion, shards, and the parallel, resumable, interruptible runner.
//
// run_sweep in brief:
//   - runs are identified by run_id(); a point listed twice (e.g. batch = [16, 16]) runs once: the
//     first index of each id is kept, the same way in every shard, so shards stay disjoint;
//   - OpenMP threads take runs one at a time (schedule(dynamic, 1)): run times differ by orders of
//     magnitude across a grid (steps, batch), so static chunks would idle threads;
//   - whichever thread finishes a run adds it to the store (durable journal write), and prints
//     progress / checkpoints when their intervals have passed; no thread is spent on watching;
//   - exceptions never cross the OpenMP region: the first is kept, no new runs start, and it is
//     rethrown after the final checkpoint;
//   - SIGINT/SIGTERM set a flag (handlers installed only for the duration of run_sweep, previous
//     ones restored; so two run_sweep calls must not overlap in one process); a second signal
//     while finishing runs in flight is ignored on purpose: the checkpoint that follows is what
//     makes the interruption cheap. A signal that arrives after the last run is not an error.
//   - sharded sweeps (shard.count > 1) never rewrite PATH themselves: other shards may be adding
//     to the same journal from other processes, and two processes rewriting PATH would each drop
//     the other's runs. Their runs stay durable in PATH.journal until `cbs merge PATH` (or MPI
//     rank 0 after the barrier) checkpoints once every shard has finished.
#include "experiments/sweep.hpp"

#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/stop_signals.hpp"
#include "gpu/lm_options.hpp"
#include "gpu/train_loop.hpp"
#include "simulators/montecarlo.hpp"
#include "simulators/recursion.hpp"
#include "simulators/widenet.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <fmt/format.h>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_set>
#include <variant>

namespace cbs::exp {

namespace {

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    const auto last = s.find_last_not_of(" \t\r\n");
    return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

std::string unquote(const std::string& s) {
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
        return s.substr(1, s.size() - 2);
    return s;
}

/// Points in a sweep above which expansion refuses (a typo such as a 1000-element axis times
/// five others would otherwise exhaust memory before anything useful happens).
constexpr std::size_t kMaxPoints = 10'000'000;

// ---- progress -------------------------------------------------------------------------------

std::string duration_text(double seconds) {
    if (!(seconds < 1e9)) return "?";
    if (seconds < 100) return fmt::format("{:.0f} s", seconds);
    if (seconds < 6000) return fmt::format("{:.1f} min", seconds / 60);
    return fmt::format("{:.1f} h", seconds / 3600);
}

void print_progress(const SweepSummary& s, std::size_t done, double elapsed) {
    const double rate = elapsed > 0 ? static_cast<double>(s.ran) / elapsed : 0.0;
    const std::size_t left = s.total - done;
    const std::string eta = left == 0  ? "0 s"
                            : rate > 0 ? duration_text(static_cast<double>(left) / rate)
                                       : "?";
    fmt::print(stderr, "sweep: {}/{} runs ({} skipped, {} diverged), {:.1f} runs/s, ETA {}\n", done,
               s.total, s.skipped, s.diverged, rate, eta);
    std::fflush(stderr);
}

} // namespace

bool is_list_value(const std::string& value) {
    const std::string v = trim(value);
    return v.size() >= 2 && v.front() == '[' && v.back() == ']';
}

std::vector<std::string> list_items(const std::string& key, const std::string& value) {
    const std::string v = trim(value);
    const auto refuse = [&](const std::string& rule) {
        return UserError(fmt::format("`{}` = {}: {}", key, value, rule));
    };
    if (v.size() < 2 || v.front() != '[' || v.back() != ']')
        throw refuse("unbalanced brackets; a list is written [v1, v2, ...]");
    std::vector<std::string> items;
    std::string current;
    char quote = 0;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
        const char c = v[i];
        if (quote != 0) {
            if (c == quote) quote = 0;
            current += c;
        } else if (c == '"' || c == '\'') {
            quote = c;
            current += c;
        } else if (c == '[' || c == ']') {
            throw refuse("nested lists or unbalanced brackets are not allowed in a sweep axis");
        } else if (c == ',') {
            items.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    if (quote != 0) throw refuse("unterminated quote");
    items.push_back(current);
    if (items.size() == 1 && trim(items[0]).empty())
        throw refuse("an empty list; a sweep axis needs at least one value");
    for (std::string& item : items) {
        item = unquote(trim(item));
        if (item.empty()) throw refuse("empty item in the list");
    }
    return items;
}

bool is_list_valued_key(const std::string& key) {
    return key == "ewa.decays" || key == "data.budgets";
}

std::vector<ConfigEntries> expand_axes(const ConfigEntries& entries) {
    // Later entries win: keep only the last occurrence of each key, in entry order.
    ConfigEntries kept;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        bool overridden = false;
        for (std::size_t j = i + 1; j < entries.size() && !overridden; ++j)
            overridden = entries[j].key == entries[i].key;
        if (!overridden) kept.push_back(entries[i]);
    }
    // The axes, in entry order; a value that only starts or ends with a bracket is a broken list.
    std::vector<std::size_t> axis_entry;
    std::vector<std::vector<std::string>> axis_values;
    std::size_t points = 1;
    for (std::size_t i = 0; i < kept.size(); ++i) {
        const std::string v = trim(kept[i].value);
        if (v.empty() || (v.front() != '[' && v.back() != ']')) continue;
        if (is_list_valued_key(kept[i].key)) continue; // one value that happens to be a list
        axis_entry.push_back(i);
        axis_values.push_back(list_items(kept[i].key, kept[i].value));
        points *= axis_values.back().size();
        if (points > kMaxPoints)
            throw UserError(fmt::format("sweep has more than {} points (axis `{}` and those "
                                        "before it); split it into several studies",
                                        kMaxPoints, kept[i].key));
    }
    std::vector<ConfigEntries> out;
    out.reserve(points);
    std::vector<std::size_t> index(axis_values.size(), 0); // odometer, last axis fastest
    for (std::size_t p = 0; p < points; ++p) {
        ConfigEntries point = kept;
        for (std::size_t a = 0; a < axis_values.size(); ++a)
            point[axis_entry[a]].value = axis_values[a][index[a]];
        out.push_back(std::move(point));
        for (std::size_t a = axis_values.size(); a-- > 0;) {
            if (++index[a] < axis_values[a].size()) break;
            index[a] = 0;
        }
    }
    return out;
}

ShardSpec parse_shard(const std::string& text) {
    const auto refuse = [&](const std::string& rule) {
        return UserError(fmt::format("--shard '{}': {}", text, rule));
    };
    const std::size_t slash = text.find('/');
    const auto parse = [&](const std::string& part, int& out) {
        if (part.empty() || part.size() > 9 ||
            part.find_first_not_of("0123456789") != std::string::npos)
            throw refuse("must be i/K with whole numbers 0 <= i < K, e.g. 0/4");
        out = std::stoi(part);
    };
    if (slash == std::string::npos)
        throw refuse("must be i/K with whole numbers 0 <= i < K, e.g. 0/4");
    ShardSpec shard;
    parse(text.substr(0, slash), shard.index);
    parse(text.substr(slash + 1), shard.count);
    if (shard.count < 1) throw refuse("the shard count K must be >= 1");
    if (shard.index >= shard.count)
        throw refuse(fmt::format("the shard index must be in [0, {}) (0-based)", shard.count));
    return shard;
}

SweepSummary run_sweep(const std::vector<sim::SimOptions>& runs, RunStore& store,
                       const ShardSpec& shard, const SweepProgress& progress,
                       const std::function<sim::Curve(const sim::SimOptions&)>& simulate,
                       double checkpoint_interval_s) {
    std::vector<SweepRun> jobs;
    jobs.reserve(runs.size());
    for (const sim::SimOptions& options : runs)
        jobs.push_back({run_id(options), [&simulate, &options] {
                            return make_run_record(options, simulate(options));
                        }});
    return run_sweep(jobs, store, shard, progress, checkpoint_interval_s);
}

std::vector<SweepRun> make_sweep_runs(const std::vector<ConfigEntries>& points) {
    std::vector<SweepRun> runs;
    runs.reserve(points.size());
    for (const ConfigEntries& point : points) {
        std::string simulator;
        for (const ConfigEntry& e : point)
            if (e.key == "simulator") simulator = trim(e.value);
        if (simulator == "lm" || simulator == "\"lm\"") {
            std::vector<std::pair<std::string, std::string>> entries;
            for (const ConfigEntry& e : point)
                entries.emplace_back(e.key, e.value);
            lm::LmOptions options = lm::resolve_lm_options(entries);
            runs.push_back({lm::run_id(options), [options] {
                                lm::TrainControls controls;
                                controls.quiet = true;
                                return lm::make_lm_run_record(options,
                                                              lm::train_lm(options, controls));
                            }});
        } else {
            sim::SimOptions options = resolve_sim_options(point);
            runs.push_back({run_id(options),
                            [options] { return make_run_record(options, simulate_any(options)); }});
        }
    }
    return runs;
}

SweepSummary run_sweep(const std::vector<SweepRun>& runs, RunStore& store, const ShardSpec& shard,
                       const SweepProgress& progress, double checkpoint_interval_s) {
    CBS_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "shard ",
              shard.index, "/", shard.count);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto since = [](clock::time_point t) {
        return std::chrono::duration<double>(clock::now() - t).count();
    };

    // This shard's runs: first occurrence of each id, index k with k % count == index.
    SweepSummary summary;
    std::vector<std::size_t> pending;
    std::vector<std::string> ids;
    {
        std::unordered_set<std::string> seen;
        for (std::size_t k = 0; k < runs.size(); ++k) {
            std::string id = runs[k].id;
            if (!seen.insert(id).second) continue;
            if (k % static_cast<std::size_t>(shard.count) != static_cast<std::size_t>(shard.index))
                continue;
            ++summary.total;
            if (store.contains(id)) {
                ++summary.skipped;
                continue;
            }
            pending.push_back(k);
            ids.push_back(std::move(id));
        }
    }
    const bool may_checkpoint = shard.count == 1;

    const StopSignals signals;
    std::mutex report_mutex; // guards summary counts, timers and the first failure
    std::exception_ptr failure;
    std::atomic<bool> failed{false};
    auto last_progress = start;
    auto last_checkpoint = start;
    // A checkpoint rewrites the whole study, so its cost grows with the study: keep it to about a
    // tenth of one thread's time by spacing checkpoints at least ten durations apart. (Nothing
    // is at risk in between: every run is already durable in the journal.)
    double checkpoint_spacing = checkpoint_interval_s;
    const auto checkpoint_due = [&] {
        return may_checkpoint && since(last_checkpoint) >= checkpoint_spacing;
    };

    const auto n = static_cast<std::int64_t>(pending.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < n; ++i) {
        if (failed.load() || StopSignals::received() != 0) continue; // start no new runs
        const SweepRun& run = runs[pending[static_cast<std::size_t>(i)]];
        try {
            data::RunRecord record = run.execute();
            CBS_CHECK(record.id == ids[static_cast<std::size_t>(i)], "run id changed");
            const auto flag = record.attrs.find("diverged");
            const bool diverged = flag != record.attrs.end() &&
                                  std::holds_alternative<std::int64_t>(flag->second) &&
                                  std::get<std::int64_t>(flag->second) != 0;
            store.add(record);
            bool checkpoint = false;
            {
                const std::lock_guard<std::mutex> guard(report_mutex);
                ++summary.ran;
                if (diverged) ++summary.diverged;
                if (progress.enabled && since(last_progress) >= progress.min_interval_s) {
                    print_progress(summary, summary.skipped + summary.ran, since(start));
                    last_progress = clock::now();
                }
                if (checkpoint_due()) {
                    checkpoint = true;
                    last_checkpoint = clock::now(); // others skip while this one writes
                }
            }
            if (checkpoint) {
                const auto begin = clock::now();
                store.checkpoint();
                const std::lock_guard<std::mutex> guard(report_mutex);
                checkpoint_spacing = std::max(checkpoint_interval_s, 10 * since(begin));
            }
        } catch (...) {
            const std::lock_guard<std::mutex> guard(report_mutex);
            if (!failure) {
                failure = std::current_exception();
                if (progress.enabled)
                    fmt::print(stderr, "sweep: run {} failed; finishing the runs in flight\n",
                               ids[static_cast<std::size_t>(i)]);
            }
            failed.store(true);
        }
    }

    summary.seconds = since(start);
    if (progress.enabled) print_progress(summary, summary.skipped + summary.ran, summary.seconds);
    if (may_checkpoint) {
        if (failure) {
            try {
                store.checkpoint(); // keep what finished; the run's own error matters more
            } catch (...) {
            }
        } else {
            store.checkpoint();
        }
    }
    if (failure) std::rethrow_exception(failure);
    const bool complete = summary.skipped + summary.ran == summary.total;
    if (const int signal = StopSignals::received(); signal != 0 && !complete) {
        throw UserError(fmt::format(
            "interrupted by {}: {} of {} runs are stored in '{}'{}; rerun the same command to "
            "resume",
            StopSignals::name(signal), summary.skipped + summary.ran, summary.total, store.path(),
            may_checkpoint ? "" : " (journal)"));
    }
    return summary;
}

sim::Curve simulate_any(const sim::SimOptions& options) {
    switch (options.simulator) {
    case sim::SimulatorKind::recursion:
        return sim::simulate_recursion(options);
    case sim::SimulatorKind::montecarlo:
        return sim::simulate_montecarlo(options);
    case sim::SimulatorKind::widenet:
        return sim::simulate_widenet(options);
    }
    CBS_CHECK(false, "unknown simulator");
}

} // namespace cbs::exp
