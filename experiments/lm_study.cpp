#include "experiments/lm_study.hpp"

#include "experiments/cbs_tables.hpp"
#include "experiments/run_output.hpp"
#include "experiments/run_store.hpp"
#include "experiments/sweep.hpp"
#include "theory/check.hpp"

#include "theory/fnv1a.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <thread>

namespace cbs::exp {

namespace {

std::string unquoted(std::string s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '"'))
        s.erase(s.begin());
    while (!s.empty() && (s.back() == ' ' || s.back() == '"'))
        s.pop_back();
    return s;
}

double key_number(const MeasuredGroup& g, const std::string& key) {
    const auto it = g.keys.find(key);
    CBS_CHECK(it != g.keys.end() && !it->second.empty(), "LM group without attribute ", key);
    return std::stod(it->second);
}

/// Fits CBS against `x_of` within each set of groups that share `fixed_of`, where that set has
/// at least three distinct x values (fewer say nothing about an exponent).
void add_fits(const std::vector<LmStudyGroup>& groups, const std::string& variable,
              double (*x_of)(const LmStudyGroup&), double (*fixed_of)(const LmStudyGroup&),
              const std::string& fixed_name, std::vector<LmStudyFit>& fits) {
    std::map<double, std::vector<const LmStudyGroup*>> by_fixed;
    for (const LmStudyGroup& g : groups)
        if (g.measured.measurable && std::isfinite(g.measured.cbs.study) &&
            g.measured.cbs.study > 0)
            by_fixed[fixed_of(g)].push_back(&g);
    for (const auto& [fixed, members] : by_fixed) {
        LmStudyFit f;
        f.variable = variable;
        f.fixed = fmt::format("{}={:g}", fixed_name, fixed);
        f.fixed_value = fixed;
        std::set<double> distinct;
        for (const LmStudyGroup* g : members) {
            f.x.push_back(x_of(*g));
            f.y.push_back(g->measured.cbs.study);
            distinct.insert(x_of(*g));
        }
        if (distinct.size() < 3) continue;
        f.fit = fit_power_law(f.x, f.y);
        fits.push_back(std::move(f));
    }
}

std::int64_t int_attr(const data::RunRecord& run, const std::string& key) {
    const auto it = run.attrs.find(key);
    if (it == run.attrs.end())
        throw UserError(fmt::format("run '{}': attribute `{}` missing", run.id, key));
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) return *i;
    if (const auto* d = std::get_if<double>(&it->second)) return static_cast<std::int64_t>(*d);
    throw UserError(fmt::format("run '{}': attribute `{}` must be a number", run.id, key));
}

/// FNV-1a 64 of a file's bytes as 16 hex digits ("" if it cannot be read).
std::string file_checksum(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::uint64_t hash = kFnv1aBasis;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash = fnv1a(buffer.data(), static_cast<std::size_t>(in.gcount()), hash);
    }
    return fmt::format("{:016x}", hash);
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : unquoted(line.substr(colon + 1));
        }
    return "unknown";
}

std::string last_value(const ConfigEntries& entries, const std::string& key,
                       const std::string& fallback) {
    std::string value = fallback;
    for (const ConfigEntry& e : entries)
        if (e.key == key) value = unquoted(e.value);
    return value;
}

/// /cbs/lm_sittings: one row per `cbs run` of this study file (a study may run over several
/// sittings), with the machine, the backend and the seconds; attributes: the summed wall time and
/// checksums of the corpus shards and tokenizer the runs read.
data::Table sittings_table(const RunStore& store, const ConfigEntries& entries,
                           const std::string& started, double seconds, std::size_t ran) {
    std::vector<std::string> when, cpu, backend, sha;
    std::vector<double> secs, trainings, cores;
    if (const auto old = store.table("cbs/lm_sittings")) {
        for (const auto& [name, column] : old->columns) {
            if (name == "started") when = std::get<std::vector<std::string>>(column);
            if (name == "cpu_model") cpu = std::get<std::vector<std::string>>(column);
            if (name == "backend") backend = std::get<std::vector<std::string>>(column);
            if (name == "git_sha") sha = std::get<std::vector<std::string>>(column);
            if (name == "seconds") secs = std::get<std::vector<double>>(column);
            if (name == "trainings_run") trainings = std::get<std::vector<double>>(column);
            if (name == "cores") cores = std::get<std::vector<double>>(column);
        }
        const std::size_t n = when.size();
        if (cpu.size() != n || backend.size() != n || sha.size() != n || secs.size() != n ||
            trainings.size() != n || cores.size() != n)
            when.clear(), cpu.clear(), backend.clear(), sha.clear(), secs.clear(),
                trainings.clear(), cores.clear(); // an unexpected layout: start afresh
    }
    when.push_back(started);
    cpu.push_back(cpu_model());
    backend.push_back(last_value(entries, "backend", "cpu"));
    sha.push_back(cbs_git_sha());
    secs.push_back(seconds);
    trainings.push_back(static_cast<double>(ran));
    cores.push_back(static_cast<double>(std::thread::hardware_concurrency()));
    data::Table t;
    t.columns = {{"started", when},    {"seconds", secs},  {"trainings_run", trainings},
                 {"backend", backend}, {"cpu_model", cpu}, {"cores", cores},
                 {"git_sha", sha}};
    double total = 0;
    for (const double s : secs)
        total += s;
    const std::string train = last_value(entries, "data.train", "");
    const std::string val = last_value(entries, "data.val", "");
    const std::string tokenizer =
        (std::filesystem::path(train).parent_path() / "tokenizer.model").string();
    t.attrs["description"] = std::string(
        "LM study: one row per `cbs run` sitting (UTC start, wall seconds, trainings run, "
        "backend, CPU, cores, commit); checksums are FNV-1a 64 of the files' bytes");
    t.attrs["total_seconds"] = total;
    t.attrs["train_path"] = train;
    t.attrs["train_fnv1a"] = file_checksum(train);
    t.attrs["val_path"] = val;
    t.attrs["val_fnv1a"] = file_checksum(val);
    t.attrs["tokenizer_path"] = tokenizer;
    t.attrs["tokenizer_fnv1a"] = file_checksum(tokenizer);
    return t;
}

/// Root attributes of an LM study file, from its sittings table: where and when it ran, on what
/// backend and inputs, and its wall time summed over every sitting.
std::map<std::string, data::AttrValue> study_root_attrs(const data::Table& sittings) {
    const auto text = [&](const std::string& column) -> const std::vector<std::string>& {
        for (const auto& [name, values] : sittings.columns)
            if (name == column) return std::get<std::vector<std::string>>(values);
        throw std::logic_error("sittings table without column " + column);
    };
    const auto unique_joined = [](const std::vector<std::string>& values) {
        std::vector<std::string> seen;
        for (const std::string& v : values)
            if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
        return fmt::format("{}", fmt::join(seen, "; "));
    };
    std::map<std::string, data::AttrValue> attrs;
    attrs["lm_study_started"] = text("started").front();
    attrs["lm_study_last_sitting"] = text("started").back();
    attrs["lm_study_sittings"] = static_cast<std::int64_t>(text("started").size());
    attrs["lm_study_wall_seconds"] = sittings.attrs.at("total_seconds");
    attrs["machine_cpu"] = unique_joined(text("cpu_model"));
    attrs["machine_cores"] = static_cast<std::int64_t>(std::thread::hardware_concurrency());
    attrs["backend"] = unique_joined(text("backend"));
    attrs["commits"] = unique_joined(text("git_sha"));
    for (const char* key : {"train_path", "train_fnv1a", "val_path", "val_fnv1a", "tokenizer_path",
                            "tokenizer_fnv1a"})
        attrs[key] = sittings.attrs.at(key);
    return attrs;
}

} // namespace

std::vector<data::RunRecord> expand_budgets(const std::vector<data::RunRecord>& runs) {
    std::vector<data::RunRecord> out;
    for (const data::RunRecord& run : runs) {
        const auto it = run.attrs.find("data.budgets");
        const std::string* text =
            it == run.attrs.end() ? nullptr : std::get_if<std::string>(&it->second);
        if (text == nullptr || unquoted(*text) == "[]" || unquoted(*text).empty()) {
            out.push_back(run);
            continue;
        }
        const std::vector<std::string> items = list_items("data.budgets", *text);
        const std::int64_t context = int_attr(run, "model.context");
        const std::int64_t batch = int_attr(run, "batch");
        double horizon = 1;
        if (const auto h = run.attrs.find("data.horizon"); h != run.attrs.end()) {
            if (const auto* d = std::get_if<double>(&h->second)) horizon = *d;
            if (const auto* i = std::get_if<std::int64_t>(&h->second))
                horizon = static_cast<double>(*i);
        }
        for (const std::string& item : items) {
            std::int64_t tokens = 0;
            try {
                tokens = std::stoll(item);
            } catch (const std::exception&) {
                throw UserError(fmt::format("run '{}': `data.budgets` = {}: must list integers",
                                            run.id, *text));
            }
            if (tokens < 1)
                throw UserError(fmt::format("run '{}': `data.budgets` = {}: budgets must be >= 1",
                                            run.id, *text));
            const std::int64_t sequences = (tokens + context - 1) / context;
            const std::int64_t budget_step = (sequences + batch - 1) / batch;
            const auto last =
                static_cast<std::int64_t>(std::ceil(horizon * static_cast<double>(budget_step)));
            data::RunRecord r = run;
            r.id = fmt::format("{}@{}", run.id, tokens);
            r.attrs["data.tokens"] = tokens;
            r.attrs["data.samples"] = sequences;
            // A run that blew up after this budget's last step is a sound run for this budget.
            if (const auto d = r.attrs.find("diverged_step");
                d != r.attrs.end() && std::holds_alternative<std::int64_t>(d->second) &&
                std::get<std::int64_t>(d->second) > last) {
                r.attrs["diverged"] = std::int64_t{0};
                r.attrs["diverged_step"] = std::int64_t{-1};
            }
            std::size_t keep = 0;
            while (keep < r.step.size() && r.step[keep] <= last)
                ++keep;
            r.step.resize(keep);
            r.samples.resize(std::min(keep, r.samples.size()));
            r.risk.resize(std::min(keep, r.risk.size()));
            r.risk_ewa.resize(std::min(keep, r.risk_ewa.size()));
            for (auto& [name, curve] : r.extra_curves)
                curve.resize(std::min(keep, curve.size()));
            out.push_back(std::move(r));
        }
    }
    return out;
}

bool is_lm_study(const ConfigEntries& entries) {
    std::string simulator;
    for (const ConfigEntry& e : entries)
        if (e.key == "simulator") simulator = unquoted(e.value);
    return simulator == "lm";
}

LmStudyResult run_lm_study(const ConfigEntries& entries, const std::string& config_text,
                           const std::string& out_path, int bootstrap, bool quiet) {
    const auto start = std::chrono::steady_clock::now();
    const std::string started = data::utc_timestamp();
    // Every point validated before anything is trained or written.
    const std::vector<SweepRun> runs = make_sweep_runs(expand_axes(entries));
    LmStudyResult result;
    result.runs = runs.size();

    make_output_directory(out_path);
    RunStore store(out_path, config_text);
    SweepProgress progress;
    progress.enabled = !quiet;
    result.ran = run_sweep(runs, store, ShardSpec{}, progress).ran;

    data::Study study;
    study.runs = expand_budgets(store.runs());
    for (MeasuredGroup& m : measure_study(study, 0, bootstrap, 1.0, true)) {
        LmStudyGroup g;
        g.parameters = key_number(m, "model.size");
        g.tokens = key_number(m, "data.samples") * key_number(m, "model.context");
        g.measured = std::move(m);
        result.groups.push_back(std::move(g));
    }
    std::sort(result.groups.begin(), result.groups.end(),
              [](const LmStudyGroup& a, const LmStudyGroup& b) {
                  return std::pair{a.parameters, a.tokens} < std::pair{b.parameters, b.tokens};
              });
    add_fits(
        result.groups, "data.samples", [](const LmStudyGroup& g) { return g.tokens; },
        [](const LmStudyGroup& g) { return g.parameters; }, "M", result.fits);
    add_fits(
        result.groups, "model.size", [](const LmStudyGroup& g) { return g.parameters; },
        [](const LmStudyGroup& g) { return g.tokens; }, "D", result.fits);

    // Tables, in the columns every study kind writes.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<EstimateRow> estimates;
    std::vector<std::string> series, group, family;
    std::vector<double> n, m, batch, steps;
    for (const LmStudyGroup& g : result.groups) {
        const MeasuredGroup& mg = g.measured;
        estimates.push_back({"lm", mg.label, "lm", mg.note, g.tokens, g.parameters, nan, mg.target,
                             mg.target, mg.measurable, mg.cbs});
        for (const BatchPoint& p : mg.points) {
            series.push_back("lm");
            group.push_back(mg.label);
            family.push_back("lm");
            n.push_back(g.tokens);
            m.push_back(g.parameters);
            batch.push_back(p.batch);
            steps.push_back(p.steps);
        }
    }
    data::Table steps_table;
    steps_table.columns = {{"series", series}, {"group", group}, {"family", family}, {"n", n},
                           {"M", m},           {"batch", batch}, {"steps", steps}};
    steps_table.attrs["description"] =
        std::string("LM study: per group (n = tokens, M = non-embedding parameters) and batch "
                    "size (sequences): fewest steps to the target val loss over the tuned runs");
    std::vector<FitRow> fit_rows;
    for (const LmStudyFit& f : result.fits)
        fit_rows.push_back({"lm", "lm", f.variable, f.fit, f.variable == "model.size" ? 0.0 : nan});
    // The LM fits with what each held fixed, and the joint fit over every measured group.
    {
        std::vector<double> d, nn, y;
        for (const LmStudyGroup& g : result.groups)
            if (g.measured.measurable && std::isfinite(g.measured.cbs.study) &&
                g.measured.cbs.study > 0) {
                d.push_back(g.tokens);
                nn.push_back(g.parameters);
                y.push_back(g.measured.cbs.study);
            }
        try {
            result.joint = fit_joint_power_law(d, nn, y);
            result.has_joint = true;
        } catch (const UserError&) {
            result.has_joint = false; // fewer than 3 points, or D and N collinear
        }
    }
    data::Table lm_fits = fits_table(fit_rows);
    std::vector<std::string> fixed_name;
    std::vector<double> fixed_value, gamma, gamma_low, gamma_high;
    for (const LmStudyFit& f : result.fits) {
        fixed_name.push_back(f.variable == "model.size" ? "D" : "M");
        fixed_value.push_back(f.fixed_value);
        gamma.push_back(nan);
        gamma_low.push_back(nan);
        gamma_high.push_back(nan);
    }
    if (result.has_joint) {
        const JointPowerLawFit& j = result.joint;
        auto& cols = lm_fits.columns;
        const auto push_text = [&](std::size_t k, std::string v) {
            std::get<std::vector<std::string>>(cols[k].second).push_back(std::move(v));
        };
        const auto push_num = [&](std::size_t k, double v) {
            std::get<std::vector<double>>(cols[k].second).push_back(v);
        };
        push_text(0, "lm");
        push_text(1, "lm");
        push_text(2, "joint");
        push_num(3, j.alpha);
        push_num(4, j.alpha_low);
        push_num(5, j.alpha_high);
        push_num(6, nan);
        push_num(7, j.c);
        push_num(8, j.r2);
        push_num(9, j.points);
        fixed_name.push_back("");
        fixed_value.push_back(nan);
        gamma.push_back(j.gamma);
        gamma_low.push_back(j.gamma_low);
        gamma_high.push_back(j.gamma_high);
    }
    lm_fits.columns.push_back({"fixed", fixed_name});
    lm_fits.columns.push_back({"fixed_value", fixed_value});
    lm_fits.columns.push_back({"gamma", gamma});
    lm_fits.columns.push_back({"gamma_low", gamma_low});
    lm_fits.columns.push_back({"gamma_high", gamma_high});
    lm_fits.attrs["description"] =
        std::string("LM study fits: CBS = c x^exponent per fixed M (x = tokens D, variable "
                    "data.samples) or per fixed D (x = non-embedding parameters N, variable "
                    "model.size), 95% intervals; variable joint: CBS = c D^exponent N^gamma");
    store.set_table("fits/lm", lm_fits);
    store.set_table("cbs/steps", steps_table);
    const data::Table sittings = sittings_table(
        store, entries, started,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        result.ran);
    store.set_table("cbs/lm_sittings", sittings);
    store.set_root_attrs(study_root_attrs(sittings));
    store.set_table("cbs/estimates", estimates_table(estimates));
    store.set_table("fits/cbs", fits_table(fit_rows));
    store.checkpoint();
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

std::string lm_study_summary(const LmStudyResult& r) {
    std::string out = fmt::format(
        "cbs run: language-model study: {} groups, {} trainings ({} run now), {:.1f} s\n\n",
        r.groups.size(), r.runs, r.ran, r.seconds);
    out += fmt::format("{:<40} {:>12} {:>12} {:>9} {:>7} {:>9} {:>21}\n", "group", "tokens",
                       "parameters", "R_opt", "B_opt", "CBS", "95% interval");
    for (const LmStudyGroup& g : r.groups) {
        const MeasuredGroup& m = g.measured;
        if (!m.measurable) {
            out += fmt::format("{:<40} {:>12.4g} {:>12.4g} {:>9.4g} not measurable: {}\n", m.label,
                               g.tokens, g.parameters, m.target, m.note);
            continue;
        }
        out +=
            fmt::format("{:<40} {:>12.4g} {:>12.4g} {:>9.4g} {:>7.4g} {:>9.4g} {:>21}\n", m.label,
                        g.tokens, g.parameters, m.target, m.cbs.b_opt, m.cbs.study,
                        fmt::format("[{:.4g}, {:.4g}]", m.cbs.study_ci.low, m.cbs.study_ci.high));
    }
    out += "(CBS and B_opt in sequences; R_opt = best EWA validation loss reached by the budget, "
           "nats)\n";
    for (const LmStudyFit& f : r.fits)
        out += fmt::format("CBS vs {} at {}: exponent {:.3f} [{:.3f}, {:.3f}]\n",
                           f.variable == "model.size" ? "parameters" : "tokens", f.fixed,
                           f.fit.alpha, f.fit.alpha_low, f.fit.alpha_high);
    if (r.has_joint)
        out += fmt::format("joint CBS = c D^alpha N^gamma: alpha {:.3f} [{:.3f}, {:.3f}], gamma "
                           "{:.3f} [{:.3f}, {:.3f}] ({} groups)\n",
                           r.joint.alpha, r.joint.alpha_low, r.joint.alpha_high, r.joint.gamma,
                           r.joint.gamma_low, r.joint.gamma_high, r.joint.points);
    out += "(published, Zhang et al. 2025: 0.47 in D at fixed N; 0.087 in N at fixed D)\n";
    if (r.fits.empty())
        out += "(no fits: a fit needs three data budgets at one model size, or three model sizes "
               "at one budget)\n";
    return out;
}

} // namespace cbs::exp
