// `cbs advise`: the published law refitted on data/reference/ (the 1.2B / 24.6B check, an
// independently computed answer), extrapolation warnings, context conversion, laws read from study
// files (joint and one-variable fits, inconsistent or unsuitable files refused), and the CLI end
// to end: text, JSON, one-line errors with exit code 2.
#include "data/study_file.hpp"
#include "experiments/advise.hpp"
#include "experiments/cbs_tables.hpp"
#include "experiments/scaling_fits.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/user_error.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

using namespace cbs::exp;
namespace fs = std::filesystem;

namespace {

using cbs::test::user_error;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// --- synthetic LM study files, in the layout experiments/lm_study.cpp writes ---------------

struct Point {
    double tokens, params, cbs;
};

/// B* = 0.05 D^0.45 N^0.05 times a fixed, uneven factor exp(0.03 sin k) per point, on a 3 x 3
/// grid of N (1M, 4M, 16M) and D (100M, 400M, 1.6B tokens).
std::vector<Point> grid_points() {
    std::vector<Point> points;
    int k = 0;
    for (const double n : {1e6, 4e6, 16e6})
        for (const double d : {1e8, 4e8, 1.6e9}) {
            ++k;
            points.push_back(
                {d, n,
                 0.05 * std::pow(d, 0.45) * std::pow(n, 0.05) * std::exp(0.03 * std::sin(k))});
        }
    return points;
}

struct StudyOptions {
    bool joint_row = true;  ///< the /fits/lm joint row
    bool fixed_rows = true; ///< the per-M (CBS vs D) rows
    double tamper_c = 1;    ///< multiplies the stored joint c
    std::vector<std::int64_t> contexts{256};
};

fs::path write_lm_study(const std::string& name, const std::vector<Point>& points,
                        const StudyOptions& o = {}) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    cbs::data::Study study;
    study.meta.cbs_version = "test";
    study.meta.git_sha = "test";
    study.meta.config = "simulator = \"lm\"";
    study.meta.created = cbs::data::utc_timestamp();
    int id = 0;
    for (const std::int64_t context : o.contexts) {
        cbs::data::RunRecord run;
        run.id = "run" + std::to_string(id++);
        run.attrs["simulator"] = std::string("lm");
        run.attrs["model.context"] = context;
        run.step = {0, 1};
        run.samples = {0, context};
        run.risk = run.risk_ewa = {5.0, 4.0};
        study.runs.push_back(run);
    }
    std::vector<EstimateRow> estimates;
    for (const Point& p : points) {
        EstimateRow row;
        row.series = row.family = "lm";
        row.group = "N=" + std::to_string(p.params) + " D=" + std::to_string(p.tokens);
        row.n = p.tokens;
        row.m = p.params;
        row.width = row.target = row.r_opt = nan;
        row.measurable = true;
        row.cbs.study = p.cbs;
        estimates.push_back(row);
    }
    EstimateRow unmeasurable; // left out of every fit, as by lm_study
    unmeasurable.series = unmeasurable.family = "lm";
    unmeasurable.group = "too few batch sizes";
    unmeasurable.n = 1e8;
    unmeasurable.m = 1e6;
    estimates.push_back(unmeasurable);
    study.tables["cbs/estimates"] = estimates_table(estimates);

    // /fits/lm: per-M fits of CBS vs D (variable data.samples), then the joint row.
    std::vector<FitRow> rows;
    std::vector<std::string> fixed;
    std::vector<double> fixed_value, gamma;
    if (o.fixed_rows)
        for (const double m : {1e6, 4e6, 16e6}) {
            std::vector<double> x, y;
            for (const Point& p : points)
                if (p.params == m) x.push_back(p.tokens), y.push_back(p.cbs);
            rows.push_back({"lm", "lm", "data.samples", fit_power_law(x, y), nan});
            fixed.push_back("M");
            fixed_value.push_back(m);
            gamma.push_back(nan);
        }
    cbs::data::Table fits = fits_table(rows);
    if (o.joint_row) {
        std::vector<double> d, n, y;
        for (const Point& p : points)
            d.push_back(p.tokens), n.push_back(p.params), y.push_back(p.cbs);
        const JointPowerLawFit j = fit_joint_power_law(d, n, y);
        const std::vector<std::variant<std::string, double>> row = {
            "lm",         "lm", "joint",          j.alpha, j.alpha_low,
            j.alpha_high, nan,  j.c * o.tamper_c, j.r2,    static_cast<double>(j.points)};
        for (std::size_t k = 0; k < row.size(); ++k) {
            auto& column = fits.columns[k].second;
            if (const auto* s = std::get_if<std::string>(&row[k]))
                std::get<std::vector<std::string>>(column).push_back(*s);
            else
                std::get<std::vector<double>>(column).push_back(std::get<double>(row[k]));
        }
        fixed.push_back("");
        fixed_value.push_back(nan);
        gamma.push_back(j.gamma);
    }
    fits.columns.push_back({"fixed", fixed});
    fits.columns.push_back({"fixed_value", fixed_value});
    fits.columns.push_back({"gamma", gamma});
    study.tables["fits/lm"] = fits;
    const fs::path path = cbs::test::scratch_dir("advise_test") / name;
    cbs::data::write_study(path.string(), study);
    return path;
}

} // namespace

TEST_CASE(
    "advise, published law: the 1.2B model on 24.6B tokens forecasts the measured 2533 sequences",
    "[advise]") {
    const CbsLaw law = published_law();
    REQUIRE(law.form == CbsLaw::Form::tokens);
    CHECK(law.context == 512);
    CHECK(law.single.points == 5);
    // The refit on the five Chinchilla points reproduces the study's published D law
    // (22.91 D^0.47, D in millions of tokens) to its printed digits.
    CHECK(law.single.c * std::pow(1e6, law.single.alpha) == Approx(22.91).epsilon(0.01));
    CHECK(law.single.alpha == Approx(0.47).margin(0.005));

    const Advice a = advise(law, 1.2e9, 24.6e9);
    // The requirement: within 15% of the measured 2533, with an interval containing it.
    CHECK(std::abs(a.cbs_sequences - 2533) <= 0.15 * 2533);
    CHECK(a.cbs_sequences_low <= 2533);
    CHECK(2533 <= a.cbs_sequences_high);
    // Independent answer (numpy least squares on log B* vs log D, scipy t(0.975, 3) prediction
    // interval, computed once for this test): 2608.5104, [2355.1423, 2889.1361].
    CHECK(a.cbs_sequences == Approx(2608.5104).epsilon(1e-6));
    CHECK(a.cbs_sequences_low == Approx(2355.1423).epsilon(1e-6));
    CHECK(a.cbs_sequences_high == Approx(2889.1361).epsilon(1e-6));
    CHECK(a.cbs_tokens == Approx(512 * a.cbs_sequences).epsilon(1e-15));
    CHECK(a.has_interval);
    // 24.6B tokens is 2.5% past the largest measured budget (24B): flagged, and nothing else.
    CHECK(a.extrapolated);
    REQUIRE(a.warnings.size() == 1);
    CHECK(contains(a.warnings[0], "D = 24.6B tokens is above"));
}

TEST_CASE("advise, published law: in-range requests carry no warning, and N, D and D/N outside are "
          "flagged",
          "[advise]") {
    const CbsLaw law = published_law();
    const Advice inside = advise(law, 302e6, 6.04e9); // the study's 302M Chinchilla point
    CHECK_FALSE(inside.extrapolated);
    CHECK(inside.warnings.empty());
    CHECK(inside.cbs_sequences_low < 1394);
    CHECK(1394 < inside.cbs_sequences_high);

    const Advice big = advise(law, 2e9, 20e9); // 10 tokens per parameter: only N is outside
    CHECK(big.extrapolated);
    REQUIRE(big.warnings.size() == 1);
    CHECK(contains(big.warnings[0], "N = 2B non-embedding parameters is above the largest"));

    const Advice small = advise(law, 100e6, 1e9); // 10 tokens per parameter: only D is outside
    REQUIRE(small.warnings.size() == 1);
    CHECK(contains(small.warnings[0], "D = 1B tokens is below the smallest"));

    // 240 tokens per parameter: inside the N and D ranges but far from where the study checked
    // that the CBS follows D alone (5.6 to 80 tokens per parameter).
    const Advice overtrained = advise(law, 100e6, 24e9);
    CHECK(overtrained.extrapolated);
    REQUIRE(overtrained.warnings.size() == 1);
    CHECK(contains(overtrained.warnings[0], "D/N = 240 tokens per parameter is outside 5.6 to 80"));

    // The interval widens away from the centre of the data (log-symmetric around the value).
    const Advice far = advise(law, 1.2e9, 240e9);
    CHECK(std::log(far.cbs_sequences_high / far.cbs_sequences) >
          std::log(inside.cbs_sequences_high / inside.cbs_sequences));
}

TEST_CASE("advise, another context keeps the tokens per batch and rescales the sequences",
          "[advise]") {
    const CbsLaw law = published_law();
    const Advice base = advise(law, 1.2e9, 24e9);
    const Advice longer = advise(law, 1.2e9, 24e9, 2048);
    CHECK(longer.context == 2048);
    CHECK(longer.cbs_tokens == Approx(base.cbs_tokens).epsilon(1e-15));
    CHECK(longer.cbs_sequences == Approx(base.cbs_sequences / 4).epsilon(1e-15));
    CHECK(longer.cbs_sequences_high == Approx(base.cbs_sequences_high / 4).epsilon(1e-15));
    CHECK(contains(advice_text(law, longer), "converted from sequences of 512 tokens"));
    CHECK_FALSE(contains(advice_text(law, base), "converted from"));

    CHECK(contains(user_error([&] { advise(law, 0, 1e9); }), "params = 0"));
    CHECK(contains(user_error([&] { advise(law, 1e9, -1); }), "tokens = -1"));
    CHECK(contains(user_error([&] { advise(law, 1e9, std::nan("")); }), "tokens = nan"));
}

TEST_CASE(
    "advise, study law: the joint fit of /fits/lm, refitted on /cbs/estimates, in the study's "
    "context",
    "[advise]") {
    const std::vector<Point> points = grid_points();
    const fs::path path = write_lm_study("joint.h5", points);
    const CbsLaw law = study_law(path.string(), 5e6, 5e8);
    REQUIRE(law.form == CbsLaw::Form::joint);
    CHECK(law.context == 256);
    CHECK(law.source_kind == "study");
    CHECK(law.cbs.size() == points.size()); // the unmeasurable row is left out

    std::vector<double> d, n, y;
    for (const Point& p : points)
        d.push_back(p.tokens), n.push_back(p.params), y.push_back(p.cbs);
    const JointPowerLawFit reference = fit_joint_power_law(d, n, y);
    const Forecast f = forecast(reference, 5e8, 5e6);
    const Advice a = advise(law, 5e6, 5e8);
    CHECK(a.context == 256);
    CHECK(a.cbs_sequences == Approx(f.value).epsilon(1e-12));
    CHECK(a.cbs_sequences_low == Approx(f.low).epsilon(1e-12));
    CHECK(a.cbs_sequences_high == Approx(f.high).epsilon(1e-12));
    CHECK(a.cbs_tokens == Approx(256 * f.value).epsilon(1e-12));
    CHECK(a.warnings.empty());
    CHECK(contains(law_expression(law), "N^0.0"));

    const Advice bigger = advise(law, 1e9, 5e8);
    REQUIRE(bigger.warnings.size() == 1);
    CHECK(contains(bigger.warnings[0], "N = 1B non-embedding parameters is above the largest"));
}

TEST_CASE("advise, study law without a joint row: the CBS-vs-D fit at the nearest model size",
          "[advise]") {
    StudyOptions o;
    o.joint_row = false;
    const fs::path path = write_lm_study("per_m.h5", grid_points(), o);
    // N = 5M: nearest of 1M, 4M, 16M in log is 4M.
    const CbsLaw law = study_law(path.string(), 5e6, 5e8);
    REQUIRE(law.form == CbsLaw::Form::tokens);
    REQUIRE(law.params.size() == 3);
    CHECK(std::all_of(law.params.begin(), law.params.end(), [](double v) { return v == 4e6; }));
    const Advice a = advise(law, 5e6, 5e8);
    REQUIRE(a.warnings.size() == 1);
    CHECK(contains(a.warnings[0], "the law was measured at N = 4M alone"));
    const Advice exact = advise(law, 4e6, 5e8);
    CHECK(exact.warnings.empty());
}

TEST_CASE("advise, study law: files without a usable law are refused in one line naming the file",
          "[advise]") {
    StudyOptions tampered;
    tampered.tamper_c = 1.01;
    const fs::path bad = write_lm_study("tampered.h5", grid_points(), tampered);
    CHECK(contains(user_error([&] { study_law(bad.string(), 5e6, 5e8); }), "disagree"));

    StudyOptions mixed;
    mixed.contexts = {256, 512};
    const fs::path two = write_lm_study("contexts.h5", grid_points(), mixed);
    CHECK(contains(user_error([&] { study_law(two.string(), 5e6, 5e8); }), "contexts"));

    StudyOptions empty;
    empty.joint_row = empty.fixed_rows = false;
    const fs::path none = write_lm_study("no_rows.h5", grid_points(), empty);
    CHECK(contains(user_error([&] { study_law(none.string(), 5e6, 5e8); }), "no fit of the CBS"));

    // A simulator study: /fits/cbs only.
    cbs::data::Study sim;
    sim.meta.cbs_version = sim.meta.git_sha = sim.meta.config = "test";
    sim.meta.created = cbs::data::utc_timestamp();
    sim.tables["fits/cbs"] = fits_table({});
    const fs::path sim_path = cbs::test::scratch_dir("advise_test") / "sim.h5";
    cbs::data::write_study(sim_path.string(), sim);
    const std::string message = user_error([&] { study_law(sim_path.string(), 5e6, 5e8); });
    CHECK(contains(message, sim_path.string()));
    CHECK(contains(message, "simulator study"));
    CHECK(contains(user_error([] { study_law("/nonexistent/study.h5", 1, 1); }),
                   "/nonexistent/study.h5"));
}

// --- the executable ----------------------------------------------------------------------

TEST_CASE("cbs advise --json: the 1.2B / 24.6B forecast and its schema", "[advise][cli]") {
    const cbs::test::CliResult r =
        cbs::test::run_cbs("advise --params 1.2e9 --tokens 24.6e9 --json");
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const double cbs = j.at("cbs_sequences").get<double>();
    CHECK(std::abs(cbs - 2533) <= 0.15 * 2533);
    CHECK(j.at("cbs_sequences_low").get<double>() <= 2533);
    CHECK(j.at("cbs_sequences_high").get<double>() >= 2533);
    CHECK(j.at("cbs_tokens").get<double>() == Approx(512 * cbs).epsilon(1e-12));
    CHECK(j.at("context").get<double>() == 512);
    CHECK(j.at("law").at("form") == "tokens");
    CHECK(j.at("law").at("tokens_exponent").get<double>() == Approx(0.47).margin(0.005));
    CHECK(j.at("law").at("params_exponent").is_null());
    CHECK(j.at("source").at("kind") == "published");
    CHECK(j.at("measured_range").at("params_max").get<double>() == 1.2e9);
    CHECK(j.at("extrapolated") == true);
    CHECK(j.at("warnings").size() == 1);
}

TEST_CASE("cbs advise text: the number, its meaning, the law, its range, the warning",
          "[advise][cli]") {
    const cbs::test::CliResult r = cbs::test::run_cbs("advise --params 1.2e9 --tokens 24.6e9");
    REQUIRE(r.code == 0);
    CHECK(contains(r.out, "2609 sequences of 512 tokens (95% interval 2355 to 2889)"));
    CHECK(contains(r.out, "doubling the batch costs more than 20% extra optimizer steps"));
    CHECK(contains(r.out, "Law: B* = 22.89 D^0.468 (D in millions of tokens"));
    CHECK(contains(r.out, "Measured on: N 85M to 1.2B non-embedding parameters, D 1.7B to 24B"));
    CHECK(contains(r.out, "Warning: D = 24.6B tokens is above"));
    const cbs::test::CliResult inside = cbs::test::run_cbs("advise --params 302e6 --tokens 6.04e9");
    REQUIRE(inside.code == 0);
    CHECK_FALSE(contains(inside.out, "Warning"));

    const cbs::test::CliResult help = cbs::test::run_cbs("advise --help");
    CHECK(help.code == 0);
    for (const char* option : {"--params", "--tokens", "--context", "--from", "--json"})
        CHECK(contains(help.out, option));
}

TEST_CASE("cbs advise --from a study file uses its law", "[advise][cli]") {
    const fs::path path = write_lm_study("cli_joint.h5", grid_points());
    const cbs::test::CliResult r =
        cbs::test::run_cbs("advise --params 5e6 --tokens 5e8 --json --from " + path.string());
    REQUIRE(r.code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.at("source").at("kind") == "study");
    CHECK(j.at("source").at("path") == path.string());
    CHECK(j.at("law").at("form") == "joint");
    CHECK(j.at("context").get<double>() == 256);
    CHECK(j.at("warnings").empty());
}

TEST_CASE("cbs advise refuses bad input in one line naming the flag, with exit code 2",
          "[advise][cli]") {
    const struct {
        const char* args;
        const char* expected; // part of the message
    } cases[] = {
        {"--params abc --tokens 1e9", "--params 'abc': must be a finite number > 0"},
        {"--params 1e9x --tokens 1e9", "--params '1e9x'"},
        {"--params 0 --tokens 1e9", "--params '0': must be a finite number > 0"},
        {"--params -5 --tokens 1e9", "--params '-5'"},
        {"--params 1e9 --tokens nan", "--tokens 'nan'"},
        {"--params 1e9 --tokens inf", "--tokens 'inf'"},
        {"--params 1e9 --tokens 1e10 --context 0", "--context '0'"},
        {"--params 1e9 --tokens 1e10 --context ''", "--context ''"},
        {"--params 1e9", "--tokens is required"},
        {"--tokens 1e9", "--params is required"},
        {"--params 1e9 --tokens 1e10 --from /nonexistent/study.h5",
         "--from: cannot read study file '/nonexistent/study.h5'"},
        {"--params 1e9 --tokens 1e10 --from /tmp", "--from: cannot read study file '/tmp'"},
        {"--params 1e9 --tokens 1e10 --from ''", "--from: cannot read study file ''"},
        {"--params 1e9 --tokens 1e10 --bogus", "--bogus"},
    };
    for (const auto& c : cases) {
        INFO(c.args);
        const cbs::test::CliResult r = cbs::test::run_cbs(std::string("advise ") + c.args);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("cbs: error: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(contains(r.err, c.expected));
    }
}
