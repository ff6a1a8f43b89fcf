// The `cbs` executable end to end: exit codes, one-line errors, no partial output files.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
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

Result run_cbs(const std::string& args) {
    const fs::path dir = scratch_dir();
    const std::string cmd = std::string(CBS_TEST_BINARY_DIR) + "/cbs " + args + " >" +
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
    const Result missing_dir = run_cbs("simulate --out /nonexistent_dir_cbs/x.h5");
    CHECK(missing_dir.code == 2);
    CHECK(missing_dir.err.find("/nonexistent_dir_cbs") != std::string::npos);
    const Result unknown_option = run_cbs("simulate --bogus");
    CHECK(unknown_option.code == 2);
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

TEST_CASE("cbs measure on a CSV reproduces a hand-checkable CBS; cbs fit a hand-checkable slope",
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
