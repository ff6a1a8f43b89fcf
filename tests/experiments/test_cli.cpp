// The `cbs` executable end to end: exit codes, one-line errors, no partial output files.
#include "tests/support/paths.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {
struct Result {
    int code;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path scratch_dir() {
    const fs::path dir = fs::temp_directory_path() / ("cbs_cli_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

/// Runs `cbs args` with `prefix` before it in the shell command (environment assignments, or
/// "cd DIR &&" to run it in another working directory).
Result run_cbs(const std::string& args, const std::string& prefix = "") {
    const fs::path dir = scratch_dir();
    const std::string cmd = prefix + " " + cbs::test::binary_dir() + "/cbs " + args + " >" +
                            (dir / "out.txt").string() + " 2>" + (dir / "err.txt").string();
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"),
            slurp(dir / "err.txt")};
}
} // namespace

TEST_CASE("cbs simulate refuses bad input with exit code 2 and leaves no output", "[cli]") {
    const fs::path out = scratch_dir() / "bad.h5";
    for (const char* bad :
         {"--set spectrum.a=0.9", "--set ewa.decay=1.5", "--set batch=0", "--set noise.sigma2=-1",
          "--set no.such.key=1", "--set lr", "--set average=median", "--set tail.fraction=0"}) {
        INFO(bad);
        const Result r = run_cbs(std::string("simulate ") + bad + " --out " + out.string());
        CHECK(r.code == 2);
        CHECK(r.err.rfind("cbs: error: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(fs::exists(out));
        CHECK_FALSE(fs::exists(out.string() + ".partial"));
    }
    // A file where --out needs a directory (a missing directory is created: see below).
    const fs::path blocker = scratch_dir() / "a_file";
    std::ofstream(blocker) << "not a directory";
    const Result below_file = run_cbs("simulate --out " + (blocker / "sub" / "x.h5").string());
    CHECK(below_file.code == 2);
    CHECK(below_file.err.find(blocker.string()) != std::string::npos);
    CHECK(below_file.err.find("is a file, not a directory") != std::string::npos);
    const Result unknown_option = run_cbs("simulate --bogus");
    CHECK(unknown_option.code == 2);
}

TEST_CASE("missing output directories are created, for default and explicit --out, refused input "
          "creates none",
          "[cli]") {
    const fs::path fresh = scratch_dir() / "fresh";
    fs::remove_all(fresh);
    fs::create_directories(fresh);
    const std::string in_fresh = "cd " + fresh.string() + " &&";

    // cbs run's default --out (results/study.h5) in a directory without results/.
    const fs::path study = scratch_dir() / "tiny_study.toml";
    std::ofstream(study) << "spectrum.a = 2.0\nspectrum.b = 4.0\nquadrature.tol = 1e-3\n"
                         << "[study]\nfamilies = [\"sgd\"]\nbatches = [1, 4, 16]\n"
                         << "lr_grid = [0.25, 0.5, 1.0]\nlr_refine = 1\nbootstrap = 10\n"
                         << "[series.data]\ndata.samples = [500]\n";
    const Result run = run_cbs("run " + study.string() + " --no-report --quiet", in_fresh);
    INFO(run.err);
    REQUIRE(run.code == 0);
    CHECK(fs::is_regular_file(fresh / "results" / "study.h5"));
    CHECK(run.out.find("wrote results/study.h5") != std::string::npos);

    // cbs report's default --out (results/report): its parent is created before the figures
    // script runs (CBS_PYTHON=/bin/true stands in for it: this checks cbs, not matplotlib).
    fs::remove_all(fresh / "results");
    const Result report =
        run_cbs("report " + study.string() + " --quiet", in_fresh + " CBS_PYTHON=/bin/true");
    CHECK(report.code == 0);
    CHECK(fs::is_directory(fresh / "results"));

    // An explicit --out several levels below an existing directory: all of them are created.
    const fs::path deep = fresh / "a" / "b" / "c" / "run.h5";
    const Result sim = run_cbs("simulate --set steps=200 --out " + deep.string());
    CHECK(sim.code == 0);
    CHECK(fs::is_regular_file(deep));
    for (const char* cmd : {"simulate --set steps=200",
                            "sweep --set batch=[1,2] --set steps=200 "
                            "--quiet",
                            "coord-check --widths 8,16 --steps 1 --set net.input_dim=4 "
                            "--set lr=0.03"}) {
        INFO(cmd);
        const fs::path out = fresh / "per_command" / std::to_string(std::strlen(cmd)) / "o.h5";
        CHECK(run_cbs(std::string(cmd) + " --out " + out.string()).code == 0);
        CHECK(fs::is_regular_file(out));
    }

    // Refused input leaves no directory behind.
    const fs::path refused = fresh / "refused" / "x.h5";
    for (const char* bad :
         {"simulate --set batch=0", "sweep --set batch=[0,1]", "run --set study.batches=[1]"}) {
        INFO(bad);
        const Result r = run_cbs(std::string(bad) + " --out " + refused.string());
        CHECK(r.code == 2);
        CHECK_FALSE(fs::exists(fresh / "refused"));
    }

    // --help says so.
    for (const char* sub : {"run", "simulate", "sweep", "coord-check", "report"}) {
        INFO(sub);
        const Result h = run_cbs(std::string(sub) + " --help");
        CHECK(h.code == 0);
        CHECK(h.out.find("created") != std::string::npos);
    }
}

TEST_CASE("cbs simulate prints a step / risk / EWA risk table and writes HDF5", "[cli]") {
    const fs::path out = scratch_dir() / "run.h5";
    fs::remove(out);
    const Result r = run_cbs("simulate --set steps=500 --set record=20 --out " + out.string());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("EWA risk") != std::string::npos);
    CHECK(r.out.find("         500 ") != std::string::npos); // the last step is a row
    CHECK(fs::exists(out));
    CHECK(fs::file_size(out) > 0);
}

TEST_CASE("cbs --help and cbs simulate --help list the keys with defaults", "[cli]") {
    for (const char* args : {"--help", "simulate --help"}) {
        const Result r = run_cbs(args);
        CHECK(r.code == 0);
        CHECK(r.out.find("spectrum.a") != std::string::npos);
        CHECK(r.out.find("ewa.decay") != std::string::npos);
        CHECK(r.out.find("[0.99]") != std::string::npos);
        CHECK(r.out.find("average ") != std::string::npos);
        CHECK(r.out.find("[ewa]") != std::string::npos);
        CHECK(r.out.find("tail.fraction") != std::string::npos);
    }
    CHECK(run_cbs("").code == 2); // a subcommand is required
}

TEST_CASE("each subcommand's --help lists what that subcommand reads, not the simulation-key "
          "table",
          "[cli]") {
    struct Expect {
        const char* sub;
        const char* reads;    ///< something the help must name
        bool simulation_keys; ///< lists the simulation-key table
    };
    for (const Expect& e :
         {Expect{"measure", "--bootstrap", false}, Expect{"fit", "--forecast", false},
          Expect{"report", "matplotlib", false}, Expect{"merge", "FILE.journal", false},
          Expect{"prepare-data", "--tokenizer", false}, Expect{"run", "study.batches", false},
          Expect{"coord-check", "lr = 0.01", false}, Expect{"train-lm", "model.d_model", false},
          Expect{"simulate", "ewa.decay", true}, Expect{"sweep", "ewa.decay", true}}) {
        INFO(e.sub);
        const Result r = run_cbs(std::string(e.sub) + " --help");
        CHECK(r.code == 0);
        CHECK(r.out.find(e.reads) != std::string::npos);
        const bool table = r.out.find("Configuration keys (TOML file") != std::string::npos;
        CHECK(table == e.simulation_keys);
        CHECK((r.out.find("spectrum.a ") != std::string::npos) == e.simulation_keys);
        CHECK((r.out.find("quadrature.tol") != std::string::npos) == e.simulation_keys);
    }
}

TEST_CASE("cbs measure on a CSV reproduces a hand-checkable CBS, cbs fit a hand-checkable slope",
          "[cli]") {
    // f(B) = 100 + 10000/B: B* = b/(5a) + 1.2 B_opt = 20 + 1.2 = 21.2 with B_opt = 1.
    const fs::path csv = scratch_dir() / "steps.csv";
    std::ofstream(csv) << "group,batch,steps\n"
                       << "g,1,10100\ng,2,5100\ng,4,2600\ng,8,1350\ng,16,725\ng,32,412.5\n";
    const Result r = run_cbs("measure --json " + csv.string());
    REQUIRE(r.code == 0);
    CHECK(r.out.find("\"study\": 21.2") != std::string::npos);
    const fs::path xy = scratch_dir() / "xy.csv";
    std::ofstream(xy) << "x,y\n1,2\n10,20\n100,200\n";
    const Result f = run_cbs("fit --json " + xy.string());
    REQUIRE(f.code == 0);
    const auto at = f.out.find("\"alpha\": ");
    REQUIRE(at != std::string::npos);
    CHECK(std::strtod(f.out.c_str() + at + 9, nullptr) == Approx(1.0).epsilon(1e-12));
    std::ofstream(xy) << "x,y\n1,abc\n";
    const Result bad = run_cbs("fit " + xy.string());
    CHECK(bad.code == 2);
    CHECK(bad.err.find(":2: 'abc' is not a number") != std::string::npos);
}

TEST_CASE("cbs coord-check prints a table, JSON and an HDF5 table of the same rows, and refuses "
          "bad widths",
          "[cli]") {
    const std::string common = "coord-check --widths 16,64 --params mup,sp --steps 3 --set "
                               "lr=0.03 --set batch=8 --set net.seeds=2 --set net.input_dim=8 ";
    // JSON: one row per parameterization x width x {step 0, step k}, one value per layer
    // (depth 2: h1, h2, out).
    const Result j = run_cbs(common + "--json");
    REQUIRE(j.code == 0);
    CHECK(j.out.rfind("{\"steps\": 3, \"layers\": [\"h1\", \"h2\", \"out\"], \"rows\": [", 0) == 0);
    std::size_t rows = 0, at = 0;
    while ((at = j.out.find("\"mean_abs\": [", at)) != std::string::npos) {
        ++rows;
        at += 13;
        // Three finite, positive numbers per row.
        char* end = nullptr;
        for (int l = 0; l < 3; ++l) {
            const double v = std::strtod(j.out.c_str() + at, &end);
            CHECK(v > 0.0);
            at = static_cast<std::size_t>(end - j.out.c_str()) + (l < 2 ? 2 : 0);
        }
        CHECK(j.out[at] == ']');
    }
    CHECK(rows == 8);
    for (const char* row : {"{\"param\": \"mup\", \"width\": 16, \"step\": 0,",
                            "{\"param\": \"sp\", \"width\": 64, \"step\": 3,"})
        CHECK(j.out.find(row) != std::string::npos);

    // Text: the same rows and the max/min summary per parameterization.
    const fs::path out = scratch_dir() / "coord.h5";
    fs::remove(out);
    const Result t = run_cbs(common + "--out " + out.string());
    REQUIRE(t.code == 0);
    CHECK(t.out.find("max/min over widths after 3 steps:") != std::string::npos);
    CHECK(t.out.find("\nmup    h1=") != std::string::npos);
    CHECK(t.out.find("\nsp     h1=") != std::string::npos);
    CHECK(fs::file_size(out) > 0);
    CHECK(slurp(out).find("coord_check") != std::string::npos);

    for (const char* bad :
         {"--widths 1", "--steps 0", "--params wide", "--set simulator=recursion"}) {
        fs::remove(out);
        const Result r = run_cbs(std::string("coord-check ") + bad + " --out " + out.string());
        INFO(bad << ": " << r.err);
        CHECK(r.code == 2);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(fs::exists(out));
    }
}

TEST_CASE("cbs coord-check: its own stable default lr, diverged widths shown as diverged and left "
          "out of the summary with a warning naming them",
          "[cli]") {
    // Defaults: lr = 0.01, not the simulators' 0.5, under which μP widths 128 and 1024 blow up.
    const Result d = run_cbs("coord-check --widths 128,1024 --params mup --set net.seeds=1 --json");
    REQUIRE(d.code == 0);
    CHECK(d.out.find("\"lr\": 0.01}") != std::string::npos);
    CHECK(d.out.find("\"diverged\": true") == std::string::npos);
    CHECK(d.out.find("null") == std::string::npos);
    CHECK(d.out.find("\"diverged_widths\": []") != std::string::npos);
    CHECK(d.err.empty());

    // lr = 0.5 (the case): μP width 128 and SP widths 128, 256 blow up within 10 steps.
    const std::string args = "coord-check --widths 64,128,256 --params mup,sp --set lr=0.5";
    const Result t = run_cbs(args);
    REQUIRE(t.code == 0);
    INFO(t.out);
    CHECK(t.out.find("mup        128     10    diverged    diverged    diverged\n") !=
          std::string::npos);
    CHECK(t.out.find("nan") == std::string::npos);
    CHECK(t.out.find("inf") == std::string::npos);
    CHECK(t.out.find("max/min over widths after 10 steps (finite widths only):") !=
          std::string::npos);
    CHECK(t.out.find("(widths 64, 256; diverged: 128)\n") != std::string::npos);
    CHECK(t.out.find("(widths 64; diverged: 128, 256)\n") != std::string::npos);
    CHECK(t.err == "cbs coord-check: warning: diverged after 10 steps at lr 0.5 (left out of the "
                   "max/min summary): mup width 128; sp widths 128, 256\n");
    // The μP summary is over widths 64 and 256: finite ratios >= 1.
    const auto mup_line = t.out.find("\nmup    h1=");
    REQUIRE(mup_line != std::string::npos);
    const double h1 = std::strtod(t.out.c_str() + mup_line + 11, nullptr);
    CHECK(std::isfinite(h1));
    CHECK(h1 >= 1.0);

    const Result j = run_cbs(args + " --json");
    REQUIRE(j.code == 0);
    CHECK(j.out.find("{\"param\": \"mup\", \"width\": 128, \"step\": 10, \"diverged\": true, "
                     "\"mean_abs\": [null, null, null]}") != std::string::npos);
    CHECK(j.out.find("{\"param\": \"mup\", \"width\": 256, \"step\": 10, \"diverged\": false, "
                     "\"mean_abs\": [") != std::string::npos);
    const auto summary = j.out.find("\"summary\": [{\"param\": \"mup\", \"max_over_min\": [");
    REQUIRE(summary != std::string::npos);
    CHECK(j.out.find("], \"widths\": [64, 256], \"diverged_widths\": [128]}", summary) !=
          std::string::npos);
    CHECK(j.out.find("\"widths\": [64], \"diverged_widths\": [128, 256]}", summary) !=
          std::string::npos);
    CHECK(j.out.find("null", summary) == std::string::npos); // every width-64 ratio is 1
    CHECK(j.err == t.err);
}

TEST_CASE("cbs run: in a combined log (stdout and stderr to one file) the summary comes whole "
          "before the report's line",
          "[cli]") {
    const fs::path dir = scratch_dir() / "combined_log";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path study = dir / "tiny_study.toml";
    std::ofstream(study) << "spectrum.a = 2.0\nspectrum.b = 4.0\nquadrature.tol = 1e-3\n"
                         << "[study]\nfamilies = [\"sgd\"]\nbatches = [1, 4, 16]\n"
                         << "lr_grid = [0.25, 0.5, 1.0]\nlr_refine = 1\nbootstrap = 10\n"
                         << "[series.data]\ndata.samples = [500]\n";
    // Stands in for the report's Python (CBS_PYTHON): prints its summary line on stderr, as
    // report.py does, so this checks cbs's ordering without needing matplotlib.
    const fs::path fake = dir / "fake_python.sh";
    std::ofstream(fake) << "#!/bin/sh\necho 'cbs report: 0 figures, 0 claims -> fake' >&2\n";
    fs::permissions(fake, fs::perms::owner_all);
    const fs::path log = dir / "log.txt";
    const std::string cmd = "CBS_PYTHON=" + fake.string() + " " + cbs::test::binary_dir() +
                            "/cbs run " + study.string() + " --quiet --out " +
                            (dir / "s.h5").string() + " >" + log.string() + " 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string text = slurp(log);
    INFO(text);
    const auto wrote = text.find("\nwrote " + (dir / "s.h5").string() + "\n");
    const auto report = text.find("cbs report: 0 figures, 0 claims -> fake\n");
    REQUIRE(wrote != std::string::npos);
    REQUIRE(report != std::string::npos);
    CHECK(report > wrote);
    CHECK(text[report - 1] == '\n'); // at the start of a line
    CHECK(text.rfind("cbs run: study ", 0) == 0);
}
