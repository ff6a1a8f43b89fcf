// Numerical faults (issue 8): diverging learning rates in every simulator, a user-given spectrum
// (`spectrum.file`) with its validation, EWA decays next to 1, and batches larger than the data
// budget. Each is handled and recorded, never a crash or a hang.
#include "experiments/measure.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "experiments/study.hpp"
#include "experiments/sweep.hpp"
#include "simulators/montecarlo.hpp"
#include "simulators/recursion.hpp"
#include "tests/support/cli.hpp"
#include "theory/check.hpp"
#include "theory/tail_sums.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using namespace cbs::exp;
namespace fs = std::filesystem;
using cbs::sim::Curve;
using cbs::sim::SimOptions;

namespace {

ConfigEntry entry(const std::string& key, const std::string& value) {
    return {key, value, "test"};
}

std::string refusal(const ConfigEntries& entries) {
    try {
        resolve_sim_options(entries);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "(accepted)";
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

/// Writes `text` to <scratch>/name and returns the path.
std::string write_file(const std::string& name, const std::string& text) {
    const fs::path p = cbs::test::scratch_dir("faults_num") / name;
    std::ofstream(p) << text;
    return p.string();
}

/// The power-law spectrum of THEORY.md section 1 for i = 1..d as a spectrum file
/// ("%.17g" round-trips every double exactly).
std::string power_law_file(const std::string& name, double a, double b, int d) {
    std::string text = "# power law a = " + std::to_string(a) + ", b = " + std::to_string(b) + "\n";
    char line[128];
    for (int i = 1; i <= d; ++i) {
        std::snprintf(line, sizeof line, "%.17g %.17g\n", std::pow(i, -a), std::pow(i, -b));
        text += line;
    }
    return write_file(name, text);
}

/// Shortest round-tripping text of a double (a config value).
std::string fmt_double(double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

bool is_diverged(const cbs::data::RunRecord& run) {
    return std::get<std::int64_t>(run.attrs.at("diverged")) == 1;
}

} // namespace

// ---- diverging learning rates ---------------------------------------------------------------

TEST_CASE("faults: a diverging lr is recorded as diverged by every simulator", "[faults]") {
    struct Case {
        const char* name;
        ConfigEntries entries;
    };
    const std::vector<Case> cases = {
        {"recursion", {entry("lr", "50"), entry("steps", "2000")}},
        {"recursion, lr = 1e300",
         {entry("lr", "1e300"), entry("steps", "2000"), entry("momentum", "0.9")}},
        {"montecarlo",
         {entry("simulator", "montecarlo"), entry("model.size", "32"), entry("lr", "50"),
          entry("steps", "2000"), entry("montecarlo.seeds", "4")}},
        {"widenet",
         {entry("simulator", "widenet"), entry("net.width", "16"), entry("net.input_dim", "8"),
          entry("net.seeds", "2"), entry("eval.samples", "64"), entry("lr", "1e4"),
          entry("steps", "500")}},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        const SimOptions o = resolve_sim_options(c.entries);
        const Curve curve = simulate_any(o);
        CHECK(curve.diverged);
        CHECK(curve.diverged_step >= 1);
        CHECK(curve.diverged_step <= o.total_steps()); // stopped, not run to the end
        for (double r : curve.risk)
            CHECK(std::isfinite(r)); // only the steps before the divergence are kept
        for (std::size_t i = 0; i < curve.step.size(); ++i)
            CHECK(curve.step[i] < curve.diverged_step);
        const cbs::data::RunRecord run = make_run_record(o, curve);
        CHECK(is_diverged(run));
        CHECK(std::get<std::int64_t>(run.attrs.at("diverged_step")) == curve.diverged_step);
    }
}

TEST_CASE("faults: cbs simulate with a diverging lr exits 0 and says so", "[faults]") {
    const fs::path out = cbs::test::scratch_dir("faults_num") / "diverged.h5";
    const cbs::test::CliResult r =
        cbs::test::run_cbs("simulate --set lr=100 --set steps=500 --out " + out.string());
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out + r.err, "DIVERGED"));
    const cbs::data::Study study = cbs::data::read_study(out.string());
    REQUIRE(study.runs.size() == 1);
    CHECK(is_diverged(study.runs.front()));
}

TEST_CASE("faults: cbs measure counts diverged runs as never reaching the target", "[faults]") {
    // Two batch sizes x two learning rates; the fastest-looking run at B = 4 is marked diverged
    // (its curve stops early, but what it recorded would otherwise win the target and B = 4).
    const auto run = [](const std::string& id, std::int64_t batch, double lr,
                        std::vector<double> risk, bool diverged) {
        cbs::data::RunRecord r;
        r.id = id;
        r.attrs["batch"] = batch;
        r.attrs["lr"] = lr;
        r.attrs["data.samples"] = std::int64_t{64};
        r.attrs["diverged"] = std::int64_t{diverged ? 1 : 0};
        const std::int64_t budget = 64 / batch;
        for (std::size_t i = 0; i < risk.size(); ++i) {
            const std::int64_t s = static_cast<std::int64_t>(i + 1) * budget / 4;
            r.step.push_back(s);
            r.samples.push_back(s * batch);
        }
        r.risk = risk;
        r.risk_ewa = risk;
        return r;
    };
    cbs::data::Study study;
    study.runs.push_back(run("a", 1, 0.1, {0.8, 0.4, 0.2, 0.1}, false));
    study.runs.push_back(run("b", 4, 0.1, {0.9, 0.6, 0.3, 0.1}, false));
    study.runs.push_back(run("c", 4, 9.0, {0.01, 0.001, 1e-4, 1e-5}, true));
    const std::vector<MeasuredGroup> groups = measure_study(study, 0, 0);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].target == Approx(0.1)); // not 1e-5 from the diverged run
    REQUIRE(groups[0].points.size() == 2);
    CHECK(groups[0].points[1].batch == 4);
    CHECK(groups[0].points[1].steps == Approx(16)); // run b reaches 0.1 at its budget, 16 steps

    // All runs of a batch size diverged: that batch size never reaches the target.
    study.runs.erase(study.runs.begin() + 1);
    const std::vector<MeasuredGroup> only = measure_study(study, 0, 0);
    REQUIRE(only[0].points.size() == 2);
    CHECK(std::isinf(only[0].points[1].steps));
    CHECK_FALSE(only[0].measurable);
}

TEST_CASE("faults: cbs run tunes over an lr grid with diverging points and completes", "[faults]") {
    const StudySpec spec = parse_study(parse_toml(R"(
spectrum.a = 2.0
spectrum.b = 4.0
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["sgd"]
batches = [1, 4, 16, 64]
lr_grid = [0.125, 0.25, 0.5, 64.0, 1e6]
lr_refine = 2
bootstrap = 20
[series.data]
data.samples = [2000]
)",
                                                  "test"));
    const StudyResult result = run_study(spec, [](const std::string&) {});
    REQUIRE(result.groups.size() == 1);
    const GroupResult& g = result.groups.front();
    CHECK(std::isfinite(g.target));
    for (const BatchResult& b : g.batches) {
        INFO("batch " << b.batch);
        if (std::isfinite(b.steps)) CHECK(b.lr < 64.0); // diverging lrs never win
    }
    CHECK(g.measurable);
}

// ---- spectrum.file ----------------------------------------------------------------------------

TEST_CASE("faults: spectrum.file refuses bad files with one line naming the file and line",
          "[faults][spectrum]") {
    struct Case {
        const char* text;
        const char* expected; ///< after "`spectrum.file` = PATH: "
    };
    const std::vector<Case> cases = {
        {"1 1\n0.5 0\n", "line 2: signal_i = lambda_i w*_i^2 = 0 must be > 0"},
        {"1 1\n# comment\n-0.5 0.1\n", "line 3: lambda_i = -0.5 must be > 0"},
        {"0 1\n", "line 1: lambda_i = 0 must be > 0"},
        {"1 nan\n", "line 1: signal_i = lambda_i w*_i^2 = nan must be finite"},
        {"inf 1\n", "line 1: lambda_i = inf must be finite"},
        {"1 1e400\n", "line 1: signal_i = lambda_i w*_i^2 = '1e400' is not a number"},
        {"1 x\n", "line 1: signal_i = lambda_i w*_i^2 = 'x' is not a number"},
        {"1 2 3\n", "line 1: expected two numbers `lambda_i signal_i`, found 3 fields"},
        {"1\n", "line 1: expected two numbers `lambda_i signal_i`, found 1 field"},
        {"", "no entries"},
        {"# only a comment\n\n   \n", "no entries"},
    };
    int k = 0;
    for (const Case& c : cases) {
        const std::string path = write_file("bad" + std::to_string(k++) + ".txt", c.text);
        INFO(c.text);
        const std::string msg = refusal({entry("spectrum.file", path)});
        CHECK(msg.rfind("`spectrum.file` = " + path + ": " + c.expected, 0) == 0);
        CHECK(msg.find('\n') == std::string::npos);
    }
    const std::string missing = (cbs::test::scratch_dir("faults_num") / "absent.txt").string();
    CHECK(refusal({entry("spectrum.file", missing)})
              .rfind("`spectrum.file` = " + missing + ": cannot open", 0) == 0);

    // Rules that involve other keys.
    const std::string good = write_file("good.txt", "1 1\n0.5 0.25\n0.25, 0.0625 # comma too\n");
    CHECK(refusal({entry("spectrum.file", good), entry("model.size", "4")})
              .rfind("`model.size` = 4: must be inf or <= the dimension of `spectrum.file` (3",
                     0) == 0);
    CHECK(contains(refusal({entry("spectrum.file", good), entry("simulator", "widenet")}),
                   "applies only to simulator = recursion or montecarlo"));
    CHECK(refusal({entry("spectrum.file", good)}) == "(accepted)");
    CHECK(refusal({entry("spectrum.file", good), entry("simulator", "montecarlo")}) ==
          "(accepted)");

    // Through the CLI: exit 2, one line, nothing written.
    const std::string bad = write_file("cli_bad.txt", "1 1\n1 -1\n");
    const fs::path out = cbs::test::scratch_dir("faults_num") / "never.h5";
    const cbs::test::CliResult r =
        cbs::test::run_cbs("simulate --set spectrum.file=" + bad + " --out " + out.string());
    CHECK(r.code == 2);
    CHECK(r.err == "cbs: error: `spectrum.file` = " + bad +
                       ": line 2: signal_i = lambda_i w*_i^2 = -1 must be > 0\n");
    CHECK_FALSE(fs::exists(out));
}

TEST_CASE("faults: a spectrum file equal to the power law reproduces the built-in results",
          "[faults][spectrum]") {
    // Built-in, model.size = M: coordinates 1..M learned, the tail i > M acts as extra label noise
    // T = sum_{i>M} i^-b and adds T/2 to every risk. A file with the first M coordinates and
    // noise.sigma2 + T is the same problem minus that constant: the risks must differ by T/2.
    const double a = 1.8, b = 2.6, sigma2 = 0.3;
    const int M = 40;
    const double T = cbs::theory::power_tail_sum(b, M + 1.0);
    const std::string file = power_law_file("power40.txt", a, b, M);
    const ConfigEntries common = {entry("spectrum.a", "1.8"), entry("spectrum.b", "2.6"),
                                  entry("batch", "4"),        entry("lr", "0.4"),
                                  entry("momentum", "0.5"),   entry("ewa.decay", "0.95"),
                                  entry("steps", "400"),      entry("record", "30")};
    for (const char* simulator : {"recursion", "montecarlo"}) {
        INFO(simulator);
        ConfigEntries builtin = common, given = common;
        builtin.push_back(entry("simulator", simulator));
        builtin.push_back(entry("model.size", std::to_string(M)));
        builtin.push_back(entry("noise.sigma2", "0.3"));
        builtin.push_back(entry("quadrature.tol", "1e-12"));
        builtin.push_back(entry("montecarlo.seeds", "8"));
        given.push_back(entry("simulator", simulator));
        given.push_back(entry("spectrum.file", file));
        given.push_back(entry("noise.sigma2", fmt_double(sigma2 + T)));
        given.push_back(entry("montecarlo.seeds", "8"));
        const Curve want = simulate_any(resolve_sim_options(builtin));
        const Curve got = simulate_any(resolve_sim_options(given));
        REQUIRE(got.step == want.step);
        CHECK_FALSE(got.diverged);
        for (std::size_t i = 0; i < want.step.size(); ++i) {
            INFO("step " << want.step[i]);
            // Same arithmetic up to the rounding of sigma2 + T, the file's 17 digits and (Monte
            // Carlo) sqrt(lambda) vs pow(i, -a/2): a few ulps per step, amplified by at most
            // the number of steps (the map is a contraction at this lr): 1e-9 relative is ample.
            CHECK(got.risk[i] + 0.5 * T == Approx(want.risk[i]).epsilon(1e-9));
            CHECK(got.risk_ewa[i] + 0.5 * T == Approx(want.risk_ewa[i]).epsilon(1e-9));
        }
    }
    // model.size < dimension: the file's own tail is the approximation error, as for the power
    // law. File of 60 coordinates, M = 40 == the 40-line file plus noise and constant.
    const std::string longer = power_law_file("power60.txt", a, b, 60);
    double T60 = 0.0;
    for (int i = M + 1; i <= 60; ++i)
        T60 += std::pow(i, -b);
    ConfigEntries head = common, cut = common;
    head.push_back(entry("spectrum.file", file));
    head.push_back(entry("noise.sigma2", fmt_double(sigma2 + T60)));
    cut.push_back(entry("spectrum.file", longer));
    cut.push_back(entry("model.size", "40"));
    cut.push_back(entry("noise.sigma2", "0.3"));
    const Curve h = simulate_any(resolve_sim_options(head));
    const Curve c = simulate_any(resolve_sim_options(cut));
    REQUIRE(h.step == c.step);
    for (std::size_t i = 0; i < c.step.size(); ++i)
        CHECK(h.risk[i] + 0.5 * T60 == Approx(c.risk[i]).epsilon(1e-12));

    // The run id follows the file's numbers, not only its name.
    const SimOptions before = resolve_sim_options({entry("spectrum.file", file)});
    power_law_file("power40.txt", a, b + 0.1, M); // same path, other numbers
    const SimOptions after = resolve_sim_options({entry("spectrum.file", file)});
    CHECK(run_id(before) != run_id(after));
    const cbs::data::RunRecord record = make_run_record(after, simulate_any(after));
    CHECK(std::get<std::string>(record.attrs.at("spectrum.file")) == file);
    // Runs without a file keep their ids and attributes (no spectrum.file key written).
    CHECK(make_run_record(resolve_sim_options({}), Curve{}).attrs.count("spectrum.file") == 0);
}

// ---- EWA decay next to 1 ----------------------------------------------------------------------

TEST_CASE("faults: EWA bias correction stays finite and exact for tau next to 1", "[faults][ewa]") {
    // One coordinate, lambda = 1, w* = 1, sigma2 = 0 and a huge batch (gradient noise ~ 1/B =
    // 1e-12 relative): e_t = q^t with q = 1 - eta, and the corrected EWA error in closed form is
    // (1 - tau) q (q^t - tau^t) / ((q - tau)(1 - tau^t)). For tau = 1 - 1e-12 it is the plain
    // average of e_1..e_t; the recursion must reproduce it, not 0/0.
    const std::string file = write_file("one.txt", "1 1\n");
    const double eta = 0.1, q = 1.0 - eta;
    // (tau = q = 0.9 would make the closed form 0/0: an ordinary decay other than q is used.)
    for (const char* tau_text : {"0.999999", "0.999999999999", "0.95"}) {
        INFO("tau = " << tau_text);
        const double tau = std::stod(tau_text);
        const SimOptions o = resolve_sim_options(
            {entry("spectrum.file", file), entry("noise.sigma2", "0"), entry("batch", "1e12"),
             entry("lr", "0.1"), entry("ewa.decay", tau_text), entry("steps", "200"),
             entry("record", "all")});
        const Curve curve = simulate_any(o);
        REQUIRE(curve.step.size() == 200);
        for (std::size_t i = 0; i < curve.step.size(); ++i) {
            const double t = static_cast<double>(curve.step[i]);
            // tau^t and 1 - tau^t without cancellation (as the code under test must do too).
            const double one_minus_tau_t = -std::expm1(t * std::log(tau));
            const double tau_t = std::exp(t * std::log(tau));
            const double h = (1.0 - tau) * q * (std::pow(q, t) - tau_t) / (q - tau);
            const double want = 0.5 * std::pow(h / one_minus_tau_t, 2);
            INFO("step " << t);
            REQUIRE(std::isfinite(curve.risk_ewa[i]));
            // 1e-12 gradient noise plus the rounding of (1 - tau) (exact: Sterbenz) and of
            // log(tau) (1 ulp relative): 1e-9 relative leaves three orders of margin.
            CHECK(curve.risk_ewa[i] == Approx(want).epsilon(1e-9));
            CHECK(curve.risk[i] == Approx(0.5 * std::pow(q, 2 * t)).epsilon(1e-9));
        }
    }
    // Monte Carlo with the same tiny case stays finite (its correction is the same formula).
    const Curve mc = simulate_any(resolve_sim_options(
        {entry("simulator", "montecarlo"), entry("spectrum.file", file),
         entry("ewa.decay", "0.999999999999"), entry("steps", "50"), entry("batch", "2"),
         entry("lr", "0.1"), entry("montecarlo.seeds", "4")}));
    for (double r : mc.risk_ewa)
        CHECK(std::isfinite(r));
    CHECK(refusal({entry("ewa.decay", "1")}).rfind("`ewa.decay` = 1: must be in [0, 1)", 0) == 0);
}

// ---- batch larger than the data --------------------------------------------------------------

TEST_CASE("faults: data.samples < batch runs one step of one whole batch", "[faults]") {
    // The documented rule (`cbs simulate --help`, keys batch and data.samples): steps =
    // ceil(n / B), and n < B is one step of B samples.
    for (const char* simulator : {"recursion", "montecarlo"}) {
        INFO(simulator);
        const SimOptions o = resolve_sim_options(
            {entry("simulator", simulator), entry("model.size", "16"), entry("batch", "64"),
             entry("data.samples", "10"), entry("montecarlo.seeds", "2")});
        CHECK(o.total_steps() == 1);
        const Curve c = simulate_any(o);
        REQUIRE(c.step == std::vector<std::int64_t>{1});
        CHECK(c.samples == std::vector<std::int64_t>{64});
        CHECK(std::isfinite(c.risk.front()));
    }
    // The run says so when it happens, not only in --help.
    const cbs::test::CliResult run =
        cbs::test::run_cbs("simulate --set model.size=16 --set batch=64 --set data.samples=10");
    CHECK(run.code == 0);
    CHECK(contains(run.out, "note: data.samples = 10 < batch = 64: one step of 64 samples"));
    const cbs::test::CliResult help = cbs::test::run_cbs("simulate --help");
    CHECK(contains(help.out, "B > data.samples"));
    CHECK(contains(help.out, "(n < batch: one step)"));
}

// ---- counts near the int64 range ----------------------------------------------------------------

TEST_CASE("faults: step and sample counts near INT64_MAX are refused, not overflowed", "[faults]") {
    // Found by fuzz_toml_config in CI: data.samples = INT64_MAX overflowed ceil(n / B) (signed
    // overflow, UBSan) before the 1e9-step limit could refuse it.
    SimOptions huge;
    huge.samples = std::numeric_limits<std::int64_t>::max();
    huge.batch = 16;
    CHECK(huge.budget_steps() == std::numeric_limits<std::int64_t>::max() / 16 + 1);
    huge.horizon = 1000.0; // horizon x budget is beyond int64: saturates instead of a bad cast
    CHECK(huge.total_steps() == std::numeric_limits<std::int64_t>::max());
    SimOptions exact;
    exact.samples = 96;
    exact.batch = 16;
    CHECK(exact.budget_steps() == 6);
    exact.samples = 97;
    CHECK(exact.budget_steps() == 7);

    CHECK(refusal({entry("batch", "16"), entry("data.samples", "9223372036854775807")})
              .rfind("`data.samples` = 9223372036854775807: must be an integer in [0, 1e18]", 0) ==
          0);
    CHECK(refusal({entry("batch", "1"), entry("data.samples", "2000000000")})
              .rfind("`data.samples` = 2000000000: with batch = 1 and data.horizon = 1 this is "
                     "more than 1e9 steps",
                     0) == 0);
    CHECK(refusal({entry("batch", "9223372036854775807")})
              .rfind("`batch` = 9223372036854775807: must be an integer in [1, 1e12]", 0) == 0);
    // steps x batch counts the samples seen in int64 on every recorded step.
    CHECK(refusal({entry("batch", "1000000000000"), entry("steps", "10000000")})
              .rfind("`batch` = 1000000000000: times the 10000000 steps must be <= 1e18 samples",
                     0) == 0);
    CHECK(refusal({entry("batch", "1000000000000"), entry("steps", "1000")}) == "(accepted)");
}
