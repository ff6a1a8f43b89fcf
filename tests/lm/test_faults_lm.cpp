// Numerical faults in the LM trainer (issue 8): a learning rate that blows the weights up is
// recorded as diverged (attribute diverged = 1, curve cut at the step), never a crash or a hang.
#include "gpu/train_loop.hpp"
#include "lm_test_util.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using namespace lmtest;

TEST_CASE("faults: a diverging LM learning rate is recorded as diverged", "[lm][faults]") {
    const fs::path dir = scratch_dir("faults_lm");
    write_split(dir, synthetic_tokens(8000, 64, 3), 64);
    cbs::lm::LmOptions o = small_options(dir);
    o.steps = 40;
    o.lr = 1e30;       // Adam steps ~ lr: the weights overflow within a few steps
    o.grad_clip = 0.0; // no clipping to hide it
    cbs::lm::TrainControls quiet;
    quiet.quiet = true;
    const cbs::lm::LmRunResult r = cbs::lm::train_lm(o, quiet);
    CHECK(r.curve.diverged);
    CHECK(r.curve.diverged_step >= 1);
    CHECK(r.curve.diverged_step <= o.total_steps());
    CHECK(r.finished);
    for (std::size_t i = 0; i < r.curve.step.size(); ++i) {
        CHECK(r.curve.step[i] <= r.curve.diverged_step);
        if (r.curve.step[i] < r.curve.diverged_step) CHECK(std::isfinite(r.curve.risk[i]));
    }
    const cbs::data::RunRecord run = cbs::lm::make_lm_run_record(o, r);
    CHECK(std::get<std::int64_t>(run.attrs.at("diverged")) == 1);
    CHECK(std::get<std::int64_t>(run.attrs.at("diverged_step")) == r.curve.diverged_step);
}
