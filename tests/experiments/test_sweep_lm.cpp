// `simulator = lm` in `cbs sweep`: a tiny batch-size sweep of language models on the committed
// sample (experiments/studies/lm_tiny.toml) is stored like any sweep, resumes by skipping stored
// runs, and `cbs measure` turns it into a CBS table with the same code as the simulators; `cbs run`
// on it fits CBS vs tokens, and `cbs report` shows the LM curves, CBS and claim.
#include "data/study_file.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/paths.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <string>
#include <variant>

namespace fs = std::filesystem;
using cbs::test::run_cbs;

TEST_CASE("cbs sweep runs LM trainings (simulator = lm) and cbs measure finds their CBS",
          "[sweep][lm]") {
    const std::string source = cbs::test::source_dir();
    const std::string shards = source + "/data/samples/moby-dick-head-byte/";
    const fs::path out = cbs::test::scratch_dir("sweep_lm") / "lm.h5";
    fs::remove(out);
    const std::string args = "sweep " + source + "/experiments/studies/lm_tiny.toml --quiet" +
                             " --set data.train=" + shards + "train_000000.bin" +
                             " --set data.val=" + shards + "val_000000.bin --out " + out.string();
    const cbs::test::CliResult first = run_cbs(args);
    INFO(first.err);
    REQUIRE(first.code == 0);

    const cbs::data::Study study = cbs::data::read_study(out.string());
    REQUIRE(study.runs.size() == 5u); // batch = [2, 4, 8, 16, 32]
    std::vector<std::int64_t> batches;
    for (const cbs::data::RunRecord& r : study.runs) {
        CHECK(std::get<std::string>(r.attrs.at("simulator")) == "lm");
        CHECK(r.extra_curves.count("train_loss") == 1);
        // ewa.decays = [0.9, 0.97] is one value of one run (both decays tracked), not an axis.
        CHECK(r.extra_curves.count("risk_ewa_1") == 1);
        batches.push_back(std::get<std::int64_t>(r.attrs.at("batch")));
    }
    std::sort(batches.begin(), batches.end());
    CHECK(batches == std::vector<std::int64_t>{2, 4, 8, 16, 32});

    const cbs::test::CliResult again =
        run_cbs(args.substr(0, args.find(" --quiet")) + args.substr(args.find(" --quiet") + 8));
    REQUIRE(again.code == 0);
    CHECK(again.out.find("5 already stored, 0 ran") != std::string::npos);

    const cbs::test::CliResult measured = run_cbs("measure " + out.string());
    INFO(measured.out << measured.err);
    REQUIRE(measured.code == 0);
    // One group ("all"), measurable: its row carries numbers, not "not measurable".
    std::istringstream rows(measured.out);
    std::string header, row;
    std::getline(rows, header);
    std::getline(rows, row);
    CHECK(header.find("CBS") != std::string::npos);
    CHECK(row.rfind("all", 0) == 0);
    CHECK(row.find("not measurable") == std::string::npos);
}

TEST_CASE("cbs run on an LM study: sweep, measure per data budget, fit, resumable", "[run][lm]") {
    const std::string source = cbs::test::source_dir();
    const std::string shards = source + "/data/samples/moby-dick-head-byte/";
    const fs::path out = cbs::test::scratch_dir("run_lm") / "lm-study.h5";
    fs::remove(out);
    const std::string args = "run " + source + "/experiments/studies/lm_tiny.toml --no-report" +
                             " --set 'data.tokens=[2048,4096,8192]' --set 'batch=[2,4,8,16]'" +
                             " --set data.train=" + shards + "train_000000.bin" +
                             " --set data.val=" + shards + "val_000000.bin --out " + out.string();
    const cbs::test::CliResult first = run_cbs(args + " --quiet");
    INFO(first.out << first.err);
    REQUIRE(first.code == 0);
    CHECK(first.out.find("3 groups, 12 trainings (12 run now)") != std::string::npos);

    const cbs::data::Study study = cbs::data::read_study(out.string());
    CHECK(study.runs.size() == 12u);
    const cbs::data::Table& estimates = study.tables.at("cbs/estimates");
    const cbs::data::Table& fits = study.tables.at("fits/cbs");
    auto strings = [](const cbs::data::Table& t, const std::string& name) {
        for (const auto& [n, c] : t.columns)
            if (n == name) return std::get<std::vector<std::string>>(c);
        return std::vector<std::string>{};
    };
    auto numbers = [](const cbs::data::Table& t, const std::string& name) {
        for (const auto& [n, c] : t.columns)
            if (n == name) return std::get<std::vector<double>>(c);
        return std::vector<double>{};
    };
    CHECK(strings(estimates, "family") == std::vector<std::string>(3, "lm"));
    // n is the budget in tokens (data.tokens), sorted; M the non-embedding parameters.
    CHECK(numbers(estimates, "n") == std::vector<double>{2048, 4096, 8192});
    const std::vector<double> m = numbers(estimates, "M");
    CHECK(m.size() == 3u);
    CHECK(std::all_of(m.begin(), m.end(), [&](double v) { return v == m[0] && v > 1000; }));
    // One fit: CBS vs tokens at the one model size, from the three budgets.
    REQUIRE(strings(fits, "variable") == std::vector<std::string>{"data.samples"});
    CHECK(numbers(fits, "points") == std::vector<double>{3});

    const cbs::test::CliResult again = run_cbs(args + " --quiet");
    REQUIRE(again.code == 0);
    CHECK(again.out.find("(0 run now)") != std::string::npos);

    // Its report: the LM study's figures (validation curves, steps vs batch per (N, D), CBS vs
    // tokens per N and vs N per D), and the claim "LM CBS grows with data" carrying the fitted
    // exponent with a computed verdict.
    const fs::path report = out.parent_path() / "lm-report";
    fs::remove_all(report);
    const cbs::test::CliResult r =
        run_cbs("report --quiet " + out.string() + " --out " + report.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string md = cbs::test::slurp(report / "report.md");
    for (const char* figure : {"lm_validation_curves", "lm_steps_vs_batch", "lm_cbs_vs_D",
                               "lm_cbs_vs_N", "ropt_vs_n_lm", "published_lm_cbs"}) {
        INFO(figure);
        CHECK(fs::file_size(report / (std::string(figure) + ".png")) > 5000);
        CHECK(md.find(std::string("](") + figure + ".png)") != std::string::npos);
    }
    const double exponent = numbers(fits, "exponent").at(0);
    const double low = numbers(fits, "exponent_low").at(0);
    const double high = numbers(fits, "exponent_high").at(0);
    std::string row;
    std::istringstream lines(md);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("| LM CBS grows with data |", 0) == 0) row = line;
    INFO(row);
    CHECK(row.find(fmt::format("| {:.3f} |", exponent)) != std::string::npos);
    // report.py's rule: holds if the interval lies above 0; inconclusive if it is wider than 0.5.
    const bool holds = std::isfinite(low) && low > 0;
    const bool wide = std::isfinite(high) && high - low > 0.5;
    CHECK(row.find(holds  ? "| holds |"
                   : wide ? "| inconclusive |"
                          : "| fails |") != std::string::npos);
}
