// Interruption of a real `cbs train-lm` (issue 8): kill -9 at seeded random moments and --resume
// from the checkpoint gives the uninterrupted curve bit for bit (same machine, OMP_NUM_THREADS
// fixed); SIGINT/SIGTERM end the step in flight, keep the checkpoint consistent and exit 2 with a
// resume hint.
#include "data/study_file.hpp"
#include "gpu/checkpoint.hpp"
#include "lm_test_util.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/process.hpp"
#include "tests/support/same_run.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <thread>

using namespace lmtest;
using cbs::test::CbsProcess;

namespace {

constexpr int kSteps = 300;
const std::vector<std::string> kEnv = {"OMP_NUM_THREADS=1"};

struct Setup {
    fs::path dir, config, reference;
    double full_ms = 0; ///< wall time of one uninterrupted run
};

/// Shards, config and the uninterrupted run (once per test process).
const Setup& setup() {
    static const Setup s = [] {
        Setup q;
        q.dir = scratch_dir("interrupt");
        write_split(q.dir, synthetic_tokens(20000, 64, 7), 64);
        q.config = q.dir / "lm.toml";
        std::ofstream(q.config) << "data.train = \"" << (q.dir / "train.bin").string() << "\"\n"
                                << "data.val = \"" << (q.dir / "val.bin").string() << "\"\n"
                                << "steps = " << kSteps << "\nbatch = 4\nlr = 0.003\n"
                                << "eval.sequences = 8\nlog.every = 1\n"
                                << "[model]\nd_model = 16\nheads = 2\ncontext = 8\nvocab = 64\n"
                                << "layers = 1\n";
        q.reference = q.dir / "reference.h5";
        const auto t0 = std::chrono::steady_clock::now();
        CbsProcess ref({"train-lm", q.config.string(), "--out", q.reference.string(), "--quiet"},
                       q.dir / "ref.out", q.dir / "ref.err", kEnv);
        REQUIRE(ref.exit_code() == 0);
        q.full_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        return q;
    }();
    return s;
}

/// Same run: every curve and attribute bit for bit, except the measured throughput.
void require_same_run(const fs::path& got_file, const fs::path& want_file) {
    const cbs::data::Study got_study = cbs::data::read_study(got_file.string());
    const cbs::data::Study want_study = cbs::data::read_study(want_file.string());
    REQUIRE(got_study.runs.size() == 1);
    REQUIRE(want_study.runs.size() == 1);
    cbs::data::RunRecord got = got_study.runs.front(), want = want_study.runs.front();
    got.attrs.erase("tokens_per_second");
    want.attrs.erase("tokens_per_second");
    cbs::test::require_same_run(got, want);
    CHECK(got.step.back() == kSteps);
}

std::vector<std::string> train_args(const fs::path& out, const fs::path& checkpoint, bool resume,
                                    bool quiet = true) {
    std::vector<std::string> a{"train-lm", setup().config.string(), "--out", out.string()};
    if (!checkpoint.empty()) {
        a.insert(a.end(), {"--checkpoint", checkpoint.string(), "--checkpoint-every", "7"});
        if (resume) a.push_back("--resume");
    }
    if (quiet) a.push_back("--quiet");
    return a;
}

} // namespace

TEST_CASE("interrupt: cbs train-lm killed -9 four times and resumed equals the uninterrupted "
          "run bit for bit",
          "[lm][interrupt]") {
    const Setup& s = setup();
    const fs::path out = s.dir / "killed.h5", ck = s.dir / "killed.ck";
    fs::remove(out);
    fs::remove(ck);
    // Each kill lands at a seeded random moment after the run has shown progress (its
    // checkpoint moved past the previous kill's), somewhere inside a checkpoint interval: a kill
    // timed from the start alone may come before any step (slow start-up, e.g. under ASan) or
    // after the run has finished (a resumed run has less left to do).
    std::mt19937 rng(8);
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    const double interval_ms = 7.0 * s.full_ms / kSteps; // --checkpoint-every 7, upper bound
    std::int64_t last_step = 0;
    int killed = 0;
    auto checkpoint_step = [&]() -> std::int64_t {
        return fs::exists(ck) ? cbs::lm::read_checkpoint(ck.string()).step : 0;
    };
    for (int k = 0; k < 4; ++k) {
        const double delay_ms = fraction(rng) * interval_ms;
        INFO("kill " << k << ", " << delay_ms << " ms after the checkpoint passed " << last_step);
        CbsProcess run(train_args(out, ck, fs::exists(ck)), s.dir / "k.out", s.dir / "k.err", kEnv);
        REQUIRE(cbs::test::wait_until([&] { return run.exited() || checkpoint_step() > last_step; },
                                      std::chrono::seconds(120)));
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms));
        run.signal(SIGKILL);
        if (run.killed_by() == SIGKILL) ++killed;
        if (fs::exists(ck)) {
            // Atomic checkpoints: what is there always reads back whole.
            const cbs::lm::LmCheckpoint c = cbs::lm::read_checkpoint(ck.string());
            CHECK((c.step % 7 == 0 || c.step == kSteps));
            CHECK(c.step > last_step);
            last_step = c.step;
        }
        CHECK_FALSE(fs::exists(out)); // written only when the run is complete
    }
    CHECK(killed == 4);
    CHECK(last_step > 0);
    CHECK(last_step < kSteps);
    CbsProcess finish(train_args(out, ck, true), s.dir / "f.out", s.dir / "f.err", kEnv);
    REQUIRE(finish.exit_code() == 0);
    require_same_run(out, s.reference);
}

TEST_CASE("interrupt: SIGINT/SIGTERM stop cbs train-lm after the step in flight, checkpoint, "
          "exit 2 with a resume hint",
          "[lm][interrupt]") {
    const Setup& s = setup();
    for (const int sig : {SIGINT, SIGTERM}) {
        const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
        INFO(name);
        const fs::path out = s.dir / (name + ".h5"), ck = s.dir / (name + ".ck");
        fs::remove(out);
        fs::remove(ck);
        const fs::path err_file = s.dir / "sig.err";
        {
            // Not quiet: the first progress line says the training loop (and its handler) runs.
            CbsProcess run(train_args(out, ck, false, false), s.dir / "sig.out", err_file, kEnv);
            REQUIRE(cbs::test::wait_until([&] {
                return cbs::test::slurp(err_file).find("train-lm: step 2/") != std::string::npos ||
                       run.exited();
            }));
            run.signal(sig);
            REQUIRE(run.exit_code() == 2);
        }
        const std::string err = cbs::test::slurp(err_file);
        const std::size_t at = err.find("cbs: error: interrupted by " + name + " at step ");
        REQUIRE(at != std::string::npos);
        const std::string line = err.substr(at);
        CHECK(line.find(" of " + std::to_string(kSteps) + "; checkpoint '" + ck.string() +
                        "' holds it: rerun the same command with --resume to continue\n") !=
              std::string::npos);
        const std::int64_t step = std::stoll(line.substr(line.find(" at step ") + 9));
        const cbs::lm::LmCheckpoint c = cbs::lm::read_checkpoint(ck.string());
        CHECK(c.step == step); // the checkpoint holds the step the message names
        CHECK(step < kSteps);
        CHECK_FALSE(fs::exists(out));
        CHECK_FALSE(fs::exists(ck.string() + ".partial"));

        CbsProcess resume(train_args(out, ck, true), s.dir / "r.out", s.dir / "r.err", kEnv);
        REQUIRE(resume.exit_code() == 0);
        require_same_run(out, s.reference);
    }

    // Without --checkpoint: a clean stop that says nothing was kept.
    const fs::path out = s.dir / "nock.h5";
    const fs::path err_file = s.dir / "nock.err";
    {
        CbsProcess run(train_args(out, "", false, false), s.dir / "nock.out", err_file, kEnv);
        REQUIRE(cbs::test::wait_until([&] {
            return cbs::test::slurp(err_file).find("train-lm: step 2/") != std::string::npos ||
                   run.exited();
        }));
        run.signal(SIGTERM);
        REQUIRE(run.exit_code() == 2);
    }
    CHECK(cbs::test::slurp(err_file).find(
              "; nothing was written (run with --checkpoint PATH to make a run resumable)\n") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out.string() + ".partial"));
}
