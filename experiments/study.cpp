#include "experiments/study.hpp"

#include "experiments/run_output.hpp"
#include "experiments/run_store.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/sweep.hpp"
#include "theory/check.hpp"
#include "theory/fnv1a.hpp"
#include "theory/rates.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace cbs::exp {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void refuse(const std::string& key, const std::string& value,
                         const std::string& rule) {
    throw UserError(fmt::format("`{}` = {}: {}", key, value, rule));
}

double to_number(const std::string& key, const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
        refuse(key, text, "must be a finite number");
    return v;
}

std::vector<double> number_list(const ConfigEntry& e, double min_exclusive) {
    std::vector<double> out;
    for (const std::string& item : list_items(e.key, e.value)) {
        const double v = to_number(e.key, item);
        if (!(v > min_exclusive))
            refuse(e.key, e.value, fmt::format("every item must be > {}", min_exclusive));
        out.push_back(v);
    }
    return out;
}

std::vector<double> unit_list(const ConfigEntry& e) {
    std::vector<double> out;
    for (const std::string& item : list_items(e.key, e.value)) {
        const double v = to_number(e.key, item);
        if (!(v >= 0.0 && v < 1.0)) refuse(e.key, e.value, "every item must be in [0, 1)");
        out.push_back(v);
    }
    return out;
}

Family parse_family(const std::string& key, const std::string& text) {
    if (text == "sgd") return Family::sgd;
    if (text == "momentum") return Family::momentum;
    if (text == "ewa") return Family::ewa;
    if (text == "momentum_ewa") return Family::momentum_ewa;
    if (text == "uniform_average") return Family::uniform_average;
    if (text == "tail_average") return Family::tail_average;
    refuse(key, text,
           "every item must be one of sgd, momentum, ewa, momentum_ewa, uniform_average, "
           "tail_average");
}

std::string group_label(const ConfigEntries& overrides) {
    std::string label;
    for (const ConfigEntry& e : overrides) {
        if (!label.empty()) label += " ";
        const std::string key = e.key == "data.samples" ? "n"
                                : e.key == "model.size" ? "M"
                                : e.key == "net.width"  ? "N"
                                                        : e.key;
        label += key + "=" + e.value;
    }
    return label.empty() ? "base" : label;
}

/// Hyper-parameter points (momentum, tau) a family tunes over.
std::vector<std::pair<double, double>> family_points(const StudySpec& s, Family f) {
    std::vector<std::pair<double, double>> points;
    const std::vector<double> none{0.0};
    const auto& betas =
        (f == Family::momentum || f == Family::momentum_ewa) ? s.momentum_grid : none;
    const auto& taus = (f == Family::ewa || f == Family::momentum_ewa) ? s.ewa_grid : none;
    for (double beta : betas)
        for (double tau : taus)
            points.emplace_back(beta, tau);
    return points;
}

/// Golden-section minimisation of phi over log lr, starting from a grid (see study.hpp).
struct Tuned {
    double log_lr = 0;
    double value = kInf;
};

Tuned tune_log_lr(const std::vector<double>& log_grid, int refine,
                  const std::function<double(double)>& phi) {
    Tuned best;
    std::vector<double> values(log_grid.size());
    for (std::size_t k = 0; k < log_grid.size(); ++k) {
        values[k] = phi(log_grid[k]);
        if (values[k] < best.value || (k == 0 && std::isinf(values[k])))
            best = {log_grid[k], values[k]};
    }
    if (log_grid.size() < 2 || refine <= 0 || std::isinf(best.value)) return best;
    const auto k =
        static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
    double lo = log_grid[k > 0 ? k - 1 : 0];
    double hi = log_grid[std::min(k + 1, log_grid.size() - 1)];
    const double g = 0.5 * (std::sqrt(5.0) - 1.0); // 0.618...
    double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
    double fc = phi(c), fd = phi(d);
    for (int it = 0; it < refine; ++it) {
        if (fc < best.value) best = {c, fc};
        if (fd < best.value) best = {d, fd};
        // Move towards the smaller value; when both failed (inf), towards smaller steps.
        if (fc < fd || (std::isinf(fc) && std::isinf(fd))) {
            hi = d;
            d = c;
            fd = fc;
            c = hi - g * (hi - lo);
            fc = phi(c);
        } else {
            lo = c;
            c = d;
            fc = fd;
            d = lo + g * (hi - lo);
            fd = phi(d);
        }
    }
    if (fc < best.value) best = {c, fc};
    if (fd < best.value) best = {d, fd};
    return best;
}

/// One tuning cell: a group, a family, a batch size and a (momentum, tau) point.
struct Cell {
    std::size_t group = 0; ///< index into the flat (group x family) list
    std::int64_t batch = 0;
    double momentum = 0, tau = 0;
    Tuned phase1, phase2;
    bool reached = false;
    std::int64_t runs = 0;
};

sim::SimOptions cell_options(const sim::SimOptions& base, const Cell& c, double log_eff_lr) {
    sim::SimOptions o = base;
    o.batch = c.batch;
    o.momentum = c.momentum;
    o.ewa_decay = c.tau;
    o.lr = std::exp(log_eff_lr) * (1.0 - c.momentum);
    o.record_mode = sim::RecordMode::log;
    o.record_points = 2;
    o.record_every = 0;
    return o;
}

/// The store id of one phase of a cell: a hash of everything its result depends on (study.hpp,
/// "Resuming"). `probe` is the cell's options as that phase runs them, at log lr 0; numbers the
/// options' TOML might round are added as hexadecimal floats, which are exact.
std::string cell_id(int phase, const sim::SimOptions& probe, const Cell& c, const StudySpec& spec) {
    std::string key = fmt::format("cbs run cell 1\nphase {}\noptions {}\nbatch {}\nmomentum {:a}\n"
                                  "tau {:a}\nhorizon {:a}\ntarget {:a}\nrecord {}\nlr_refine {}\n"
                                  "lr_grid",
                                  phase, run_id(probe), c.batch, c.momentum, c.tau, probe.horizon,
                                  probe.target_risk, probe.record_points, spec.lr_refine);
    for (double lr : spec.lr_grid)
        key += fmt::format(" {:a}", lr);
    return fmt::format("c{:016x}", fnv1a(key));
}

/// One finished phase of a cell as a store record (attributes only, no curves).
data::RunRecord cell_record(const std::string& id, int phase, const Tuned& t, std::int64_t runs,
                            const GroupResult& g, const Cell& c) {
    data::RunRecord r;
    r.id = id;
    r.attrs["cell.phase"] = std::int64_t{phase};
    r.attrs["cell.log_lr"] = t.log_lr;
    r.attrs["cell.value"] = t.value;
    r.attrs["cell.runs"] = runs;
    r.attrs["study.series"] = g.series;
    r.attrs["study.group"] = g.label;
    r.attrs["study.family"] = std::string(to_string(g.family));
    r.attrs["batch"] = c.batch;
    r.attrs["momentum"] = c.momentum;
    r.attrs["ewa.decay"] = c.tau;
    return r;
}

/// A stored phase of a cell: the tuned point and the simulations it took. Nothing for a record
/// that lacks the attributes (written by something else): the cell is then simulated again.
std::optional<std::pair<Tuned, std::int64_t>> stored_cell(const RunStore* store,
                                                          const std::string& id) {
    if (store == nullptr) return std::nullopt;
    const std::optional<data::RunRecord> r = store->find(id);
    if (!r) return std::nullopt;
    const auto number = [&](const char* name) -> const double* {
        const auto it = r->attrs.find(name);
        return it == r->attrs.end() ? nullptr : std::get_if<double>(&it->second);
    };
    const auto runs_it = r->attrs.find("cell.runs");
    const double* log_lr = number("cell.log_lr");
    const double* value = number("cell.value");
    if (log_lr == nullptr || value == nullptr || runs_it == r->attrs.end()) return std::nullopt;
    const auto* runs = std::get_if<std::int64_t>(&runs_it->second);
    if (runs == nullptr) return std::nullopt;
    return std::pair{Tuned{*log_lr, *value}, *runs};
}

/// Writes finished cells to the store from a thread of its own, so the compute threads never wait
/// for a disk sync: each round takes every cell queued since the last one and adds them as one
/// journal file (RunStore::add of a batch: one fsync), and folds the journal into the store file
/// every 30 s. A kill loses the cells being computed and those queued but not yet written
/// (milliseconds' worth). The first failure to write stops the writer; failed() tells the compute
/// loops to stop starting cells, and drain() rethrows it.
class CellWriter {
public:
    explicit CellWriter(RunStore* store) : store_(store) {
        if (store_ != nullptr) thread_ = std::thread([this] { loop(); });
    }
    ~CellWriter() {
        {
            const std::lock_guard<std::mutex> guard(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    CellWriter(const CellWriter&) = delete;
    CellWriter& operator=(const CellWriter&) = delete;

    void push(data::RunRecord record) {
        if (store_ == nullptr) return;
        {
            const std::lock_guard<std::mutex> guard(mutex_);
            queue_.push_back(std::move(record));
        }
        wake_.notify_all();
    }

    bool failed() const { return failed_; }

    /// Waits until every pushed cell is written, checkpoints the store, and rethrows the first
    /// failure (if any).
    void drain() {
        if (store_ == nullptr) return;
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.notify_all();
        idle_.wait(lock, [&] { return (queue_.empty() && !writing_) || failure_; });
        if (!failure_) {
            try {
                store_->checkpoint();
                last_checkpoint_ = std::chrono::steady_clock::now();
            } catch (...) {
                failure_ = std::current_exception();
                failed_ = true;
            }
        }
        if (failure_) std::rethrow_exception(failure_);
    }

private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (true) {
            wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty() && stop_) return;
            std::vector<data::RunRecord> batch;
            batch.swap(queue_);
            writing_ = true;
            lock.unlock();
            std::exception_ptr failure;
            try {
                store_->add(batch);
                const auto now = std::chrono::steady_clock::now();
                if (now - last_checkpoint_ > std::chrono::seconds(30)) {
                    store_->checkpoint();
                    last_checkpoint_ = now;
                }
            } catch (...) {
                failure = std::current_exception();
            }
            lock.lock();
            writing_ = false;
            if (failure && !failure_) {
                failure_ = failure;
                failed_ = true;
            }
            idle_.notify_all();
            if (failure_) return; // nothing more is written
        }
    }

    RunStore* store_ = nullptr;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_, idle_;
    std::vector<data::RunRecord> queue_;
    bool writing_ = false;
    bool stop_ = false;
    std::atomic<bool> failed_{false};
    std::exception_ptr failure_;
    std::chrono::steady_clock::time_point last_checkpoint_ = std::chrono::steady_clock::now();
};

/// Recorded points of a phase-2 run. The recursion tracks the target online at every step, so
/// it needs none; wide networks find the crossing between recorded steps, so they record densely.
std::int64_t phase2_record_points(const sim::SimOptions& o) {
    return o.simulator == sim::SimulatorKind::widenet ? 40 : 2;
}

} // namespace

const char* to_string(Family f) {
    switch (f) {
    case Family::sgd:
        return "sgd";
    case Family::momentum:
        return "momentum";
    case Family::ewa:
        return "ewa";
    case Family::momentum_ewa:
        return "momentum_ewa";
    case Family::uniform_average:
        return "uniform_average";
    case Family::tail_average:
        return "tail_average";
    }
    return "?";
}

sim::Average family_average(Family f) {
    return f == Family::uniform_average ? sim::Average::uniform
           : f == Family::tail_average  ? sim::Average::tail
                                        : sim::Average::ewa;
}

bool family_saturates(Family f) {
    return f == Family::sgd || f == Family::momentum || f == Family::uniform_average;
}

StudySpec parse_study(const ConfigEntries& entries) {
    StudySpec s;
    s.families = {Family::sgd};
    s.lr_grid = {0.0625, 0.125, 0.25, 0.5, 1.0};
    s.momentum_grid = {0.5, 0.8, 0.9};
    s.ewa_grid = {0.9, 0.99, 0.999};
    std::map<std::string, ConfigEntries> series_entries;
    std::vector<std::string> series_order;
    for (const ConfigEntry& e : entries) {
        s.config_text += config::setting_line(e);
        if (e.key.rfind("series.", 0) == 0) {
            const std::string rest = e.key.substr(7);
            const auto dot = rest.find('.');
            if (dot == std::string::npos || dot == 0)
                refuse(e.key, e.value, "series keys must look like series.<name>.<simulation key>");
            const std::string name = rest.substr(0, dot);
            if (!series_entries.count(name)) series_order.push_back(name);
            series_entries[name].push_back({rest.substr(dot + 1), e.value, e.source});
            continue;
        }
        if (e.key.rfind("study.", 0) != 0) {
            if (is_list_value(e.value))
                refuse(e.key, e.value, "lists (axes) belong in a series: series.<name>." + e.key);
            s.base.push_back(e);
            continue;
        }
        const std::string k = e.key.substr(6);
        if (k == "name") {
            s.name = e.value;
        } else if (k == "families") {
            s.families.clear();
            for (const std::string& item : list_items(e.key, e.value))
                s.families.push_back(parse_family(e.key, item));
        } else if (k == "batches") {
            s.batches.clear();
            for (double v : number_list(e, 0.0)) {
                if (v != std::floor(v) || !(v >= 1 && v <= static_cast<double>(sim::kMaxBatch)))
                    refuse(e.key, e.value, "every item must be an integer in [1, 1e12]");
                s.batches.push_back(static_cast<std::int64_t>(v));
            }
        } else if (k == "lr_grid") {
            s.lr_grid = number_list(e, 0.0);
        } else if (k == "lr_refine") {
            const double v = to_number(e.key, e.value);
            if (v < 0 || v > 50 || v != std::floor(v))
                refuse(e.key, e.value, "must be an integer in [0, 50]");
            s.lr_refine = static_cast<int>(v);
        } else if (k == "momentum_grid") {
            s.momentum_grid = unit_list(e);
        } else if (k == "ewa_grid") {
            s.ewa_grid = unit_list(e);
        } else if (k == "ewa_window_grid") {
            s.ewa_window_grid = number_list(e, 0.0);
            for (double w : s.ewa_window_grid)
                if (w > 1.0) refuse(e.key, e.value, "every item must be in (0, 1]");
        } else if (k == "horizon") {
            s.horizon = to_number(e.key, e.value);
            if (!(s.horizon >= 1.0 && s.horizon <= 1000.0))
                refuse(e.key, e.value, "must be in [1, 1000]");
        } else if (k == "target") {
            if (e.value == "ropt")
                s.target = TargetKind::ropt;
            else if (e.value == "ropt_multiple")
                s.target = TargetKind::ropt_multiple;
            else if (e.value == "fixed")
                s.target = TargetKind::fixed;
            else
                refuse(e.key, e.value, "must be one of ropt, ropt_multiple, fixed");
        } else if (k == "target_value") {
            s.target_value = to_number(e.key, e.value);
            if (!(s.target_value > 0)) refuse(e.key, e.value, "must be > 0");
        } else if (k == "anchor") {
            s.anchor = to_number(e.key, e.value);
            if (s.anchor < 0) refuse(e.key, e.value, "must be >= 0 (0 = smallest batch size)");
        } else if (k == "max_steps") {
            const double v = to_number(e.key, e.value);
            if (v < 0 || v != std::floor(v))
                refuse(e.key, e.value, "must be an integer >= 0 (0 = no limit)");
            s.max_steps = static_cast<std::int64_t>(v);
        } else if (k == "bootstrap") {
            const double v = to_number(e.key, e.value);
            if (v < 0 || v > 100000 || v != std::floor(v))
                refuse(e.key, e.value, "must be an integer in [0, 100000]");
            s.bootstrap = static_cast<int>(v);
        } else {
            refuse(e.key, e.value, "unknown study key (see `cbs run --help`)");
        }
    }
    if (s.batches.size() < 2)
        refuse("study.batches", fmt::format("{} values", s.batches.size()),
               "needs at least 2 batch sizes");
    std::sort(s.batches.begin(), s.batches.end());
    if (std::adjacent_find(s.batches.begin(), s.batches.end()) != s.batches.end())
        refuse("study.batches", "duplicates", "batch sizes must be distinct");
    if (s.anchor > 0 && std::find(s.batches.begin(), s.batches.end(),
                                  static_cast<std::int64_t>(s.anchor)) == s.batches.end())
        refuse("study.anchor", fmt::format("{}", s.anchor), "must be 0 or one of study.batches");
    if (s.target == TargetKind::fixed && !(s.target_value > 0))
        refuse("study.target_value", fmt::format("{}", s.target_value),
               "must be > 0 for study.target = fixed");
    std::sort(s.lr_grid.begin(), s.lr_grid.end());
    if (series_order.empty()) series_order.push_back("base");
    for (const std::string& name : series_order) {
        Series series{name, expand_axes(series_entries[name])};
        for (const ConfigEntries& g : series.groups) {
            ConfigEntries all = s.base;
            all.insert(all.end(), g.begin(), g.end());
            const sim::SimOptions o = resolve_sim_options(all); // validates every group up front
            if (o.samples <= 0)
                refuse("data.samples", std::to_string(o.samples),
                       "every study group needs a data budget (data.samples > 0), series " + name);
            if (o.simulator == sim::SimulatorKind::montecarlo)
                refuse("simulator", sim::to_string(o.simulator),
                       "cbs run measures with simulator = recursion or widenet");
            if (o.average != sim::Average::ewa)
                refuse("average", sim::to_string(o.average),
                       "a study sets the averaging per family (study.families = "
                       "uniform_average, tail_average), series " +
                           name);
            for (Family f : s.families)
                if (family_average(f) != sim::Average::ewa &&
                    o.simulator != sim::SimulatorKind::recursion)
                    refuse("study.families", to_string(f),
                           std::string("needs simulator = recursion (simulator = ") +
                               sim::to_string(o.simulator) + "), series " + name);
        }
        s.series.push_back(std::move(series));
    }
    return s;
}

StudyResult run_study(const StudySpec& spec,
                      const std::function<void(const std::string&)>& progress,
                      RunStore* cells_store) {
    const auto start = std::chrono::steady_clock::now();
    StudyResult result;
    // Flat list of (series, group, family).
    for (const Series& series : spec.series) {
        for (const ConfigEntries& g : series.groups) {
            ConfigEntries all = spec.base;
            all.insert(all.end(), g.begin(), g.end());
            const sim::SimOptions o = resolve_sim_options(all);
            for (Family f : spec.families) {
                GroupResult r;
                r.series = series.name;
                r.label = group_label(g);
                r.family = f;
                r.options = o;
                r.options.average = family_average(f);
                result.groups.push_back(r);
            }
        }
    }
    std::vector<Cell> cells;
    auto skipped = [&](const GroupResult& g, std::int64_t batch) {
        return spec.max_steps > 0 && (g.options.samples + batch - 1) / batch > spec.max_steps;
    };
    for (std::size_t gi = 0; gi < result.groups.size(); ++gi)
        for (std::int64_t batch : spec.batches)
            if (!skipped(result.groups[gi], batch))
                for (const auto& [beta, tau] : family_points(spec, result.groups[gi].family)) {
                    const Family f = result.groups[gi].family;
                    const bool averaged = f == Family::ewa || f == Family::momentum_ewa;
                    if (!averaged || spec.ewa_window_grid.empty()) {
                        cells.push_back(Cell{gi, batch, beta, tau, {}, {}, false, 0});
                        continue;
                    }
                    if (tau != spec.ewa_grid.front()) continue; // one pass over the windows
                    const double budget =
                        std::ceil(static_cast<double>(result.groups[gi].options.samples) / batch);
                    for (double w : spec.ewa_window_grid) {
                        const double window_tau =
                            std::min(1.0 - 1.0 / std::max(1.0, w * budget), 0.999999);
                        cells.push_back(Cell{gi, batch, beta, window_tau, {}, {}, false, 0});
                    }
                }
    std::vector<double> log_grid;
    for (double lr : spec.lr_grid)
        log_grid.push_back(std::log(lr));

    std::atomic<std::size_t> done{0};
    auto report = [&](const char* phase) {
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress(fmt::format("{}: {}/{} cells, {:.1f} s", phase, done.load(), cells.size(), t));
    };
    auto last_report = std::chrono::steady_clock::now();
    auto maybe_report = [&](const char* phase) {
        const auto now = std::chrono::steady_clock::now();
        if (std::chrono::duration<double>(now - last_report).count() < 2.0) return;
        last_report = now;
        report(phase);
    };

    // The store (if any), written by its own thread; its first failure stops both phases after
    // the cells in flight and is rethrown at the end of the phase.
    CellWriter writer(cells_store);
    std::atomic<std::size_t> reused{0};
    auto end_phase = [&](const char* phase) {
        report(phase);
        if (reused > 0)
            progress(fmt::format("{}: {} of {} cells taken from {} (stored by an earlier run)",
                                 phase, reused.load(), cells.size(), cells_store->path()));
        writer.drain();
    };

    // Phase 1: best EWA risk after n samples, per cell (lr tuned).
#pragma omp parallel for schedule(dynamic)
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (writer.failed()) continue;
        Cell& c = cells[i];
        const GroupResult& g = result.groups[c.group];
        const auto phase1_options = [&](double log_lr) {
            sim::SimOptions o = cell_options(g.options, c, log_lr);
            o.horizon = 1.0;
            o.target_risk = 0.0;
            return o;
        };
        const std::string id = cells_store ? cell_id(1, phase1_options(0.0), c, spec) : "";
        if (const auto stored = stored_cell(cells_store, id)) {
            c.phase1 = stored->first;
            c.runs += stored->second;
            ++reused;
        } else {
            const std::int64_t runs_before = c.runs;
            c.phase1 = tune_log_lr(log_grid, spec.lr_refine, [&](double log_lr) {
                const sim::SimOptions o = phase1_options(log_lr);
                ++c.runs;
                const sim::Curve curve = simulate_any(o);
                return curve.diverged || curve.step.empty() || curve.step.back() != o.budget_steps()
                           ? kInf
                           : curve.risk_ewa.back();
            });
            if (cells_store) writer.push(cell_record(id, 1, c.phase1, c.runs - runs_before, g, c));
        }
        ++done;
#pragma omp critical(study_progress)
        maybe_report("phase 1 (risk at the data budget)");
    }
    end_phase("phase 1 (risk at the data budget)");

    // Targets per (group, family).
    for (std::size_t gi = 0; gi < result.groups.size(); ++gi) {
        GroupResult& g = result.groups[gi];
        g.r_opt = kInf;
        for (const Cell& c : cells)
            if (c.group == gi) g.r_opt = std::min(g.r_opt, c.phase1.value);
        g.target = spec.target == TargetKind::ropt            ? g.r_opt
                   : spec.target == TargetKind::ropt_multiple ? spec.target_value * g.r_opt
                                                              : spec.target_value;
    }

    // Phase 2: fewest steps to the target, per cell (lr tuned again).
    done = 0;
    reused = 0;
#pragma omp parallel for schedule(dynamic)
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (writer.failed()) continue;
        Cell& c = cells[i];
        const GroupResult& g = result.groups[c.group];
        if (std::isfinite(g.target)) {
            const auto phase2_options = [&](double log_lr) {
                sim::SimOptions o = cell_options(g.options, c, log_lr);
                o.horizon = spec.horizon;
                o.target_risk = g.target;
                o.record_points = phase2_record_points(o);
                return o;
            };
            const std::string id = cells_store ? cell_id(2, phase2_options(0.0), c, spec) : "";
            if (const auto stored = stored_cell(cells_store, id)) {
                c.phase2 = stored->first;
                c.runs += stored->second;
                ++reused;
            } else {
                const std::int64_t runs_before = c.runs;
                c.phase2 = tune_log_lr(log_grid, spec.lr_refine, [&](double log_lr) {
                    const sim::SimOptions o = phase2_options(log_lr);
                    ++c.runs;
                    const sim::Curve curve = simulate_any(o);
                    if (curve.target_step > 0) return curve.target_step_interp;
                    if (curve.diverged || curve.risk_ewa.empty()) return kInf;
                    // Not reached: a penalty above the step cap that still ranks runs by how
                    // close they came, so the search moves towards better learning rates.
                    return static_cast<double>(o.total_steps()) *
                           (1.0 + std::log(curve.risk_ewa.back() / g.target));
                });
                if (cells_store)
                    writer.push(cell_record(id, 2, c.phase2, c.runs - runs_before, g, c));
            }
            // Reached within the horizon iff the objective is a real step count.
            sim::SimOptions o = cell_options(g.options, c, c.phase2.log_lr);
            o.horizon = spec.horizon;
            c.reached = std::isfinite(c.phase2.value) &&
                        c.phase2.value <= static_cast<double>(o.total_steps());
        }
        ++done;
#pragma omp critical(study_progress)
        maybe_report("phase 2 (steps to the target)");
    }
    end_phase("phase 2 (steps to the target)");

    // Winners per batch size, CBS estimates per group.
    for (std::size_t gi = 0; gi < result.groups.size(); ++gi) {
        GroupResult& g = result.groups[gi];
        for (std::int64_t batch : spec.batches) {
            if (skipped(g, batch)) continue;
            BatchResult best;
            best.batch = batch;
            best.steps = kInf;
            best.budget_risk = kInf;
            bool have = false;
            for (const Cell& c : cells) {
                if (c.group != gi || c.batch != batch) continue;
                g.runs += c.runs;
                best.budget_risk = std::min(best.budget_risk, c.phase1.value);
                const double steps = c.reached ? c.phase2.value : kInf;
                if (!have || steps < best.steps) {
                    have = true;
                    best.steps = steps;
                    best.lr = std::exp(c.phase2.log_lr) * (1.0 - c.momentum);
                    best.momentum = c.momentum;
                    best.ewa_decay = c.tau;
                }
            }
            g.batches.push_back(best);
        }
        result.runs += g.runs;
        std::vector<BatchPoint> points;
        for (const BatchResult& b : g.batches)
            points.push_back({static_cast<double>(b.batch), b.steps});
        const auto finite = std::count_if(points.begin(), points.end(), [](const BatchPoint& p) {
            return std::isfinite(p.steps);
        });
        if (finite < 2) {
            g.note = fmt::format("only {} batch size(s) reached the target", finite);
            continue;
        }
        double anchor = spec.anchor;
        if (anchor > 0) {
            const auto it = std::find_if(points.begin(), points.end(),
                                         [&](const BatchPoint& p) { return p.batch == anchor; });
            if (it == points.end() || !std::isfinite(it->steps)) {
                g.note = "the anchor batch size did not reach the target";
                continue;
            }
        }
        g.cbs = estimate_cbs(points, anchor, spec.bootstrap, 1 + gi);
        g.measurable = true;
        // Effective time at the anchor's optimum, T = eta_eff * n / B_opt, learns ~T^(1/a)
        // coordinates (THEORY.md section 3); a model smaller than that saturates.
        for (const BatchResult& b : g.batches)
            if (static_cast<double>(b.batch) == g.cbs.b_opt)
                g.k_star = std::pow(b.lr / (1.0 - b.momentum) *
                                        std::ceil(static_cast<double>(g.options.samples) / b.batch),
                                    1.0 / g.options.a);
    }

    // Fits of the study's CBS against n and M, per series and family.
    for (const Series& series : spec.series) {
        for (Family f : spec.families) {
            // CBS vs n and vs M; and, vs n, the optimal risk R_opt and the optimal effective
            // time T* = lr_eff * f(B_opt), whose exponents THEORY.md section 3 also predicts.
            for (const char* variable :
                 {"data.samples", "model.size", "net.width", "r_opt", "t_star"}) {
                FitResult fr;
                fr.series = series.name;
                fr.family = f;
                fr.variable = variable;
                const bool versus_m = fr.variable == "model.size";
                const bool versus_width = fr.variable == "net.width";
                std::set<double> a_values, b_values;
                std::set<std::pair<double, double>> other; // what must stay fixed along x
                for (const GroupResult& g : result.groups) {
                    if (g.series != series.name || g.family != f || !g.measurable) continue;
                    const bool widenet = g.options.simulator == sim::SimulatorKind::widenet;
                    if (versus_width && !widenet) continue;
                    const auto n = static_cast<double>(g.options.samples);
                    const auto width = widenet ? static_cast<double>(g.options.net.width) : 0.0;
                    const double x = versus_m ? g.options.model_size : versus_width ? width : n;
                    other.insert(versus_m || versus_width
                                     ? std::pair{n, versus_m ? width : g.options.model_size}
                                     : std::pair{g.options.model_size, width});
                    double y = g.cbs.study;
                    if (fr.variable == "r_opt") y = g.r_opt;
                    if (fr.variable == "t_star") {
                        y = std::numeric_limits<double>::quiet_NaN();
                        for (const BatchResult& b : g.batches)
                            if (static_cast<double>(b.batch) == g.cbs.b_opt)
                                y = b.lr / (1.0 - b.momentum) * b.steps;
                    }
                    if (!std::isfinite(x) || !std::isfinite(y) || y <= 0) continue;
                    fr.x.push_back(x);
                    fr.y.push_back(y);
                    a_values.insert(g.options.a);
                    b_values.insert(g.options.b);
                }
                std::set<double> distinct(fr.x.begin(), fr.x.end());
                if (distinct.size() < 3 || other.size() != 1)
                    continue; // not a sweep of this variable
                fr.fit = fit_power_law(fr.x, fr.y);
                fr.local = local_slopes(fr.x, fr.y);
                fr.predicted = std::numeric_limits<double>::quiet_NaN();
                if (a_values.size() == 1 && b_values.size() == 1) {
                    const double a = *a_values.begin(), b = *b_values.begin();
                    const bool saturates = family_saturates(f);
                    if (fr.variable == "data.samples")
                        fr.predicted = theory::cbs_data_exponent(a, b, saturates);
                    if (fr.variable == "r_opt")
                        fr.predicted = -theory::optimal_risk_exponent(a, b, saturates);
                    if (fr.variable == "t_star")
                        fr.predicted = theory::optimal_time_exponent(a, b, saturates);
                }
                if (versus_m) fr.predicted = 0.0;     // flat once M >> k*(T*(n))
                if (versus_width) fr.predicted = 0.0; // μP: flat once the curves have converged
                result.fits.push_back(std::move(fr));
            }
        }
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace cbs::exp
