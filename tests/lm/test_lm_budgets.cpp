// Budgets share runs (experiments/lm_study.hpp): one LM run with data.budgets serves every budget
// exactly as a separate run per budget would, the sparse evaluation grid of eval.spacing locates
// steps-to-target within 2% of an every-step evaluation, and the keys refuse bad values.
#include "experiments/config_source.hpp"
#include "experiments/lm_study.hpp"
#include "experiments/measure.hpp"
#include "experiments/steps_to_target.hpp"
#include "experiments/sweep.hpp"
#include "gpu/schedules.hpp"
#include "gpu/train_loop.hpp"
#include "lm_test_util.hpp"
#include "tests/support/paths.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

using namespace cbs::lm;
using namespace lmtest;

namespace {

LmOptions budget_options(const fs::path& dir) {
    LmOptions o = small_options(dir);
    o.model.vocab = 256;
    o.model.d_model = 16;
    o.model.layers = 1;
    o.model.context = 16;
    o.batch = 4;
    o.lr = 1e-2;
    o.warmup_fraction = 0;
    o.warmup_tokens = 256;
    o.horizon = 2.0;
    o.ewa_decays = {0.9, 0.97};
    o.dense_points = 0;
    o.eval_spacing = 0.05;
    return o;
}

cbs::data::RunRecord train(const LmOptions& o) {
    TrainControls c;
    c.quiet = true;
    const LmRunResult r = train_lm(o, c);
    REQUIRE(r.finished);
    return make_lm_run_record(o, r);
}

void prepare(const fs::path& dir) {
    const std::vector<std::uint32_t> text = real_text_bytes();
    REQUIRE(text.size() >= 20000);
    write_split(dir, text, 256);
}

} // namespace

TEST_CASE("one run with data.budgets serves each budget as its own run would", "[lm]") {
    const fs::path dir = scratch_dir("budgets_shared");
    prepare(dir);
    LmOptions shared = budget_options(dir);
    shared.budgets = {1024, 4096};
    shared.validate();
    const std::vector<cbs::data::RunRecord> parts = cbs::exp::expand_budgets({train(shared)});
    REQUIRE(parts.size() == 2u);
    for (const std::int64_t budget : {1024, 4096}) {
        LmOptions alone = budget_options(dir);
        alone.tokens = budget;
        const cbs::data::RunRecord own = train(alone);
        const cbs::data::RunRecord& part = parts[budget == 1024 ? 0 : 1];
        CHECK(part.id.ends_with("@" + std::to_string(budget)));
        CHECK(std::get<std::int64_t>(part.attrs.at("data.samples")) ==
              std::get<std::int64_t>(own.attrs.at("data.samples")));
        // Same length: the part is cut at the budget's horizon step, where the own run ends.
        REQUIRE(!part.step.empty());
        CHECK(part.step.back() == own.step.back());
        // Same weights at every shared evaluation step: the warmup is in tokens and the LR
        // constant, so the first steps do not depend on the run's length (bit-identical on one
        // machine and backend).
        std::size_t shared_steps = 0;
        for (std::size_t i = 0; i < part.step.size(); ++i)
            for (std::size_t j = 0; j < own.step.size(); ++j)
                if (part.step[i] == own.step[j]) {
                    ++shared_steps;
                    CHECK(part.risk_ewa[i] == own.risk_ewa[j]);
                    CHECK(part.risk[i] == own.risk[j]);
                }
        CHECK(shared_steps >= 10u);
    }
}

TEST_CASE("eval.spacing puts an evaluation every few percent around each budget", "[lm]") {
    const fs::path dir = scratch_dir("budgets_grid");
    LmOptions o = budget_options(dir);
    o.train_path = "unused";
    o.val_path = "unused";
    o.budgets = {4096, 16384};
    o.batch = 2;
    const std::vector<std::int64_t> steps = eval_steps(o);
    for (const std::int64_t budget : o.budgets) {
        const std::int64_t sb = o.steps_for_tokens(budget), hb = o.horizon_steps_for_tokens(budget);
        CHECK(std::binary_search(steps.begin(), steps.end(), sb));
        CHECK(std::binary_search(steps.begin(), steps.end(), hb));
        for (std::size_t i = 1; i < steps.size(); ++i)
            if (steps[i - 1] >= sb && steps[i] <= hb)
                CHECK(static_cast<double>(steps[i] - steps[i - 1]) <=
                      std::max(1.0, 0.05 * static_cast<double>(steps[i - 1]) + 1.0));
    }
    CHECK(steps.back() == o.horizon_steps_for_tokens(16384));
}

TEST_CASE("steps-to-target from the eval.spacing grid is within 2% of every-step evaluation",
          "[lm]") {
    // How the 2% of the study is checked: the same trainings (evaluation does not touch the
    // training state) evaluated on the sparse grid and at every step; the study's measurement
    // (target = best EWA loss reached by the budget over the batch sizes, fewest interpolated
    // steps per batch size) on both agrees within 2% for every batch size that reaches it.
    const fs::path dir = scratch_dir("budgets_dense");
    prepare(dir);
    cbs::data::Study sparse, dense;
    for (const std::int64_t batch : {2, 4, 8, 16}) {
        LmOptions o = budget_options(dir);
        o.budgets = {2048, 4096};
        o.batch = batch;
        sparse.runs.push_back(train(o));
        o.eval_every = 1;
        dense.runs.push_back(train(o));
        REQUIRE(dense.runs.back().step.size() > sparse.runs.back().step.size());
    }
    sparse.runs = cbs::exp::expand_budgets(sparse.runs);
    dense.runs = cbs::exp::expand_budgets(dense.runs);
    REQUIRE(sparse.runs.size() == dense.runs.size());
    const auto groups = cbs::exp::measure_study(dense, 0, 0, 1.0, true);
    REQUIRE(groups.size() == 2u);
    int compared = 0;
    for (std::size_t k = 0; k < dense.runs.size(); ++k) {
        const auto& d = dense.runs[k];
        const auto& s = sparse.runs[k];
        // (Ids differ: eval.every is an option; expand_budgets keeps the order of its input.)
        REQUIRE(d.attrs.at("batch") == s.attrs.at("batch"));
        REQUIRE(d.attrs.at("data.samples") == s.attrs.at("data.samples"));
        const auto samples = std::get<std::int64_t>(d.attrs.at("data.samples"));
        for (const auto& g : groups) {
            if (std::stoll(g.keys.at("data.samples")) != samples) continue;
            const double exact =
                cbs::exp::steps_to_target(d.step, d.risk_ewa, g.target).interpolated;
            const double coarse =
                cbs::exp::steps_to_target(s.step, s.risk_ewa, g.target).interpolated;
            if (!std::isfinite(exact)) continue;
            INFO(d.id << ": every step " << exact << ", eval.spacing grid " << coarse);
            CHECK(std::abs(coarse - exact) <= 0.02 * exact);
            ++compared;
        }
    }
    CHECK(compared >= 4);
}

TEST_CASE("data.budgets and warmup.tokens refuse bad values with the key and the rule", "[lm]") {
    const std::vector<std::pair<std::string, std::string>> base{{"data.train", "t.bin"},
                                                                {"data.val", "v.bin"},
                                                                {"model.context", "16"},
                                                                {"batch", "4"},
                                                                {"warmup.fraction", "0"}};
    const auto refused = [&](std::vector<std::pair<std::string, std::string>> extra,
                             const std::string& needle) {
        auto entries = base;
        entries.insert(entries.end(), extra.begin(), extra.end());
        INFO(needle);
        CHECK_THROWS_WITH(resolve_lm_options(entries), Catch::Contains(needle));
    };
    refused({{"data.budgets", "[4096, 2048]"}}, "`data.budgets` = [4096, 2048]: must be strictly");
    refused({{"data.budgets", "[0, 2048]"}}, "every budget must be in [1, 1e18]");
    refused({{"data.budgets", "[1.5, 2048]"}}, "must be a list of integers");
    refused({{"data.budgets", "[2048]"}, {"data.tokens", "2048"}},
            "`data.tokens` = 2048: must be 0");
    refused({{"data.budgets", "[2048]"}, {"schedule", "cosine"}},
            "`schedule` = cosine: must be constant");
    refused({{"data.budgets", "[2048]"}, {"warmup.fraction", "0.1"}},
            "`warmup.fraction` = 0.1: must be 0 with data.budgets");
    refused({{"data.budgets", "[2048, 4096]"}, {"warmup.tokens", "2048"}},
            "`warmup.tokens` = 2048: must be below the smallest budget (2048 tokens)");
    refused({{"warmup.tokens", "-1"}}, "`warmup.tokens` = -1: must be in [0, 1e18]");
    refused({{"eval.spacing", "1.5"}}, "`eval.spacing` = 1.5: must be in [0, 1]");
    // Accepted: the study design.
    const LmOptions ok = resolve_lm_options({{"data.train", "t.bin"},
                                             {"data.val", "v.bin"},
                                             {"model.context", "16"},
                                             {"batch", "4"},
                                             {"warmup.fraction", "0"},
                                             {"warmup.tokens", "256"},
                                             {"data.budgets", "[1024, 4096]"},
                                             {"data.horizon", "2"}});
    CHECK(ok.total_steps() == 128); // 2 x 4096 / (16 x 4)
    CHECK(ok.warmup_steps() == 4);  // 256 / (16 x 4)
    CHECK(learning_rate(ok, 0) == Approx(0.1 * ok.lr));
    CHECK(learning_rate(ok, 100) == ok.lr);
}

TEST_CASE("the committed LM study files keep the study's design", "[lm]") {
    // experiments/studies/lm_cpu_study.toml (and lm_gpu.toml, the same design at larger scale):
    // >= 3 model sizes over >= 4x non-embedding parameters, >= 4 budgets over >= 8x tokens served
    // by shared runs, >= 6 batch sizes over >= 32x, >= 2 learning rates, several EWA decays.
    for (const char* name : {"lm_cpu_study.toml", "lm_gpu.toml"}) {
        INFO(name);
        const auto entries =
            cbs::exp::load_toml_file(cbs::test::source_dir() + "/experiments/studies/" + name);
        const auto points = cbs::exp::expand_axes(entries);
        std::set<std::int64_t> sizes, batches;
        std::set<double> lrs;
        std::vector<std::int64_t> budgets;
        std::size_t decays = 0;
        for (const auto& p : points) {
            std::vector<std::pair<std::string, std::string>> kv;
            for (const auto& e : p)
                kv.emplace_back(e.key, e.value);        // as make_sweep_runs passes them
            const LmOptions o = resolve_lm_options(kv); // every point validates
            sizes.insert(o.model.non_embedding_parameters());
            batches.insert(o.batch);
            lrs.insert(o.lr);
            budgets = o.budgets;
            decays = o.ewa_decays.size();
            CHECK(o.schedule == LrSchedule::constant);
            CHECK(o.warmup_tokens > 0);
            CHECK(o.eval_spacing > 0);
            CHECK(o.eval_spacing <= 0.05);
        }
        REQUIRE(sizes.size() >= 3u);
        CHECK(static_cast<double>(*sizes.rbegin()) >= 4.0 * static_cast<double>(*sizes.begin()));
        REQUIRE(budgets.size() >= 4u);
        CHECK(budgets.back() >= 8 * budgets.front());
        REQUIRE(batches.size() >= 6u);
        CHECK(*batches.rbegin() >= 32 * *batches.begin());
        CHECK(lrs.size() >= 2u);
        CHECK(decays >= 3u);
        CHECK(points.size() == sizes.size() * batches.size() * lrs.size()); // one run each
    }
}
