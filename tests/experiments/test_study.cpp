// The study engine end to end on a small, fast study: what the theory predicts must show up.
#include "experiments/study.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using namespace cbs::exp;

namespace {
ConfigEntries small_study_entries() {
    return parse_toml(R"(
spectrum.a = 2.0
spectrum.b = 4.0
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["sgd", "momentum"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
lr_grid = [0.00390625, 0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 4
momentum_grid = [0.5, 0.8, 0.9]
bootstrap = 100
[series.data]
data.samples = [1000, 4000, 16000]
[series.model]
data.samples = 16000
model.size = [16, 64, 256]
)",
                      "small study");
}

const GroupResult& find(const StudyResult& r, const std::string& series, const std::string& label,
                        Family f) {
    for (const GroupResult& g : r.groups)
        if (g.series == series && g.label == label && g.family == f) return g;
    FAIL("no group " << series << " / " << label);
    throw;
}

std::string refusal(const std::string& extra) {
    ConfigEntries e = small_study_entries();
    e.push_back(parse_set_argument(extra));
    try {
        parse_study(e);
    } catch (const cbs::UserError& err) {
        return err.what();
    }
    return "";
}
} // namespace

TEST_CASE("study keys are validated with key, value and rule", "[study]") {
    CHECK(refusal("study.batches=[4]").rfind("`study.batches` = 1 values: needs at least 2", 0) ==
          0);
    CHECK(refusal("study.families=[sgd, adam]")
              .rfind("`study.families` = adam: every item must be one of", 0) == 0);
    CHECK(refusal("study.anchor=3")
              .rfind("`study.anchor` = 3: must be 0 or one of study.batches", 0) == 0);
    // A batch beyond int64 (1e300) would be cast out of range; past 1e12, ceil(n / B) is 1.
    CHECK(refusal("study.batches=[4, 1e300]")
              .rfind("`study.batches` = [4, 1e300]: every item must be an integer in [1, 1e12]",
                     0) == 0);
    CHECK(refusal("study.colour=red").rfind("`study.colour` = red: unknown study key", 0) == 0);
    CHECK(refusal("study.ewa_grid=[0.9, 1.0]")
              .rfind("`study.ewa_grid` = [0.9, 1.0]: every item must be in [0, 1)", 0) == 0);
    CHECK(refusal("batch=[1, 2]").rfind("`batch` = [1, 2]: lists (axes) belong in a series", 0) ==
          0);
    CHECK(refusal("series.data.spectrum.a=0.5")
              .rfind("`spectrum.a` = 0.5: must be a finite number > 1", 0) == 0);
    CHECK(refusal("series.data.data.samples=0").find("needs a data budget") != std::string::npos);
    const StudySpec ok = parse_study(small_study_entries());
    CHECK(ok.series.size() == 2);
    CHECK(ok.series[0].groups.size() == 3);
    CHECK(ok.series[1].groups.size() == 3);
}

TEST_CASE("the default study parses and covers data and model sweeps", "[study]") {
    const StudySpec s = parse_study(parse_toml(default_study_toml(), "default"));
    REQUIRE(s.series.size() == 2);
    CHECK(s.series[0].groups.size() >= 4); // data sizes over >= 3 decades
    CHECK(s.series[1].groups.size() >= 4);
    CHECK(s.families.size() == 3);
}

TEST_CASE("CBS grows with data, is flat in model size, and momentum raises it", "[study]") {
    const StudyResult r = run_study(parse_study(small_study_entries()), [](const std::string&) {});
    for (Family f : {Family::sgd, Family::momentum}) {
        INFO("family " << to_string(f));
        const GroupResult& small = find(r, "data", "n=1000", f);
        const GroupResult& large = find(r, "data", "n=16000", f);
        REQUIRE(small.measurable);
        REQUIRE(large.measurable);
        // predicted exponent 1 - a/b = 0.5: 16x the data is ~4x the CBS; require clearly > 2x
        CHECK(large.cbs.study > 2.0 * small.cbs.study);
        // flat in M well above k*: max/min <= 1.3 over M = 16, 64, 256 at n = 16000
        double lo = INFINITY, hi = 0;
        for (const char* m : {"n=16000 M=16", "n=16000 M=64", "n=16000 M=256"}) {
            const GroupResult& g = find(r, "model", m, f);
            REQUIRE(g.measurable);
            CHECK(g.k_star < 16.0);
            lo = std::min(lo, g.cbs.study);
            hi = std::max(hi, g.cbs.study);
        }
        CHECK(hi / lo <= 1.3);
    }
    // The NQM finding: tuned momentum has a larger CBS than plain SGD at the same n.
    CHECK(find(r, "data", "n=16000", Family::momentum).cbs.study >
          1.2 * find(r, "data", "n=16000", Family::sgd).cbs.study);
    // The fits exist for the data series with the theory's prediction beside them.
    bool fitted = false;
    for (const FitResult& f : r.fits)
        if (f.series == "data" && f.family == Family::sgd && f.variable == "data.samples") {
            fitted = true;
            CHECK(f.predicted == Approx(0.5));
            CHECK(f.fit.alpha > 0.3);
            CHECK(f.fit.alpha < 0.8);
        }
    CHECK(fitted);
}

TEST_CASE("with b < a the CBS of averaged SGD stays O(1) as n grows", "[study]") {
    // THEORY.md section 3: CBS ~ n^(1 - a/min(b, 2a+1)) for b > a, O(1) otherwise. The theory is
    // about averaged iterates, so this uses the EWA family with windows scaled to the run.
    const char* toml = R"(
spectrum.a = 2.0
spectrum.b = 1.5
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["ewa"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
lr_grid = [0.0078125, 0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 4
ewa_window_grid = [0.06, 0.125, 0.25, 0.5]
bootstrap = 50
[series.flat]
data.samples = [1000, 4000, 16000]
)";
    const StudyResult r =
        run_study(parse_study(parse_toml(toml, "flat study")), [](const std::string&) {});
    REQUIRE(r.groups.size() == 3);
    double lo = INFINITY, hi = 0;
    for (const GroupResult& g : r.groups) {
        INFO(g.label);
        REQUIRE(g.measurable);
        CHECK(g.cbs.anchor_zero < 5.0); // b/(5a): the CBS without the anchor term
        lo = std::min(lo, g.cbs.anchor_zero);
        hi = std::max(hi, g.cbs.anchor_zero);
    }
    CHECK(hi / lo < 1.5); // 16x the data; an exponent of even 0.25 would give 2x
}

TEST_CASE("uniform_average and tail_average families: per-family averaging and predictions",
          "[study][average]") {
    // (a, b) = (1.5, 4.5) is saturated (b > 2a + 1 = 4): docs/averaging.md predicts 1 - a/4 =
    // 0.625 for the uniform average, whose bias saturates, and 1 - a/b = 2/3 for the tail
    // average and EWA, whose bias does not. The tail average forgets the early iterates, so at
    // the same n its best risk is below the uniform average's.
    const std::string toml = R"(
spectrum.a = 1.5
spectrum.b = 4.5
noise.sigma2 = 1.0
quadrature.tol = 1e-4
[study]
families = ["uniform_average", "tail_average", "ewa"]
batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
lr_grid = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
lr_refine = 2
ewa_window_grid = [0.125, 0.5]
bootstrap = 50
[series.data]
data.samples = [10000, 40000, 160000]
)";
    const StudyResult r =
        run_study(parse_study(parse_toml(toml, "averaging study")), [](const std::string&) {});
    for (const GroupResult& g : r.groups) {
        INFO(g.label << " " << to_string(g.family));
        CHECK(g.options.average == family_average(g.family));
    }
    const std::string n = "n=160000";
    const GroupResult& uniform = find(r, "data", n, Family::uniform_average);
    const GroupResult& tail = find(r, "data", n, Family::tail_average);
    CHECK(tail.r_opt < 0.9 * uniform.r_opt);
    int fits = 0;
    for (const FitResult& f : r.fits) {
        if (f.variable != "data.samples") continue;
        INFO(to_string(f.family));
        ++fits;
        if (f.family == Family::uniform_average) CHECK(f.predicted == Approx(0.625));
        if (f.family == Family::tail_average || f.family == Family::ewa)
            CHECK(f.predicted == Approx(1.0 - 1.5 / 4.5));
    }
    CHECK(fits == 3);
}

TEST_CASE("a study sets the averaging per family, not in its base", "[study][average]") {
    CHECK(refusal("average=uniform")
              .rfind("`average` = uniform: a study sets the averaging per family", 0) == 0);
    CHECK(refusal("study.families=[sgd, tail_average]").empty());
}
