// `cbs report` (and the report `cbs run` leaves behind) end to end: every expected figure is a
// valid, non-empty PNG referenced from both report files, the claims table carries the numbers of
// the study file's fits with verdicts that follow the stated rule, and failures (missing Python
// module, bad study file) are one-line errors with exit code 2 and nothing written.
// Needs /usr/bin/python3 with python3-numpy, python3-h5py and python3-matplotlib (setup-deps.sh).
#include "data/study_file.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/paths.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <variant>

namespace fs = std::filesystem;

namespace {

using cbs::test::slurp;

fs::path scratch() {
    return cbs::test::scratch_dir("report_test");
}

struct Result {
    int code;
    std::string err;
};

Result run_cbs(const std::string& args, const std::string& env = "") {
    const cbs::test::CliResult r = cbs::test::run_cbs(args, env);
    return {r.code, r.err};
}

std::string base64(const std::string& bytes) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) |
                                std::uint8_t(bytes[i + 2]);
        for (int k = 3; k >= 0; --k)
            out += table[(v >> (6 * k)) & 63];
    }
    if (i + 1 == bytes.size()) {
        const std::uint32_t v = std::uint8_t(bytes[i]) << 16;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::uint32_t big_endian(const std::string& s, std::size_t at) {
    return (std::uint32_t(std::uint8_t(s[at])) << 24) |
           (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

/// A small three-family study (data series and model series), run once for all test cases, with
/// the report `cbs run` writes beside it.
const fs::path& small_study() {
    static const fs::path path = [] {
        const fs::path p = scratch() / "small.h5";
        fs::remove_all(scratch() / "small-report");
        const Result r = run_cbs(
            "run --quiet --out " + p.string() +
            " --set study.lr_refine=1 --set study.bootstrap=60"
            " --set 'study.batches=[1,2,4,8,16,32,64,128,256,512,1024,2048,4096]'"
            " --set 'series.data.data.samples=[1000,3000,10000]'"
            " --set series.model.data.samples=3000 --set 'series.model.model.size=[16,64,256]'");
        INFO(r.err);
        REQUIRE(r.code == 0);
        return p;
    }();
    return path;
}

const std::vector<std::string> kFigures{
    "risk_curves",    "steps_vs_batch_data",        "steps_vs_batch_model", "cbs_vs_n_data",
    "cbs_vs_M_model", "threshold_sensitivity_data", "ropt_vs_n_data",       "published_lm_cbs"};

/// The claims-table row of report.md that contains every one of `needles`.
std::string claims_row(const std::string& md, const std::vector<std::string>& needles) {
    std::istringstream in(md);
    for (std::string line; std::getline(in, line);) {
        bool all = line.rfind("| ", 0) == 0;
        for (const std::string& n : needles)
            all = all && line.find(n) != std::string::npos;
        if (all) return line;
    }
    return "";
}

// cbs run leaves a report whose figures are valid PNGs referenced from both files
void check_figures(const fs::path& dir, const std::vector<std::string>& figures) {
    REQUIRE(fs::is_directory(dir));
    const std::string md = slurp(dir / "report.md");
    const std::string html = slurp(dir / "report.html");
    REQUIRE(!md.empty());
    REQUIRE(!html.empty());
    for (const std::string& name : figures) {
        INFO(name);
        const fs::path png = dir / (name + ".png");
        REQUIRE(fs::exists(png));
        const std::string bytes = slurp(png);
        REQUIRE(bytes.size() > 5000); // a drawn figure, not an empty canvas
        CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
        CHECK(bytes.compare(12, 4, "IHDR") == 0);
        CHECK(big_endian(bytes, 16) >= 300); // width in pixels
        CHECK(big_endian(bytes, 20) >= 200); // height in pixels
        CHECK(bytes.compare(bytes.size() - 8, 4, "IEND") == 0);
        CHECK(md.find("](" + name + ".png)") != std::string::npos);
        // The HTML embeds exactly this file's bytes.
        CHECK(html.find("data:image/png;base64," + base64(bytes) + "\"") != std::string::npos);
    }
    // Every figure has a title and a caption in both files.
    const auto count = [](const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (std::size_t at = text.find(what); at != std::string::npos;
             at = text.find(what, at + 1))
            ++n;
        return n;
    };
    CHECK(count(html, "<figcaption>") == figures.size());
    CHECK(count(html, "<figure id=\"fig-") == figures.size());
    CHECK(count(md, "![") == figures.size());
}

// One report over three kinds of study file: least squares, a coordinate check, LM runs.
void check_multi_file_report() {
    const fs::path dir = scratch();
    const std::string source = cbs::test::source_dir();
    const fs::path cc = dir / "coord.h5", lm = dir / "lm.h5", out = dir / "multi-report";
    fs::remove(cc);
    fs::remove(lm);
    REQUIRE(run_cbs("coord-check --widths 32,64,128 --set lr=0.03 --set batch=16 "
                    "--set net.input_dim=16 --out " +
                    cc.string())
                .code == 0);
    const std::string shards = source + "/data/samples/moby-dick-head-byte/";
    REQUIRE(run_cbs("sweep --quiet " + source + "/experiments/studies/lm_tiny.toml --set " +
                    "'batch=[4,16]' --set data.train=" + shards + "train_000000.bin" +
                    " --set data.val=" + shards + "val_000000.bin --out " + lm.string())
                .code == 0);
    // μP widths: a fixed-hyper-parameter sweep over widths (width convergence) and a small
    // version of experiments/studies/width.toml (CBS vs width, CBS vs data at one width).
    const fs::path wsweep = dir / "width_sweep.h5", wstudy = dir / "width_study.h5";
    fs::remove(wsweep);
    fs::remove(wstudy);
    REQUIRE(run_cbs("sweep --quiet --set simulator=widenet --set 'net.width=[16,32,64]' "
                    "--set steps=60 --set record=10 --set net.seeds=1 --set net.input_dim=8 "
                    "--set eval.samples=256 --out " +
                    wsweep.string())
                .code == 0);
    const Result w =
        run_cbs("run --quiet --no-report " + source + "/experiments/studies/width.toml" +
                " --set 'series.width.net.width=[16,32,64]' --set series.width.data.samples=1024" +
                " --set series.data.net.width=32 --set 'series.data.data.samples=[512,2048]'" +
                " --set 'study.batches=[2,4,8,16,32,64]' --set 'study.lr_grid=[0.05,0.1]'" +
                " --set study.bootstrap=40 --set net.seeds=1 --set eval.samples=256 --out " +
                wstudy.string());
    INFO(w.err);
    REQUIRE(w.code == 0);
    const Result r =
        run_cbs("report --quiet " + small_study().string() + " " + cc.string() + " " + lm.string() +
                " " + wsweep.string() + " " + wstudy.string() + " --out " + out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::vector<std::string> figures = kFigures;
    // Both least-squares files have a series 'data': the second file's figures are numbered,
    // not written over the first's.
    for (const char* f : {"coord_check", "lm_curves", "width_convergence", "cbs_vs_N_width",
                          "steps_vs_batch_width", "steps_vs_batch_data_2", "cbs_vs_n_data_2",
                          "threshold_sensitivity_data_2", "ropt_vs_n_data_2"})
        figures.push_back(f);
    check_figures(out, figures);
    // The width claim is measured from the width study, with a computed verdict.
    const std::string md = slurp(out / "report.md");
    const std::string width_row =
        claims_row(md, {"CBS flat in width under muP", "series 'width', ewa"});
    INFO(width_row);
    CHECK(width_row.find("max/min over the 3 largest = ") != std::string::npos);
    CHECK((width_row.find("| holds |") != std::string::npos ||
           width_row.find("| fails |") != std::string::npos));
}

/// The column `name` of `table` (the test fails if there is none).
const cbs::data::Table::Column& table_column(const cbs::data::Table& table,
                                             const std::string& name) {
    for (const auto& [n, c] : table.columns)
        if (n == name) return c;
    FAIL("no column " << name);
    throw;
}

// report claims table carries the study's fitted exponents with rule-following verdicts
void check_claims() {
    const cbs::data::Study study = cbs::data::read_study(small_study().string());
    const fs::path dir = small_study().parent_path() / "small-report";
    const std::string md = slurp(dir / "report.md");
    const cbs::data::Table& fits = study.tables.at("fits/cbs");
    const auto& series = std::get<std::vector<std::string>>(table_column(fits, "series"));
    const auto& family = std::get<std::vector<std::string>>(table_column(fits, "family"));
    const auto& variable = std::get<std::vector<std::string>>(table_column(fits, "variable"));
    const auto& exponent = std::get<std::vector<double>>(table_column(fits, "exponent"));
    const auto& low = std::get<std::vector<double>>(table_column(fits, "exponent_low"));
    const auto& high = std::get<std::vector<double>>(table_column(fits, "exponent_high"));
    const auto& predicted = std::get<std::vector<double>>(table_column(fits, "predicted"));
    int checked = 0;
    for (std::size_t i = 0; i < series.size(); ++i) {
        if (variable[i] != "data.samples" || family[i] != "ewa") continue;
        const std::string row = claims_row(md, {"CBS ∝ n^", "series '" + series[i] + "', ewa"});
        INFO(row);
        REQUIRE(!row.empty());
        CHECK(row.find(fmt::format("| {:.3f} |", predicted[i])) != std::string::npos);
        CHECK(row.find(fmt::format("| {:.3f} |", exponent[i])) != std::string::npos);
        CHECK(row.find(fmt::format("[{:.3f}, {:.3f}]", low[i], high[i])) != std::string::npos);
        // Verdict rule (report.py): inconclusive if the 95% interval is wider than 0.5, else
        // holds if the prediction lies inside the interval widened by 0.05.
        const bool wide = high[i] - low[i] > 0.5;
        const bool holds = low[i] - 0.05 <= predicted[i] && predicted[i] <= high[i] + 0.05;
        CHECK(row.find(wide    ? "| inconclusive |"
                       : holds ? "| holds |"
                               : "| fails |") != std::string::npos);
        ++checked;
    }
    CHECK(checked == 1);
    for (const char* f : {"sgd", "momentum", "ewa"}) {
        const std::string row =
            claims_row(md, {"CBS flat in model size M", std::string("'model', ") + f});
        INFO(f);
        CHECK(!row.empty());
        CHECK((row.find("| holds |") != std::string::npos ||
               row.find("| fails |") != std::string::npos));
    }
    // Momentum raises the CBS: the geometric mean over the data groups of CBS(momentum) /
    // CBS(sgd), recomputed here from the /cbs table.
    {
        const cbs::data::Table& cbs_table = study.tables.at("cbs/estimates");
        const auto& s = std::get<std::vector<std::string>>(table_column(cbs_table, "series"));
        const auto& g = std::get<std::vector<std::string>>(table_column(cbs_table, "group"));
        const auto& f = std::get<std::vector<std::string>>(table_column(cbs_table, "family"));
        const auto& b = std::get<std::vector<double>>(table_column(cbs_table, "cbs_study"));
        std::map<std::string, std::map<std::string, double>> by_group;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (s[i] == "data" && std::isfinite(b[i])) by_group[g[i]][f[i]] = b[i];
        double log_sum = 0;
        int groups = 0;
        for (const auto& [group, v] : by_group)
            if (v.count("momentum") && v.count("sgd")) {
                log_sum += std::log(v.at("momentum") / v.at("sgd"));
                ++groups;
            }
        REQUIRE(groups == 3);
        const std::string row = claims_row(md, {"Momentum raises the CBS", "series 'data'"});
        INFO(row);
        CHECK(row.find(fmt::format("| {:.3f} |", std::exp(log_sum / groups))) != std::string::npos);
        CHECK(row.find(fmt::format("over {} groups", groups)) != std::string::npos);
        CHECK((row.find("| holds |") != std::string::npos ||
               row.find("| fails |") != std::string::npos));
    }
    // Claims without data in this file say so instead of inventing a verdict.
    CHECK(claims_row(md, {"CBS flat in width under muP", "| no data |"}) != "");
    CHECK(claims_row(md, {"LM CBS grows with data", "| no data |"}) != "");
    CHECK(fs::exists(dir / "claims.json"));
}

// cbs report: a missing Python module names the Debian package; nothing is written
void check_missing_module() {
    const fs::path wrapper = scratch() / "python-without-site";
    {
        // -S skips the site module, so Debian's dist-packages (numpy, h5py, ...) are not found.
        std::ofstream w(wrapper);
        w << "#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n";
    }
    fs::permissions(wrapper, fs::perms::owner_all);
    const fs::path out = scratch() / "no-module-report";
    fs::remove_all(out);
    const Result r = run_cbs("report " + small_study().string() + " --out " + out.string(),
                             "CBS_PYTHON=" + wrapper.string());
    CHECK(r.code == 2);
    CHECK(r.err.rfind("cbs: error: ", 0) == 0);
    CHECK(r.err.find("install Debian's package python3-") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(out));
}

// cbs report: bad study files are refused; a good report replaces the old one whole
void check_bad_inputs() {
    const fs::path out = scratch() / "replaced-report";
    fs::remove_all(out);
    const Result missing = run_cbs("report /nonexistent/x.h5 --out " + out.string());
    CHECK(missing.code == 2);
    CHECK(missing.err.find("/nonexistent/x.h5") != std::string::npos);
    const fs::path not_h5 = scratch() / "not-hdf5.h5";
    std::ofstream(not_h5) << "hello\n";
    const Result foreign = run_cbs("report " + not_h5.string() + " --out " + out.string());
    CHECK(foreign.code == 2);
    CHECK(foreign.err.find(not_h5.string()) != std::string::npos);
    CHECK_FALSE(fs::exists(out));

    fs::create_directories(out);
    std::ofstream(out / "stale.txt") << "from an earlier report\n";
    REQUIRE(run_cbs("report --quiet " + small_study().string() + " --out " + out.string()).code ==
            0);
    CHECK(fs::exists(out / "report.html"));
    CHECK_FALSE(fs::exists(out / "stale.txt"));
    for (const auto& entry : fs::directory_iterator(scratch()))
        CHECK(entry.path().filename().string().find(".partial") == std::string::npos);
}

} // namespace

// One test case, so the small study behind every section is simulated once per process.
TEST_CASE("cbs report: figures, claims, missing modules and bad inputs", "[report]") {
    SECTION("cbs run leaves a report whose figures are valid PNGs referenced from both files") {
        check_figures(small_study().parent_path() / "small-report", kFigures);
    }
    SECTION("one report over least-squares, coordinate-check and LM files") {
        check_multi_file_report();
    }
    SECTION(
        "report claims table carries the study's fitted exponents with rule-following verdicts") {
        check_claims();
    }
    SECTION("cbs report: a missing Python module names the Debian package; nothing is written") {
        check_missing_module();
    }
    SECTION("cbs report: bad study files are refused; a good report replaces the old one whole") {
        check_bad_inputs();
    }
}

TEST_CASE("cbs run and the report state the prediction that applies to each averaging",
          "[report][average]") {
    // A saturated pair (b = 4.5 > 2a+1 = 4): the uniform average is judged against
    // 1 - a/min(b, 2a+1) = 0.625, the tail average against 1 - a/b = 0.667 (docs/averaging.md).
    const fs::path dir = scratch() / "averaging";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path config = dir / "study.toml";
    std::ofstream(config) << R"(spectrum.a = 1.5
spectrum.b = 4.5
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["uniform_average", "tail_average"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
lr_grid = [0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 1
bootstrap = 40
[series.data]
data.samples = [1000, 3000, 10000]
)";
    const fs::path out = dir / "averaging.h5";
    const cbs::test::CliResult r =
        cbs::test::run_cbs("run " + config.string() + " --out " + out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("1 - a/min(b, 2a+1) for uniform_average; 1 - a/b for tail_average") !=
          std::string::npos);
    const std::string md = slurp(dir / "averaging-report" / "report.md");
    const std::string uniform =
        claims_row(md, {"CBS ∝ n^(1 - a/min(b, 2a+1))", "series 'data', uniform_average"});
    const std::string tail = claims_row(md, {"CBS ∝ n^(1 - a/b)", "series 'data', tail_average"});
    INFO(uniform << "\n" << tail);
    CHECK(uniform.find("| 0.625 |") != std::string::npos);
    CHECK(tail.find("| 0.667 |") != std::string::npos);
    CHECK(claims_row(md, {"R_opt ∝ n^-(b-1)/b", "tail_average"}) != "");
    // Neither is the 'no data' filler: both carry a computed verdict.
    for (const std::string& row : {uniform, tail})
        CHECK((row.find("| holds |") != std::string::npos ||
               row.find("| fails |") != std::string::npos ||
               row.find("| inconclusive |") != std::string::npos));
}
