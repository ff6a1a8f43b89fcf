// Interruption of a real `cbs run` on a simulator study (issue 18): kill -9 at seeded random
// moments, rerun each time; finished cells survive in OUT.cells.h5 (study.hpp, "Resuming"), and
// the final study file and --json results equal an uninterrupted run's, bit for bit.
#include "data/study_file.hpp"
#include "experiments/run_store.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/process.hpp"
#include "tests/support/same_run.hpp"

#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using cbs::test::CbsProcess;

namespace {

/// 6 groups (2 series) x 11 batch sizes x 3 (momentum, tau) points (sgd: one, momentum: two):
/// 198 cells per phase, 2-4 s on two threads.
const char* const kStudy = R"(spectrum.a = 2.0
spectrum.b = 4.0
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["sgd", "momentum"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
lr_grid = [0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 3
momentum_grid = [0.5, 0.9]
bootstrap = 50
[series.data]
data.samples = [1000, 4000, 16000]
[series.model]
data.samples = 8000
model.size = [16, 64, 256]
)";
const std::vector<std::string> kEnv = {"OMP_NUM_THREADS=2"};

fs::path dir() {
    return cbs::test::scratch_dir("interrupt_run");
}

std::vector<std::string> run_args(const fs::path& config, const fs::path& out, bool quiet) {
    std::vector<std::string> args{"run",        config.string(), "--out",
                                  out.string(), "--json",        "--no-report"};
    if (quiet) args.push_back("--quiet");
    return args;
}

/// The --json output without its "seconds" (wall time, the one field that may differ).
std::string without_seconds(const std::string& json) {
    const auto at = json.find("\"seconds\": ");
    if (at == std::string::npos) return json;
    const auto end = json.find(", ", at);
    return json.substr(0, at) + json.substr(end + 2);
}

/// Columns equal bit for bit (NaN included: k* and CBS intervals may be NaN or inf).
void require_same_table(const cbs::data::Table& got, const cbs::data::Table& want) {
    REQUIRE(got.columns.size() == want.columns.size());
    for (std::size_t c = 0; c < want.columns.size(); ++c) {
        INFO("column " << want.columns[c].first);
        CHECK(got.columns[c].first == want.columns[c].first);
        if (const auto* w = std::get_if<std::vector<double>>(&want.columns[c].second)) {
            const auto* g = std::get_if<std::vector<double>>(&got.columns[c].second);
            REQUIRE(g != nullptr);
            REQUIRE(g->size() == w->size());
            for (std::size_t i = 0; i < w->size(); ++i)
                CHECK(std::bit_cast<std::uint64_t>((*g)[i]) ==
                      std::bit_cast<std::uint64_t>((*w)[i]));
        } else {
            CHECK(got.columns[c].second == want.columns[c].second);
        }
    }
    CHECK(got.attrs == want.attrs);
}

void require_same_study(const fs::path& got_path, const fs::path& want_path) {
    const cbs::data::Study got = cbs::data::read_study(got_path.string());
    const cbs::data::Study want = cbs::data::read_study(want_path.string());
    CHECK(got.meta.config == want.meta.config);
    REQUIRE(got.runs.size() == want.runs.size());
    for (std::size_t i = 0; i < want.runs.size(); ++i)
        cbs::test::require_same_run(got.runs[i], want.runs[i]);
    REQUIRE(got.tables.size() == want.tables.size());
    for (const auto& [name, table] : want.tables) {
        INFO("table " << name);
        REQUIRE(got.tables.count(name) == 1);
        require_same_table(got.tables.at(name), table);
    }
}

/// Cells stored for `out` (OUT.cells.h5 and its journal); 0 if there are none.
std::size_t stored_cells(const fs::path& out) {
    const std::string cells = out.string() + ".cells.h5";
    if (!fs::exists(cells) && !fs::exists(cells + ".journal")) return 0;
    return cbs::exp::RunStore(cells, "").size(); // throws if anything stored is unreadable
}

} // namespace

TEST_CASE("interrupt: cbs run killed -9 five times at random moments, rerun each time, ends "
          "with the results of an uninterrupted run, bit for bit",
          "[interrupt]") {
    const fs::path config = dir() / "study.toml";
    std::ofstream(config) << kStudy;

    // The uninterrupted reference, timed to pick kill moments inside a run.
    const fs::path reference = dir() / "reference.h5";
    fs::remove(reference);
    const auto t0 = std::chrono::steady_clock::now();
    {
        CbsProcess ref(run_args(config, reference, true), dir() / "ref.json", dir() / "ref.err",
                       kEnv);
        REQUIRE(ref.exit_code() == 0);
    }
    const double full_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const std::string want_json = without_seconds(cbs::test::slurp(dir() / "ref.json"));
    REQUIRE(want_json.find("\"groups\": [") != std::string::npos);
    // A finished run leaves no cell store behind.
    CHECK_FALSE(fs::exists(reference.string() + ".cells.h5"));
    CHECK_FALSE(fs::exists(reference.string() + ".cells.h5.journal"));
    const std::size_t total_cells = 2 * 6 * 11 * 3; // phase 1 + phase 2 (every target finite)

    const fs::path out = dir() / "killed.h5";
    fs::remove(out);
    cbs::exp::remove_run_store(out.string() + ".cells.h5");
    std::mt19937 rng(20261203); // seeded: the same kill moments on every run of the test
    std::uniform_real_distribution<double> fraction(0.05, 0.4);
    std::size_t stored = 0, killed = 0;
    for (int k = 0; k < 5; ++k) {
        // A fraction of what is left: a rerun skips its stored cells.
        const double left =
            static_cast<double>(total_cells - std::min(stored, total_cells)) / total_cells;
        const double delay_ms = fraction(rng) * full_ms * left;
        INFO("kill " << k << " after " << delay_ms << " ms");
        CbsProcess run(run_args(config, out, true), dir() / "k.out", dir() / "k.err", kEnv);
        REQUIRE(run.started());
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms));
        run.signal(SIGKILL);
        if (run.killed_by() == SIGKILL) ++killed; // else it finished first: fine, still checked
        std::size_t now = 0;
        REQUIRE_NOTHROW(now = stored_cells(out));             // whatever was stored is whole
        if (run.killed_by() == SIGKILL) CHECK(now >= stored); // no finished cell is lost
        stored = now;
    }
    CHECK(killed >= 3);
    CHECK_FALSE(fs::exists(out)); // the kills came before the study file was written
    CHECK(stored > 0);            // ... but after some cells were stored
    CHECK(stored < total_cells);

    CbsProcess finish(run_args(config, out, false), dir() / "f.json", dir() / "f.err", kEnv);
    REQUIRE(finish.exit_code() == 0);
    const std::string err = cbs::test::slurp(dir() / "f.err");
    INFO(err);
    CHECK(err.find("cells taken from " + out.string() + ".cells.h5") != std::string::npos);
    CHECK(without_seconds(cbs::test::slurp(dir() / "f.json")) == want_json);
    require_same_study(out, reference);
    CHECK_FALSE(fs::exists(out.string() + ".cells.h5"));
    CHECK_FALSE(fs::exists(out.string() + ".cells.h5.journal"));

    // Cells of another study in the same store are not reused: a study killed once cells are
    // stored, then a different one (noise.sigma2 changed) run into the same --out simulates
    // every cell itself.
    {
        CbsProcess run(run_args(config, out, true), dir() / "k.out", dir() / "k.err", kEnv);
        REQUIRE(cbs::test::wait_until([&] { return stored_cells(out) > 0 || run.exited(); }));
        run.signal(SIGKILL);
    }
    REQUIRE(stored_cells(out) > 0);
    CbsProcess other(
        {"run", config.string(), "--out", out.string(), "--no-report", "--set", "noise.sigma2=0.5"},
        dir() / "o.out", dir() / "o.err", kEnv);
    REQUIRE(other.exit_code() == 0);
    CHECK(cbs::test::slurp(dir() / "o.err").find("taken from") == std::string::npos);
}
