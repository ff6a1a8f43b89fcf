// CBS estimators: the a + b/B fit in log space against exact and noisy synthetic curves, the
// closed-form threshold rule, the direct rule on hand-computed points, the bootstrap, the
// boundaries of the fit (a = 0, b = 0), and the steps-to-target CSV reader.
#include "experiments/cbs_estimators.hpp"
#include "theory/check.hpp"

#include "tests/support/user_error.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace cbs::exp;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double relative_error(double value, double reference) {
    return std::abs(value - reference) / std::abs(reference);
}

/// The study's batch grid shape: B = 2^lo ... 2^hi sequences.
std::vector<double> power_of_two_grid(int lo, int hi) {
    std::vector<double> grid;
    for (int k = lo; k <= hi; ++k)
        grid.push_back(std::ldexp(1.0, k));
    return grid;
}

std::vector<BatchPoint> exact_curve(double a, double b, const std::vector<double>& grid) {
    std::vector<BatchPoint> points;
    for (const double B : grid)
        points.push_back({B, a + b / B});
    return points;
}

/// f = (a + b/B) exp(sigma z), z standard normal: multiplicative noise, as between seeds.
std::vector<BatchPoint> noisy_curve(double a, double b, const std::vector<double>& grid,
                                    double sigma, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<BatchPoint> points;
    for (const double B : grid)
        points.push_back({B, (a + b / B) * std::exp(sigma * normal(rng))});
    return points;
}

double log_objective(const std::vector<BatchPoint>& points, double a, double b) {
    double sum = 0;
    for (const BatchPoint& p : points) {
        const double r = std::log(p.steps) - std::log(a + b / p.batch);
        sum += r * r;
    }
    return sum;
}

using cbs::test::user_error;

/// A CSV file under the temp directory with a name unique to this process and call; removed
/// when the owner goes out of scope.
class TempCsv {
public:
    explicit TempCsv(const std::string& contents) {
        static std::atomic<int> counter{0};
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ =
            std::filesystem::temp_directory_path() /
            ("cbs_test_steps_" + std::to_string(stamp) + "_" + std::to_string(counter++) + ".csv");
        std::ofstream out(path_, std::ios::binary);
        out << contents;
    }
    ~TempCsv() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    TempCsv(const TempCsv&) = delete;
    TempCsv& operator=(const TempCsv&) = delete;
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

} // namespace

TEST_CASE("exact a + b/B curves are recovered, inside and outside the batch grid", "[estimators]") {
    const std::vector<double> grid = power_of_two_grid(6, 14); // 64 ... 16384, as in the study
    struct Case {
        double a, b;
    };
    // b/a = B_noise: 1 and 0.01 (far below the grid: f almost flat), 1e3 (inside), 1e6 and 1e8
    // (far above: f almost pure 1/B).
    const Case cases[] = {{1000, 1000},         {3000, 30}, {1000, 1e6},
                          {2500, 2500 * 700.0}, {10, 1e7},  {2, 2e8}};
    for (const Case& c : cases) {
        CAPTURE(c.a, c.b);
        const StepsFit fit = fit_steps_vs_batch(exact_curve(c.a, c.b, grid));
        // Contract: exact data recovered to 1e-9 relative (log f is exact to ~1e-16, and the
        // weakest-determined parameter has a Jacobian column of norm >= ~1e-4, so ~1e-12 is
        // reachable; 1e-9 leaves margin).
        CHECK(relative_error(fit.a, c.a) < 1e-9);
        CHECK(relative_error(fit.b, c.b) < 1e-9);
        CHECK(fit.rms_log_residual < 1e-12);
        CHECK(fit.points_used == 9);
        // The study's B* = b/(5a) + 1.2 B_opt, anchored at B_opt = 64: a sum of positive terms,
        // so its relative error is at most that of b/a (2e-9).
        const double study = c.b / (5 * c.a) + 1.2 * 64;
        CHECK(relative_error(fitted_cbs(fit, 0.2, 64), study) < 2e-9);

        const CbsEstimates est = estimate_cbs(exact_curve(c.a, c.b, grid), 0, 50, 7);
        CHECK(est.b_opt == 64);
        CHECK(relative_error(est.study, study) < 2e-9);
        CHECK(relative_error(est.anchor_zero, c.b / (5 * c.a)) < 2e-9);
        CHECK(relative_error(est.b_noise, c.b / c.a) < 2e-9);
        // Every resample of exact data is exact data: the interval collapses onto B*.
        CHECK(relative_error(est.study_ci.low, study) < 1e-8);
        CHECK(relative_error(est.study_ci.high, study) < 1e-8);
    }
}

TEST_CASE("closed-form threshold rule by hand", "[estimators]") {
    StepsFit fit;
    fit.a = 1000;
    fit.b = 1e6;
    // theta b/a + (1 + theta) B_opt with b/a = 1000, B_opt = 256:
    //   0.1: 100 + 1.1 * 256 = 381.6;  0.2: 200 + 307.2 = 507.2;  0.5: 500 + 384 = 884.
    CHECK(fitted_cbs(fit, 0.1, 256) == Approx(381.6).epsilon(1e-14));
    CHECK(fitted_cbs(fit, 0.2, 256) == Approx(507.2).epsilon(1e-14));
    CHECK(fitted_cbs(fit, 0.5, 256) == Approx(884.0).epsilon(1e-14));
    CHECK(fitted_cbs(fit, 0.0, 256) == 256);

    // Through estimate_cbs on exact data, B_opt = 64: 0.1 -> 100 + 70.4 = 170.4,
    // 0.2 -> 200 + 76.8 = 276.8, 0.5 -> 500 + 96 = 596.
    const CbsEstimates est = estimate_cbs(exact_curve(1000, 1e6, power_of_two_grid(6, 14)), 0, 0);
    CHECK(est.study_by_threshold.at(0.1) == Approx(170.4).epsilon(1e-9));
    CHECK(est.study_by_threshold.at(0.2) == Approx(276.8).epsilon(1e-9));
    CHECK(est.study_by_threshold.at(0.5) == Approx(596.0).epsilon(1e-9));
    CHECK(est.study == est.study_by_threshold.at(0.2));
    CHECK(est.direct == est.direct_by_threshold.at(0.2));
    CHECK(est.bootstrap_samples == 0);
    CHECK(std::isnan(est.study_ci.low));

    CHECK(user_error([&] { fitted_cbs(fit, -0.1, 256); }).find("theta = -0.1") !=
          std::string::npos);
    CHECK(user_error([&] { fitted_cbs(fit, 0.2, 0); }).find("b_opt = 0") != std::string::npos);
}

TEST_CASE("direct rule on the exact curve is the closed form at grid points", "[estimators]") {
    // On f = a + b/B the overhead ratio is (a B + b) / (a B_opt + b), linear in B, so the 20% rule
    // holds exactly up to B* = 0.2 b/a + 1.2 B_opt. With b/a = 1000, B_opt = 64: B* = 276.8,
    // between the grid points 256 (ratio 1256/1064) and 512 (ratio 1512/1064). Interpolation is
    // linear in log B: t = (1.2 - 1256/1064) / (256/1064) = (1276.8 - 1256) / 256 = 0.08125, B =
    // 256 * 2^0.08125.
    const auto points = exact_curve(1000, 1e6, power_of_two_grid(6, 14));
    CHECK(direct_cbs(points, 0.2, 64) == Approx(256 * std::pow(2.0, 0.08125)).epsilon(1e-12));
    // theta = 0.5: B* = 500 + 96 = 596, between 512 (ratio 1512/1064) and 1024 (2024/1064):
    // t = (1596 - 1512) / 512 = 0.1640625.
    CHECK(direct_cbs(points, 0.5, 64) == Approx(512 * std::pow(2.0, 0.1640625)).epsilon(1e-12));
}

TEST_CASE("direct rule on hand-made points", "[estimators]") {
    // Anchor B_opt = 64, f(64) = 1000, reference f(64) * 64 = 64000; overhead r = f(B) B / 64000.
    //   128: 520 * 128 = 66560 -> 1.04    qualifies
    //   256: 280 * 256 = 71680 -> 1.12    qualifies (largest)
    //   512: 200 * 512 = 102400 -> 1.6    exceeds 1.2
    //  1024: 180 * 1024 = 184320 -> 2.88
    // t = (1.2 - 1.12) / (1.6 - 1.12) = 1/6, B = 256 * 2^(1/6) = 287.35...
    const std::vector<BatchPoint> points = {
        {64, 1000}, {128, 520}, {256, 280}, {512, 200}, {1024, 180}};
    const double expected = 256 * std::pow(2.0, 1.0 / 6);
    CHECK(direct_cbs(points, 0.2, 64) == Approx(expected).epsilon(1e-12));

    SECTION("order of the points and repeated batch sizes do not matter") {
        // A repeated B keeps its fewest steps (f is the best over the sweep at B).
        const std::vector<BatchPoint> shuffled = {{512, 200}, {64, 1000}, {1024, 180},
                                                  {256, 900}, {128, 520}, {256, 280}};
        CHECK(direct_cbs(shuffled, 0.2, 64) == Approx(expected).epsilon(1e-12));
    }
    SECTION("largest qualifying point, not the first failure") {
        // 128: 700 * 128 / 64000 = 1.4 fails; 256: 250 * 256 / 64000 = 1.0 qualifies;
        // 512: 1.6 fails. t = (1.2 - 1.0) / (1.6 - 1.0) = 1/3, B = 256 * 2^(1/3).
        const std::vector<BatchPoint> p = {{64, 1000}, {128, 700}, {256, 250}, {512, 200}};
        CHECK(direct_cbs(p, 0.2, 64) == Approx(256 * std::cbrt(2.0)).epsilon(1e-12));
    }
    SECTION("a point exactly at the threshold is kept without interpolation") {
        // 256: 300 * 256 / 64000 = 1.2 exactly.
        const std::vector<BatchPoint> p = {{64, 1000}, {128, 520}, {256, 300}, {512, 200}};
        CHECK(direct_cbs(p, 0.2, 64) == 256);
    }
    SECTION("infinite points never qualify and stop the interpolation") {
        // 512 never reached the target: the largest qualifying point 256 is returned as is.
        const std::vector<BatchPoint> tail = {{64, 1000}, {128, 520}, {256, 280}, {512, kInf}};
        CHECK(direct_cbs(tail, 0.2, 64) == 256);
        // An inf point inside the grid is skipped; the answer is the one computed above.
        const std::vector<BatchPoint> middle = {
            {64, 1000}, {128, kInf}, {256, 280}, {512, 200}, {1024, 180}};
        CHECK(direct_cbs(middle, 0.2, 64) == Approx(expected).epsilon(1e-12));
        // Only an inf point above the anchor: nothing qualifies.
        CHECK(direct_cbs({{64, 1000}, {128, kInf}}, 0.2, 64) == 64);
        // The anchor itself never reached the target: no linear-scaling reference.
        CHECK(std::isnan(direct_cbs(middle, 0.2, 128)));
    }
    SECTION("largest point qualifies, or none does") {
        CHECK(direct_cbs({{64, 1000}, {128, 520}, {256, 280}}, 0.2, 64) == 256);
        // 128: 1000 * 128 / 64000 = 2: fails.
        CHECK(direct_cbs({{64, 1000}, {128, 1000}}, 0.2, 64) == 64);
    }
    SECTION("thresholds") {
        // theta = 0.1: 128 (1.04) qualifies, 256 (1.12) fails: t = (1.1 - 1.04) / 0.08 = 0.75.
        CHECK(direct_cbs(points, 0.1, 64) == Approx(128 * std::pow(2.0, 0.75)).epsilon(1e-12));
        // theta = 0.5: 512 (1.6) fails, so 256 again: t = (1.5 - 1.12) / 0.48 = 0.791666...
        CHECK(direct_cbs(points, 0.5, 64) ==
              Approx(256 * std::pow(2.0, 0.38 / 0.48)).epsilon(1e-12));
    }
    SECTION("anchor override") {
        // B_opt = 128: reference 66560. 256: 71680 / 66560 = 14/13 qualifies; 512:
        // 102400 / 66560 = 20/13 fails. t = (1.2 - 14/13) / (6/13) = (15.6 - 14) / 6 = 4/15.
        const double at_128 = 256 * std::pow(2.0, 4.0 / 15);
        CHECK(direct_cbs(points, 0.2, 128) == Approx(at_128).epsilon(1e-12));
        const CbsEstimates est = estimate_cbs(points, 128, 100, 3);
        CHECK(est.b_opt == 128);
        CHECK(est.direct == Approx(at_128).epsilon(1e-12));
        CHECK(est.study == fitted_cbs(est.fit, 0.2, 128));
        // Default anchor: the smallest finite batch.
        CHECK(estimate_cbs(points, 0, 0).direct == Approx(expected).epsilon(1e-12));
        CHECK(estimate_cbs({{32, kInf}, {64, 1000}, {128, 520}}, 0, 0).b_opt == 64);
    }
    SECTION("anchor errors") {
        CHECK(user_error([&] { direct_cbs(points, 0.2, 100); }).find("b_opt = 100") !=
              std::string::npos);
        CHECK(user_error([&] { estimate_cbs(points, 100); }).find("b_opt = 100") !=
              std::string::npos);
        CHECK(user_error([&] { estimate_cbs(points, -1); }).find("b_opt = -1") !=
              std::string::npos);
        const std::vector<BatchPoint> with_inf = {{64, 1000}, {128, kInf}, {256, 280}};
        CHECK(user_error([&] { estimate_cbs(with_inf, 128); }).find("b_opt = 128") !=
              std::string::npos);
        CHECK(user_error([&] { direct_cbs(points, -0.2, 64); }).find("theta = -0.2") !=
              std::string::npos);
    }
}

TEST_CASE("noisy curves: estimates near the truth, bootstrap interval covers it", "[estimators]") {
    const double a = 2000, b = 2e6; // B_noise = 1000
    const std::vector<double> grid = power_of_two_grid(6, 14);
    const double truth = b / (5 * a) + 1.2 * 64; // 276.8
    const auto points = noisy_curve(a, b, grid, 0.03, 2024);

    const StepsFit fit = fit_steps_vs_batch(points);
    // 3% noise on 9 points: the log-space standard errors of a and b are a few percent.
    CHECK(relative_error(fit.a, a) < 0.1);
    CHECK(relative_error(fit.b, b) < 0.1);
    CHECK(fit.rms_log_residual > 0.005);
    CHECK(fit.rms_log_residual < 0.06);

    // The fit is the least-squares minimiser: no point of a fine grid search around it (a slow
    // reference) does better.
    const double best = log_objective(points, fit.a, fit.b);
    CHECK(fit.rms_log_residual == Approx(std::sqrt(best / 9)).epsilon(1e-12));
    int better = 0;
    for (int i = -20; i <= 20; ++i)
        for (int j = -20; j <= 20; ++j) {
            const double a_try = fit.a * std::exp(0.01 * i);
            const double b_try = fit.b * std::exp(0.01 * j);
            better += log_objective(points, a_try, b_try) < best * (1 - 1e-12);
        }
    CHECK(better == 0);

    const CbsEstimates est = estimate_cbs(points, 0, 1000, 11);
    CHECK(relative_error(est.study, truth) < 0.15);
    // The direct rule reads single noisy points near the threshold (the noise-free ratio at 256
    // is 1.1805 against 1.2, closer than the 3% noise), so it is only asked to stay within one
    // grid step (a factor 2) of its noise-free value 256 * 2^0.08125.
    CHECK(std::abs(std::log2(est.direct / (256 * std::pow(2.0, 0.08125)))) < 1);
    CHECK(est.bootstrap_samples == 1000); // 9 points: every resample has >= 2 distinct batches
    CHECK(est.study_ci.low < truth);
    CHECK(est.study_ci.high > truth);
    CHECK(est.study_ci.low < est.study);
    CHECK(est.study_ci.high > est.study);
    // The direct rule interpolates a ratio that is linear in B linearly in log B, so even on the
    // noise-free curve it gives 256 * 2^0.08125 = 270.6, not 276.8 (see the exact-curve test):
    // its interval is checked against that noise-free value.
    const double direct_truth = 256 * std::pow(2.0, 0.08125);
    CHECK(est.direct_ci.low <= direct_truth);
    CHECK(est.direct_ci.high >= direct_truth);
    CHECK(est.direct_ci.high > est.direct_ci.low);

    // Deterministic for the seed; another seed gives another interval.
    const CbsEstimates again = estimate_cbs(points, 0, 1000, 11);
    CHECK(again.study_ci.low == est.study_ci.low);
    CHECK(again.study_ci.high == est.study_ci.high);
    CHECK(again.direct_ci.low == est.direct_ci.low);
    const CbsEstimates other = estimate_cbs(points, 0, 1000, 12);
    CHECK(other.study_ci.low != est.study_ci.low);
}

TEST_CASE("fit on several noisy curves stays near the truth", "[estimators]") {
    // Across 50 seeded curves the study's B* stays within 30% of the truth (3% noise gives a
    // standard error of a few percent; the worst seen is 9%) and the bootstrap interval covers
    // the truth in most of them. A percentile bootstrap over 9 points is anti-conservative: 38 of
    // the 50 intervals cover (76%); the bar of 32 is 2 binomial sd (sqrt(50 * 0.76 * 0.24) = 3)
    // below that, far above what a broken interval (width ~0, coverage ~0) would give.
    const double a = 500, b = 500 * 3000.0; // B_noise = 3000: B* = 600 + 76.8
    const double truth = b / (5 * a) + 1.2 * 64;
    int covered = 0;
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        const auto points = noisy_curve(a, b, power_of_two_grid(6, 14), 0.03, seed);
        const CbsEstimates est = estimate_cbs(points, 0, 200, seed);
        CAPTURE(seed);
        CHECK(relative_error(est.study, truth) < 0.3);
        covered += est.study_ci.low <= truth && truth <= est.study_ci.high;
    }
    CHECK(covered >= 32);
}

TEST_CASE("fit boundaries: pure 1/B, constant, too few points", "[estimators]") {
    const std::vector<double> grid = power_of_two_grid(6, 14);
    SECTION("pure 1/B: a = 0, CBS infinite") {
        const auto points = exact_curve(0, 1e6, grid);
        const StepsFit fit = fit_steps_vs_batch(points);
        CHECK(fit.a == 0);
        CHECK(relative_error(fit.b, 1e6) < 1e-12);
        CHECK(fitted_cbs(fit, 0.2, 64) == kInf);
        const CbsEstimates est = estimate_cbs(points, 0, 20);
        CHECK(est.study == kInf);
        CHECK(est.anchor_zero == kInf);
        CHECK(est.b_noise == kInf);
        // The direct rule: every ratio is exactly 1, so the largest point qualifies.
        CHECK(est.direct == 16384);
    }
    SECTION("constant: b = 0, CBS = (1 + theta) B_opt") {
        std::vector<BatchPoint> points;
        for (const double B : grid)
            points.push_back({B, 500});
        const StepsFit fit = fit_steps_vs_batch(points);
        CHECK(fit.b == 0);
        CHECK(relative_error(fit.a, 500) < 1e-12);
        CHECK(fitted_cbs(fit, 0.2, 64) == Approx(1.2 * 64).epsilon(1e-14));
        CHECK(fitted_cbs(fit, 0.5, 256) == Approx(1.5 * 256).epsilon(1e-14));
        // Direct: 128 has ratio 2, nothing qualifies, the anchor is returned.
        CHECK(direct_cbs(points, 0.2, 64) == 64);
    }
    SECTION("f increasing with B: the b = 0 boundary") {
        // Two points, f(128) > f(64): the unconstrained fit would need b < 0.
        const StepsFit fit = fit_steps_vs_batch({{64, 100}, {128, 121}});
        CHECK(fit.b == 0);
        CHECK(fit.a == Approx(110).epsilon(1e-12)); // geometric mean of 100 and 121
    }
    SECTION("too few finite points") {
        CHECK(user_error([] { fit_steps_vs_batch({}); }).find("need >= 2") != std::string::npos);
        CHECK(user_error([] {
                  fit_steps_vs_batch({{64, 100}, {128, kInf}});
              }).find("need >= 2") != std::string::npos);
        CHECK(user_error([] {
                  fit_steps_vs_batch({{64, 100}, {64, 120}});
              }).find("distinct") != std::string::npos);
        CHECK(user_error([] { estimate_cbs({{64, kInf}, {128, kInf}}); }) != "");
        // Two finite points suffice (and are fitted exactly).
        const StepsFit two = fit_steps_vs_batch({{64, 100 + 6400 / 64.0}, {256, 100 + 25.0}});
        CHECK(relative_error(two.a, 100) < 1e-9);
        CHECK(relative_error(two.b, 6400) < 1e-9);
    }
    SECTION("invalid points") {
        CHECK(user_error([] {
                  fit_steps_vs_batch({{-64, 100}, {128, 50}});
              }).find("batch = -64") != std::string::npos);
        CHECK(user_error([] {
                  fit_steps_vs_batch({{64, 0}, {128, 50}});
              }).find("steps = 0") != std::string::npos);
        CHECK(user_error([] {
                  fit_steps_vs_batch({{64, std::nan("")}, {128, 50}});
              }).find("steps = nan") != std::string::npos);
        CHECK(user_error([] {
                  estimate_cbs({{64, 100}, {128, 50}}, 0, -1);
              }).find("bootstrap_samples = -1") != std::string::npos);
    }
}

TEST_CASE("bootstrap skips resamples with fewer than 2 distinct finite points", "[estimators]") {
    // Two finite points and one inf: a resample is the anchor plus 2 draws, and it is kept only if
    // the draws include the 128 point (probability 1 - (2/3)^2 = 5/9).
    const std::vector<BatchPoint> points = {{64, 1000}, {128, 520}, {256, kInf}};
    const CbsEstimates est = estimate_cbs(points, 0, 900, 5);
    // 900 * 5/9 = 500 kept on average, binomial sd = sqrt(900 * 5/9 * 4/9) = 14.9; 5 sd bounds.
    CHECK(est.bootstrap_samples > 425);
    CHECK(est.bootstrap_samples < 575);
    // Every kept resample holds the same two distinct points: the interval is the point estimate.
    CHECK(est.study_ci.low == Approx(est.study).epsilon(1e-9));
    CHECK(est.study_ci.high == Approx(est.study).epsilon(1e-9));
}

TEST_CASE("read_steps_csv reads groups in file order", "[estimators]") {
    const TempCsv file("group,batch,steps\n"
                       " small , 64 , 1000\n"
                       "small,128,520\r\n"
                       "\n"
                       "large,64,2000\n"
                       "large,128,inf\n"
                       "small,256, Inf \n");
    const auto groups = read_steps_csv(file.path());
    REQUIRE(groups.size() == 2);
    const auto& small = groups.at("small");
    REQUIRE(small.size() == 3);
    CHECK(small[0].batch == 64);
    CHECK(small[0].steps == 1000);
    CHECK(small[1].batch == 128);
    CHECK(small[1].steps == 520);
    CHECK(small[2].batch == 256);
    CHECK(small[2].steps == kInf);
    const auto& large = groups.at("large");
    REQUIRE(large.size() == 2);
    CHECK(large[0].steps == 2000);
    CHECK(large[1].steps == kInf);

    const TempCsv two_columns("batch,steps\n64,1e3\n128,5.2e2\n");
    const auto all = read_steps_csv(two_columns.path());
    REQUIRE(all.size() == 1);
    REQUIRE(all.at("all").size() == 2);
    CHECK(all.at("all")[1].steps == 520);
}

TEST_CASE("read_steps_csv names path, line and offending text", "[estimators]") {
    struct Case {
        const char* contents;
        const char* line;      // ":<line>:" expected in the message
        const char* offending; // text expected in the message
    };
    const Case cases[] = {
        {"group,batch,steps\nA,64,100\nA,abc,100\n", ":3:", "abc"},
        {"group,batch,steps\nA,-64,100\n", ":2:", "-64"},
        {"group,batch,steps\nA,0,100\n", ":2:", "batch"},
        {"group,batch,steps\nA,64,0\n", ":2:", "steps = '0'"},
        {"group,batch,steps\nA,64,-5\n", ":2:", "-5"},
        {"group,batch,steps\nA,64,12x\n", ":2:", "12x"},
        {"group,batch,steps\nA,64,nan\n", ":2:", "nan"},
        {"group,batch,steps\nA,64,\n", ":2:", "steps"},
        {"group,batch,steps\nA,inf,100\n", ":2:", "inf"},
        {"group,batch,steps\nA,64,100\nA,64\n", ":3:", "A,64"},
        {"group,batch,steps\nA,64,100,7\n", ":2:", "A,64,100,7"},
        {"batch,steps\n64,100\n64,100,3\n", ":3:", "64,100,3"},
        {"group,batch,steps\n,64,100\n", ":2:", "group"},
        {"A,64,100\n", ":1:", "A,64,100"},
        {"\ngroup,batch\n", ":2:", "group,batch"},
        {"", ":1:", "header"},
        {"group,batch,steps\n", ":2:", "no data"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.contents);
        const TempCsv file(c.contents);
        const std::string message = user_error([&] { read_steps_csv(file.path()); });
        CAPTURE(message);
        CHECK(message.find(file.path() + c.line) != std::string::npos);
        CHECK(message.find(c.offending) != std::string::npos);
    }
    const std::string missing =
        (std::filesystem::temp_directory_path() / "cbs_test_steps_does_not_exist.csv").string();
    CHECK(user_error([&] { read_steps_csv(missing); }).find(missing) != std::string::npos);
}
