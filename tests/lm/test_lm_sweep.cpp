// A tiny CPU batch-size sweep of LMs on real text goes through the same measurement code as the
// simulators (experiments/measure.hpp): steps-to-target per batch size, then the CBS estimators.
#include "experiments/measure.hpp"
#include "gpu/train_loop.hpp"
#include "lm_test_util.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <fmt/format.h>
#include <fstream>

using namespace cbs::lm;
using namespace lmtest;

TEST_CASE("a tiny LM batch-size sweep yields a CBS table through cbs measure's code", "[lm]") {
    const std::vector<std::uint32_t> text = real_text_bytes();
    REQUIRE(text.size() >= 20000);
    const fs::path dir = scratch_dir("sweep");
    write_split(dir, text, 256);

    cbs::data::Study study;
    study.meta.cbs_version = "test";
    study.meta.git_sha = "test";
    study.meta.created = cbs::data::utc_timestamp();
    std::string csv = "group,batch,steps\n";
    for (std::int64_t batch : {2, 4, 8, 16, 32}) {
        LmOptions o = small_options(dir);
        o.model.d_model = 32;
        o.model.layers = 1;
        o.model.heads = 2;
        o.model.context = 16;
        o.model.vocab = 256;
        o.batch = batch;
        o.tokens = 8192; // D: 512 sequences, 256 steps at B = 2, 16 at B = 32
        o.horizon = 3.0; // large batches may run past D to reach the target (the study's rule)
        o.lr = 1e-2;
        o.warmup_fraction = 0.05;
        o.ewa_decays = {0.9, 0.97};
        o.eval_sequences = 32;
        o.dense_fraction = 1.0; // evaluate densely over the whole run: precise crossing steps
        o.dense_points = 24;
        TrainControls c;
        c.quiet = true;
        const LmRunResult r = train_lm(o, c);
        REQUIRE(r.finished);
        study.runs.push_back(make_lm_run_record(o, r));
    }
    std::sort(study.runs.begin(), study.runs.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    // Through the file format too, as `cbs measure FILE.h5` would read it.
    const std::string path = (dir / "sweep.h5").string();
    cbs::data::write_study(path, study);
    const cbs::data::Study back = cbs::data::read_study(path);
    REQUIRE(back.runs.size() == 5u);
    CHECK(back.runs.front().extra_curves.count("train_loss") == 1);

    const std::vector<cbs::exp::MeasuredGroup> groups = cbs::exp::measure_study(back, 0, 200);
    REQUIRE(groups.size() == 1u);
    const cbs::exp::MeasuredGroup& g = groups.front();
    std::string table = fmt::format("target (R_opt, val loss of EWA weights) {:.4f}\n", g.target);
    table += fmt::format("{:>6} {:>10}\n", "B", "steps");
    for (const auto& p : g.points) {
        table += fmt::format("{:>6} {:>10.2f}\n", p.batch, p.steps);
        csv += fmt::format("lm,{},{}\n", p.batch, p.steps);
    }
    INFO(table << g.note);
    REQUIRE(g.measurable);
    table += fmt::format("fit a={:.3g} b={:.3g}; CBS (study, 20%) {:.3g} [{:.3g}, {:.3g}], direct "
                         "{:.3g}, B_noise {:.3g}",
                         g.cbs.fit.a, g.cbs.fit.b, g.cbs.study, g.cbs.study_ci.low,
                         g.cbs.study_ci.high, g.cbs.direct, g.cbs.b_noise);
    WARN(table);
    CHECK(std::isfinite(g.cbs.study));
    CHECK(g.cbs.study >= g.cbs.b_opt);
    // Steps to target fall as the batch grows (at least until the largest batch sizes).
    CHECK(g.points.front().steps > g.points[2].steps);
    std::ofstream(dir / "steps.csv") << csv; // for `cbs measure steps.csv` by hand
}
