// Curves of other trainers -> CBS (experiments/curve_measure.hpp, `cbs measure`, `cbs report`):
// a known steps-to-target law recovered by each format, the three formats agreeing exactly, an LM
// study file exported to each format giving the study's own CBS, and the CLI's refusals.
#include "../support/cli.hpp"
#include "data/study_file.hpp"
#include "data/tensorboard.hpp"
#include "experiments/curve_measure.hpp"
#include "experiments/measure.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using namespace cbs;
using namespace cbs::exp;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// One logged point of a run.
struct Row {
    std::string run, group;
    double batch;
    std::int64_t step;
    double loss, tokens;
    std::string lr;
    double budget; ///< NaN: no budget column
};

std::string number(double v) {
    if (std::isnan(v)) return "nan";
    std::ostringstream s;
    s << std::setprecision(17) << v;
    return s.str();
}

/// Writes the rows as a long CSV, JSON lines, and a TensorBoard directory + runs table (values as
/// DT_DOUBLE tensors, exact, or as float32 simple values).
struct Exported {
    fs::path csv, jsonl, tb, runs, tb_float;
};

Exported export_rows(const std::vector<Row>& rows, const fs::path& dir, double context) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    Exported e{dir / "curves.csv", dir / "curves.jsonl", dir / "tb", dir / "runs.csv",
               dir / "tb_float"};
    const bool budgets = !std::isnan(rows.front().budget);
    {
        std::ofstream csv(e.csv);
        csv << "run,group,batch,step,loss,tokens,lr" << (budgets ? ",budget" : "") << "\n";
        std::ofstream jl(e.jsonl);
        for (const Row& r : rows) {
            csv << r.run << "," << r.group << "," << number(r.batch) << "," << r.step << ","
                << number(r.loss) << "," << number(r.tokens) << "," << r.lr;
            if (budgets) csv << "," << number(r.budget);
            csv << "\n";
            jl << "{\"run\": \"" << r.run << "\", \"group\": \"" << r.group
               << "\", \"batch\": " << number(r.batch) << ", \"step\": " << r.step
               << ", \"loss\": " << (std::isnan(r.loss) ? "null" : number(r.loss))
               << ", \"tokens\": " << number(r.tokens) << ", \"lr\": \"" << r.lr << "\"";
            if (budgets) jl << ", \"budget\": " << number(r.budget);
            jl << "}\n";
        }
    }
    std::map<std::string, std::vector<const Row*>> by_run;
    for (const Row& r : rows)
        by_run[r.run].push_back(&r);
    std::ofstream runs(e.runs);
    runs << "run,batch,group,tokens_per_step,lr" << (budgets ? ",budget" : "") << "\n";
    for (const auto& [run, points] : by_run) {
        const Row& first = *points.front();
        runs << run << "," << number(first.batch) << "," << first.group << ","
             << number(first.batch * context) << "," << first.lr;
        if (budgets) runs << "," << number(first.budget);
        runs << "\n";
        for (const auto& [dir_path, kind] :
             {std::pair{e.tb, data::EventToWrite::Kind::tensor_double},
              std::pair{e.tb_float, data::EventToWrite::Kind::simple_value}}) {
            std::vector<data::EventToWrite> events;
            for (const Row* p : points)
                events.push_back({p->step, "val/loss", p->loss, kind, 1.0e9 + p->step});
            fs::create_directories(dir_path / run);
            std::ofstream(dir_path / run / "events.out.tfevents.1700000000.host.1.v2",
                          std::ios::binary)
                << data::encode_event_file(events);
        }
    }
    return e;
}

/// The known law: steps to a loss L at batch B with learning-rate factor f is
///   s(L) = f S(B) (A / (L - L_inf))^2,  S(B) = a + b/B,
/// i.e. the loss curve L(s) = L_inf + A sqrt(f S(B) / s). For any target the fewest steps per
/// batch size are c(L) S(B), so the CBS = b/(5a) + 1.2 B_opt whatever the target (B_opt = the
/// smallest batch size, 8). Logged at 20 log-spaced steps per decade, from step 0.
std::vector<Row> law_rows(const std::string& group, double a, double b, double context,
                          double budget) {
    std::vector<Row> rows;
    auto add = [&](const std::string& run, double batch, double factor, const std::string& lr,
                   std::int64_t diverge_at) {
        const double S = factor * (a + b / batch);
        std::int64_t last = -1;
        for (int k = 0;; ++k) {
            const auto step =
                k == 0 ? 0 : static_cast<std::int64_t>(std::llround(std::pow(10.0, k / 20.0)));
            if (step == last) continue;
            last = step;
            if (step > 60 * S) break;
            double loss = step == 0 ? 10.0 : 2.0 + 3.0 * std::sqrt(S / static_cast<double>(step));
            if (diverge_at >= 0 && step >= diverge_at) loss = kNaN;
            rows.push_back({run, group, batch, step, loss, step * batch * context, lr, budget});
            if (std::isnan(loss)) break;
        }
    };
    for (double batch : {8, 16, 32, 64, 128, 256, 512, 1024}) {
        const std::string b = std::to_string(static_cast<int>(batch));
        add(group + "-b" + b + "-lr1e-3", batch, 1.0, "1e-3", -1);
        add(group + "-b" + b + "-lr3e-3", batch, 1.35, "3e-3", -1); // a worse learning rate
    }
    // Faster than any other run at B = 64 until it blows up: it must count as never.
    add(group + "-b64-lr1e-2", 64, 0.5, "1e-2", 2000);
    return rows;
}

const CurveGroup& group_named(const std::vector<CurveGroup>& groups, const std::string& name) {
    for (const CurveGroup& g : groups)
        if (g.group == name) return g;
    FAIL("no group " << name);
    return groups.front();
}

} // namespace

TEST_CASE("curves with a known steps-to-target law: each format recovers the CBS within 3%, "
          "and the three formats agree exactly",
          "[curves]") {
    const double context = 512;
    // Two groups: CBS = b/(5a) + 1.2 * 8.
    std::vector<Row> rows = law_rows("small", 100, 20000, context, 2e8);
    const std::vector<Row> large = law_rows("large", 50, 20000, context, 4e8);
    rows.insert(rows.end(), large.begin(), large.end());
    const std::map<std::string, double> truth{{"small", 20000 / 500.0 + 9.6},
                                              {"large", 20000 / 250.0 + 9.6}};
    const Exported e = export_rows(rows, test::scratch_dir("curve_law"), context);

    CurveInputOptions tb{"val/loss", e.runs.string(), false};
    std::vector<std::pair<std::string, data::CurveLog>> logs = {
        {"csv", read_curve_input(e.csv.string(), {})},
        {"jsonl", read_curve_input(e.jsonl.string(), {})},
        {"tensorboard", read_curve_input(e.tb.string(), tb)},
        {"tensorboard float32", read_curve_input(e.tb_float.string(), tb)}};
    for (const auto& [target_kind, options] :
         {std::pair{"budget column", CurveMeasureOptions{0, 0, 1.0, 0, 200}},
          std::pair{"fixed target", CurveMeasureOptions{2.6, 0, 1.0, 0, 200}}}) {
        std::vector<std::vector<CurveGroup>> results;
        for (const auto& [format, log] : logs) {
            INFO(target_kind << ", " << format);
            CHECK(log.runs.size() == 34);
            const std::vector<CurveGroup> groups = measure_curves(log, options);
            REQUIRE(groups.size() == 2);
            for (const CurveGroup& g : groups) {
                INFO(g.group);
                REQUIRE(g.measurable);
                CHECK(g.cbs.b_opt == 8);
                // 3%: the interpolation between logged points (20 per decade) of a curve with an
                // offset L_inf is not exactly linear in (log step, log loss).
                CHECK(g.cbs.study == Approx(truth.at(g.group)).epsilon(0.03));
                // The diverged run takes no part; the winners are the better learning rate.
                const CurveWinner& w64 = g.winners[3];
                CHECK((w64.batch == 64 && w64.runs == 3 && w64.diverged == 1));
                for (const CurveWinner& w : g.winners)
                    CHECK(w.hparams.at("lr") == "1e-3");
            }
            results.push_back(groups);
        }
        // CSV, JSON lines and the double-precision TensorBoard files: the same numbers, bit for
        // bit (targets, points, estimates, bootstrap intervals); float32 simple values within
        // float's rounding (1e-7 relative in the loss, amplified by the fit well below 1e-4).
        for (std::size_t k = 1; k < results.size(); ++k)
            for (std::size_t g = 0; g < 2; ++g) {
                const CurveGroup &x = results[0][g], &y = results[k][g];
                if (k < 3) {
                    CHECK(x.target == y.target);
                    CHECK(x.cbs.study == y.cbs.study);
                    CHECK(x.cbs.direct == y.cbs.direct);
                    CHECK(x.cbs.study_ci.low == y.cbs.study_ci.low);
                    CHECK(x.cbs.study_ci.high == y.cbs.study_ci.high);
                    for (std::size_t p = 0; p < x.points.size(); ++p)
                        CHECK(x.points[p].steps == y.points[p].steps);
                } else {
                    CHECK(y.cbs.study == Approx(x.cbs.study).epsilon(1e-4));
                }
            }
    }
    // --budget for every group overrides the column: a larger budget, a lower target, the same
    // CBS law.
    const std::vector<CurveGroup> wide = measure_curves(logs[0].second, {0, 4e8, 1.0, 0, 0});
    CHECK(group_named(wide, "small").budget == 4e8);
    CHECK(group_named(wide, "small").cbs.study == Approx(truth.at("small")).epsilon(0.03));
}

TEST_CASE("an LM study file exported to long CSV, JSON lines and TensorBoard gives the study's "
          "own CBS",
          "[curves]") {
    // A small LM-shaped study (what `cbs run` writes for simulator = "lm"): 2 model sizes x 2
    // data budgets, 5 batch sizes x 2 learning rates each, one diverged run; val loss curves of
    // the same law as above, tokens = samples (steps x batch x context).
    const std::int64_t context = 64;
    data::Study study;
    study.meta.cbs_version = "test";
    study.meta.git_sha = "test";
    study.meta.config = "simulator = \"lm\"";
    study.meta.created = data::utc_timestamp();
    for (std::int64_t m : {1000000, 4000000})
        for (std::int64_t n : {5120, 8192})
            for (std::int64_t batch : {8, 16, 32, 64, 128})
                for (double lr : {1e-3, 3e-3}) {
                    data::RunRecord r;
                    r.id = "m" + std::to_string(m) + "_n" + std::to_string(n) + "_b" +
                           std::to_string(batch) + "_lr" + std::to_string(lr);
                    r.attrs = {{"simulator", std::string("lm")},
                               {"model.size", m},
                               {"data.samples", n},
                               {"data.tokens", n * context},
                               {"model.context", context},
                               {"batch", batch},
                               {"lr", lr},
                               {"diverged", std::int64_t{0}},
                               {"diverged_step", std::int64_t{-1}}};
                    const bool diverges = m == 1000000 && n == 8192 && batch == 32 && lr == 3e-3;
                    const double S = (lr == 1e-3 ? 1.0 : 1.25) * (m == 1000000 ? 1.0 : 0.7) *
                                     (20.0 + 3000.0 / static_cast<double>(batch)) *
                                     (n == 5120 ? 1.0 : 1.3);
                    const std::int64_t budget_steps = n / batch;
                    for (std::int64_t s = 0; s <= 3 * budget_steps;
                         s = s == 0 ? 1 : std::max(s + 1, static_cast<std::int64_t>(s * 1.15))) {
                        if (diverges && s >= 100) {
                            r.attrs["diverged"] = std::int64_t{1};
                            r.attrs["diverged_step"] = s;
                            break;
                        }
                        const double loss =
                            s == 0 ? 11.0 : 3.0 + 2.0 * std::sqrt(S / static_cast<double>(s));
                        r.step.push_back(s);
                        r.samples.push_back(s * batch * context);
                        r.risk.push_back(loss + 0.05);
                        r.risk_ewa.push_back(loss);
                    }
                    study.runs.push_back(std::move(r));
                }
    const fs::path dir = test::scratch_dir("curve_roundtrip");
    const fs::path h5 = dir / "lm_study.h5";
    data::write_study(h5.string(), study);
    const data::Study stored = data::read_study(h5.string());
    const std::vector<MeasuredGroup> expected = measure_study(stored, 0, 200, 1.0, true);
    REQUIRE(expected.size() == 4);

    // Export: one row per recorded point (EWA val loss), a last `nan` row for a diverged run,
    // group = the study's group, budget = data.samples x context tokens.
    std::vector<Row> rows;
    for (const data::RunRecord& r : stored.runs) {
        const auto attr = [&](const char* k) { return std::get<std::int64_t>(r.attrs.at(k)); };
        const std::string group = "model.size=" + std::to_string(attr("model.size")) +
                                  " data.samples=" + std::to_string(attr("data.samples"));
        const double budget = static_cast<double>(attr("data.samples") * context);
        const std::string lr = number(std::get<double>(r.attrs.at("lr")));
        const auto batch = static_cast<double>(attr("batch"));
        for (std::size_t k = 0; k < r.step.size(); ++k)
            rows.push_back({r.id, group, batch, r.step[k], r.risk_ewa[k],
                            static_cast<double>(r.samples[k]), lr, budget});
        if (attr("diverged"))
            rows.push_back({r.id, group, batch, attr("diverged_step"), kNaN,
                            attr("diverged_step") * batch * context, lr, budget});
    }
    const Exported e = export_rows(rows, dir / "export", static_cast<double>(context));
    for (const auto& [format, log] :
         {std::pair{"csv", read_curve_input(e.csv.string(), {})},
          std::pair{"jsonl", read_curve_input(e.jsonl.string(), {})},
          std::pair{"tensorboard",
                    read_curve_input(e.tb.string(), {"val/loss", e.runs.string(), false})}}) {
        INFO(format);
        CHECK(log.runs.size() == stored.runs.size());
        const std::vector<CurveGroup> got = measure_curves(log, {0, 0, 1.0, 0, 200});
        REQUIRE(got.size() == expected.size());
        for (std::size_t g = 0; g < got.size(); ++g) {
            const MeasuredGroup& want = expected[g];
            INFO(want.label);
            CHECK(got[g].group == want.label);
            REQUIRE(want.measurable);
            REQUIRE(got[g].measurable);
            CHECK(got[g].target == want.target);
            REQUIRE(got[g].points.size() == want.points.size());
            for (std::size_t p = 0; p < want.points.size(); ++p) {
                CHECK(got[g].points[p].batch == want.points[p].batch);
                CHECK(got[g].points[p].steps == want.points[p].steps);
            }
            CHECK(got[g].cbs.study == want.cbs.study);
            CHECK(got[g].cbs.direct == want.cbs.direct);
            CHECK(got[g].cbs.study_ci.low == want.cbs.study_ci.low);
            CHECK(got[g].cbs.study_ci.high == want.cbs.study_ci.high);
        }
    }
}

TEST_CASE("cbs measure and cbs report read curves, malformed curves and misused options exit 2 "
          "with one line",
          "[curves][cli]") {
    const double context = 512;
    const Exported e = export_rows(law_rows("g", 100, 20000, context, 2e8),
                                   test::scratch_dir("curve_cli") / "law", context);
    // JSON: the CBS table and the curves object (winners, counts).
    const test::CliResult csv = test::run_cbs("measure --json --bootstrap 50 " + e.csv.string());
    REQUIRE(csv.code == 0);
    CHECK(csv.out.find("\"curves\": {") != std::string::npos);
    CHECK(csv.out.find("\"format\": \"csv\"") != std::string::npos);
    CHECK(csv.out.find("\"diverged\": 1") != std::string::npos);
    const test::CliResult tb = test::run_cbs("measure --json --bootstrap 50 " + e.tb.string() +
                                             " --tag val/loss --runs " + e.runs.string());
    REQUIRE(tb.code == 0);
    // The same CBS table from both (the curves object differs in format and source).
    CHECK(csv.out.substr(0, csv.out.find("\"curves\"")) ==
          tb.out.substr(0, tb.out.find("\"curves\"")));
    // Text: the table, the input line and the winners.
    const test::CliResult text = test::run_cbs("measure --bootstrap 50 " + e.jsonl.string());
    REQUIRE(text.code == 0);
    CHECK(text.out.find("(jsonl): 17 runs, 1 diverged") != std::string::npos);
    CHECK(text.out.find("g-b64-lr1e-3 (lr=1e-3)") != std::string::npos);

    // --skip-invalid: a corrupt file is counted, and the rest measured.
    const fs::path bad_file = e.tb / "g-b8-lr3e-3" / "events.out.tfevents.1700000000.host.1.v2";
    const std::string original = test::slurp(bad_file);
    std::string bytes = original;
    bytes[bytes.size() / 2] ^= 0x10;
    std::ofstream(bad_file, std::ios::binary) << bytes;
    const std::string tb_args = e.tb.string() + " --tag val/loss --runs " + e.runs.string();
    const test::CliResult refused = test::run_cbs("measure " + tb_args);
    CHECK(refused.code == 2);
    CHECK(refused.err.rfind("cbs: error: " + bad_file.string() + ": byte ", 0) == 0);
    CHECK(refused.err.find("CRC mismatch") != std::string::npos);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    const test::CliResult skipped =
        test::run_cbs("measure --json --bootstrap 50 --skip-invalid " + tb_args);
    REQUIRE(skipped.code == 0);
    CHECK(skipped.out.find("\"skipped_files\": 1") != std::string::npos);
    const test::CliResult skipped_text =
        test::run_cbs("measure --bootstrap 50 --skip-invalid " + tb_args);
    CHECK(skipped_text.out.find("1 invalid event files skipped") != std::string::npos);
    // Truncated: cut inside the last record.
    std::ofstream(bad_file, std::ios::binary) << original.substr(0, original.size() - 3);
    const test::CliResult truncated = test::run_cbs("measure " + tb_args);
    CHECK(truncated.code == 2);
    CHECK(truncated.err.find(bad_file.string() + ": byte ") != std::string::npos);
    CHECK(truncated.err.find("truncated record") != std::string::npos);

    const fs::path dir = test::scratch_dir("curve_cli");
    std::ofstream(dir / "bad.csv") << "run,batch,step,loss\na,8,1,3\na,8,x,2\n";
    std::ofstream(dir / "bad.jsonl") << "{\"run\": \"a\", \"batch\": 8, \"step\": 1, \"loss\": 3}\n"
                                     << "{\"run\": \"a\", \"batch\": 8, \"step\": 2, \"loss\": }\n";
    std::ofstream(dir / "notokens.csv") << "run,batch,step,loss\na,8,1,3\nb,16,1,3\n";
    fs::create_directories(dir / "empty_dir");
    struct Bad {
        std::string args, message;
    };
    for (const Bad& b : {
             Bad{"measure " + (dir / "bad.csv").string(), "bad.csv:3: step 'x' is not a number"},
             Bad{"measure " + (dir / "bad.jsonl").string(), "bad.jsonl:2: not JSON at byte"},
             Bad{"measure " + (dir / "notokens.csv").string(),
                 "group 'all' has no target: give --target LOSS, --budget TOKENS"},
             Bad{"measure --budget 1e6 " + (dir / "notokens.csv").string(),
                 "a budget target needs the tokens seen at each step"},
             Bad{"measure --target 2 --budget 1e6 " + e.csv.string(), "--target and --budget"},
             Bad{"measure --target -1 " + e.csv.string(), "--target -1: must be a loss > 0"},
             Bad{"measure --target 2 --target-multiple 1.1 " + e.csv.string(),
                 "--target-multiple scales R_opt"},
             Bad{"measure --tag val/loss " + e.csv.string(),
                 "--tag: applies to TensorBoard directories only"},
             Bad{"measure " + e.tb.string(), "--tag NAME chooses the scalar"},
             Bad{"measure " + e.tb.string() + " --tag val/loss", "--runs FILE.csv"},
             Bad{"measure " + (dir / "empty_dir").string(),
                 "a directory without TensorBoard event files"},
             Bad{"report --budget 1e6 --out " + (dir / "rep").string() + " " +
                     (dir / "notokens.csv").string(),
                 "a budget target needs the tokens"},
         }) {
        INFO(b.args);
        const test::CliResult r = test::run_cbs(b.args);
        CHECK(r.code == 2);
        CHECK(r.err.rfind("cbs: error: ", 0) == 0);
        CHECK(r.err.find(b.message) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK_FALSE(fs::exists(dir / "rep"));
    // A group name is the user's text: escaped in the JSON output.
    std::ofstream(dir / "quote.csv") << "run,group,batch,step,loss\na,\"q\"\"g\",8,1,3\n";
    const test::CliResult quoted =
        test::run_cbs("measure --json --target 2 " + (dir / "quote.csv").string());
    CHECK(quoted.code == 0);
    CHECK(quoted.out.find("{\"group\": \"q\\\"g\", \"target\": 2,") != std::string::npos);
    // The help names the curve options.
    const test::CliResult help = test::run_cbs("measure --help");
    for (const char* option : {"--target", "--budget", "--tag", "--runs", "--skip-invalid"})
        CHECK(help.out.find(option) != std::string::npos);
}

TEST_CASE("cbs report on curves: the CBS table, the winners and the input's name", "[curves]") {
    if (std::system("/usr/bin/python3 -c 'import h5py, matplotlib, numpy' 2>/dev/null") != 0) {
        WARN("skipped: /usr/bin/python3 lacks h5py, matplotlib or numpy");
        return;
    }
    const double context = 512;
    const fs::path dir = test::scratch_dir("curve_report");
    const Exported e = export_rows(law_rows("g", 100, 20000, context, 2e8), dir / "law", context);
    const fs::path out = dir / "report";
    const test::CliResult r =
        // A CSV export and TensorBoard logs in one report: the TensorBoard options go to the
        // directory.
        test::run_cbs("report --quiet --bootstrap 50 " + e.csv.string() + " " + e.tb.string() +
                      " --tag val/loss --runs " + e.runs.string() + " --out " + out.string());
    REQUIRE(r.code == 0);
    const std::string md = test::slurp(out / "report.md");
    CHECK(md.find("- `" + e.csv.string() + "`: curves (csv) measured by cbs") != std::string::npos);
    CHECK(md.find("## Winning runs per batch size (curves)") != std::string::npos);
    CHECK(md.find("| g-b64-lr1e-3 | lr=1e-3 | 3 | 1 |") != std::string::npos);
    CHECK(md.find("| curves.csv (curves).h5 | curves | g | curves |") != std::string::npos);
    CHECK(md.find("- `" + e.tb.string() + "`: curves (tensorboard) measured by cbs") !=
          std::string::npos);
    CHECK(md.find("| tb (curves).h5 | curves | g | curves |") != std::string::npos);
    CHECK(fs::exists(out / "steps_vs_batch_curves.png"));
    CHECK(fs::exists(out / "steps_vs_batch_curves_2.png"));
    // Options for inputs that are not there.
    const test::CliResult no_tb =
        test::run_cbs("report --tag loss " + e.csv.string() + " --out " + (dir / "r2").string());
    CHECK(no_tb.code == 2);
    CHECK(no_tb.err.find("--tag, --runs and --skip-invalid apply to TensorBoard log directories") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(dir / "r2"));
}
