// Interruption of a real `cbs sweep` (issue 8): kill -9 at seeded random moments, resumed each
// time, ends with the same study as an uninterrupted run; SIGINT and SIGTERM stop cleanly (exit
// 2, a resume hint, a readable and consistent file) and a rerun completes the study.
#include "data/study_file.hpp"
#include "experiments/run_store.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/process.hpp"
#include "tests/support/same_run.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using cbs::test::CbsProcess;

namespace {

/// 48 recursion runs (one lr diverges), about 1-2 s on two threads: long enough to be hit
/// mid-way, short enough to repeat.
const char* const kStudy = R"(steps = 6000
record = 40
quadrature.tol = 1e-5
batch = [1, 2, 3, 4, 6, 8, 12, 16]
lr = [0.05, 0.1, 0.2, 0.3, 0.4, 40.0]
)";
const std::vector<std::string> kEnv = {"OMP_NUM_THREADS=2"};

struct Paths {
    fs::path dir, config, reference;
};

/// The study config and its uninterrupted result (computed once per test process).
const Paths& paths() {
    static const Paths p = [] {
        Paths q;
        q.dir = cbs::test::scratch_dir("interrupt_sweep");
        q.config = q.dir / "study.toml";
        std::ofstream(q.config) << kStudy;
        q.reference = q.dir / "reference.h5";
        fs::remove(q.reference);
        CbsProcess ref({"sweep", q.config.string(), "--out", q.reference.string(), "--quiet"},
                       q.dir / "ref.out", q.dir / "ref.err", kEnv);
        REQUIRE(ref.exit_code() == 0);
        return q;
    }();
    return p;
}

std::map<std::string, cbs::data::RunRecord> runs_by_id(const fs::path& file) {
    std::map<std::string, cbs::data::RunRecord> out;
    for (cbs::data::RunRecord& r : cbs::data::read_study(file.string()).runs)
        out.emplace(r.id, std::move(r));
    return out;
}

/// Every run stored at `file` (study + journal) is one of the reference's, identical to it.
std::size_t require_consistent(const fs::path& file,
                               const std::map<std::string, cbs::data::RunRecord>& want) {
    const cbs::exp::RunStore store(file.string(), ""); // reads PATH and PATH.journal/
    for (const cbs::data::RunRecord& r : store.runs()) {
        REQUIRE(want.count(r.id) == 1);
        cbs::test::require_same_run(r, want.at(r.id));
    }
    return store.size();
}

void require_complete(const fs::path& file,
                      const std::map<std::string, cbs::data::RunRecord>& want) {
    const auto got = runs_by_id(file);
    REQUIRE(got.size() == want.size());
    for (const auto& [id, run] : want) {
        REQUIRE(got.count(id) == 1);
        cbs::test::require_same_run(got.at(id), run);
    }
    CHECK_FALSE(fs::exists(file.string() + ".journal"));
}

std::vector<std::string> sweep_args(const fs::path& out) {
    return {"sweep", paths().config.string(), "--out", out.string(), "--quiet"};
}

bool has_stored_runs(const fs::path& out) {
    return cbs::test::count_files(out.string() + ".journal", ".h5") > 0 || fs::exists(out);
}

} // namespace

TEST_CASE("interrupt: cbs sweep killed -9 five times at random moments, resumed each time, "
          "equals an uninterrupted run",
          "[interrupt]") {
    const Paths& p = paths();
    const auto want = runs_by_id(p.reference);
    REQUIRE(want.size() == 48);
    std::size_t diverged = 0;
    for (const auto& [id, run] : want)
        diverged += std::get<std::int64_t>(run.attrs.at("diverged")) == 1 ? 1 : 0;
    CHECK(diverged == 8); // lr = 40 at every batch size: recorded, not fatal

    // Time an uninterrupted run, to pick kill moments inside it.
    const fs::path timed = p.dir / "timed.h5";
    fs::remove(timed);
    const auto t0 = std::chrono::steady_clock::now();
    {
        CbsProcess run(sweep_args(timed), p.dir / "t.out", p.dir / "t.err", kEnv);
        REQUIRE(run.exit_code() == 0);
    }
    const double full_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    const fs::path out = p.dir / "killed.h5";
    fs::remove(out);
    fs::remove_all(out.string() + ".journal");
    std::mt19937 rng(20240806); // seeded: the same kill moments on every run of the test
    std::uniform_real_distribution<double> fraction(0.05, 0.4);
    std::size_t stored = 0, killed = 0;
    for (int k = 0; k < 5; ++k) {
        // A fraction of what is left: a resumed sweep skips its stored runs, so a delay scaled
        // to the whole study could outlast it (then nothing would be interrupted).
        const double left = static_cast<double>(want.size() - stored) / want.size();
        const double delay_ms = fraction(rng) * full_ms * left;
        INFO("kill " << k << " after " << delay_ms << " ms");
        CbsProcess run(sweep_args(out), p.dir / "k.out", p.dir / "k.err", kEnv);
        REQUIRE(run.started());
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms));
        run.signal(SIGKILL);
        if (run.killed_by() == SIGKILL) ++killed; // else it finished first: fine, still checked
        // Whatever is on disk is whole: the study file (if any) reads, every stored run is exact.
        if (fs::exists(out)) CHECK_NOTHROW(cbs::data::read_study(out.string()));
        const std::size_t now = require_consistent(out, want);
        CHECK(now >= stored); // nothing that was stored is lost
        stored = now;
    }
    CHECK(killed >= 3);
    CHECK(stored < want.size()); // the kills did interrupt the study
    CbsProcess finish(sweep_args(out), p.dir / "f.out", p.dir / "f.err", kEnv);
    REQUIRE(finish.exit_code() == 0);
    require_complete(out, want);
}

TEST_CASE("interrupt: SIGINT and SIGTERM stop cbs sweep with exit 2, a consistent file and a "
          "resume hint, rerunning completes it",
          "[interrupt]") {
    const Paths& p = paths();
    const auto want = runs_by_id(p.reference);
    for (const int sig : {SIGINT, SIGTERM}) {
        const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
        INFO(name);
        const fs::path out = p.dir / (name + ".h5");
        fs::remove(out);
        fs::remove_all(out.string() + ".journal");
        {
            CbsProcess run(sweep_args(out), p.dir / "s.out", p.dir / "s.err", kEnv);
            REQUIRE(cbs::test::wait_until([&] { return has_stored_runs(out) || run.exited(); }));
            run.signal(sig);
            REQUIRE(run.exit_code() == 2);
        }
        const std::string err = cbs::test::slurp(p.dir / "s.err");
        CHECK(err.rfind("cbs: error: interrupted by " + name + ": ", 0) == 0);
        CHECK(err.find("runs are stored in '" + out.string() +
                       "'; rerun the same command to resume\n") != std::string::npos);
        CHECK(std::count(err.begin(), err.end(), '\n') == 1);
        // The stop checkpointed: the study file alone holds every finished run, all exact.
        REQUIRE(fs::exists(out));
        const auto partial = runs_by_id(out);
        CHECK(partial.size() >= 1);
        CHECK(partial.size() < want.size());
        for (const auto& [id, run] : partial) {
            REQUIRE(want.count(id) == 1);
            cbs::test::require_same_run(run, want.at(id));
        }
        CHECK(cbs::test::count_files(out.string() + ".journal", ".h5") == 0);

        CbsProcess rerun(sweep_args(out), p.dir / "r.out", p.dir / "r.err", kEnv);
        REQUIRE(rerun.exit_code() == 0);
        require_complete(out, want);
    }
}
