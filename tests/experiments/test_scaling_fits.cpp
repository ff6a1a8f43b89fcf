// Power-law fits: exact recovery, a hand-computed 3-point fit, interval coverage on seeded noisy
// data, the joint fit, collinearity, local slopes on a broken power law, forecast intervals.
#include "experiments/scaling_fits.hpp"
#include "theory/check.hpp"

#include "tests/support/user_error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

using namespace cbs::exp;

namespace {

double relative_error(double value, double reference) {
    return std::abs(value - reference) / std::abs(reference);
}

using cbs::test::user_error;

/// x = 2^0 ... 2^(count-1) times `scale`.
std::vector<double> geometric(int count, double scale) {
    std::vector<double> x;
    for (int k = 0; k < count; ++k)
        x.push_back(scale * std::ldexp(1.0, k));
    return x;
}

} // namespace

// Exact data: the OLS solution in log space is exact up to rounding of a few dozen operations on
// logs of size ~10, so ~1e-14 relative; 1e-12 leaves margin.
TEST_CASE("power law recovered exactly on exact data", "[fits]") {
    const std::vector<double> x = {85, 151, 302, 604, 1200}; // the study's model sizes (M)
    std::vector<double> y;
    for (const double v : x)
        y.push_back(93.20 * std::pow(v, 0.47));
    const PowerLawFit fit = fit_power_law(x, y);
    CHECK(relative_error(fit.c, 93.20) < 1e-12);
    CHECK(relative_error(fit.alpha, 0.47) < 1e-12);
    CHECK(fit.alpha_se < 1e-12);
    CHECK(fit.alpha_low <= fit.alpha);
    CHECK(fit.alpha_high >= fit.alpha);
    CHECK(fit.alpha_high - fit.alpha_low < 1e-10);
    CHECK(fit.r2 == Approx(1).epsilon(1e-12));
    CHECK(fit.points == 5);

    // Decreasing law, x far from 1.
    const std::vector<double> big = {1e9, 3e9, 1e10, 3e10};
    std::vector<double> yb;
    for (const double v : big)
        yb.push_back(22.91 * std::pow(v, -0.3));
    const PowerLawFit down = fit_power_law(big, yb);
    CHECK(relative_error(down.c, 22.91) < 1e-10); // c = exp(log-intercept at x = 1, 9 decades out)
    CHECK(relative_error(down.alpha, -0.3) < 1e-12);
}

TEST_CASE("power law fit by hand on three points", "[fits]") {
    // log x = 0, 1, 2; log y = 0, 1, 3. Means 1 and 4/3, Sxx = 2, Sxy = 4/3 + 5/3 = 3:
    // alpha = 1.5, log c = 4/3 - 1.5 = -1/6. Residuals 1/6, -1/3, 1/6: SSR = 1/6, dof 1,
    // s^2 = 1/6, se = sqrt(s^2 / Sxx) = sqrt(1/12). t(0.975, 1) = tan(0.475 pi) = 12.7062047.
    // SST = 16/9 + 1/9 + 25/9 = 14/3, r2 = 1 - (1/6) / (14/3) = 27/28.
    const double e = std::exp(1.0);
    const PowerLawFit fit = fit_power_law({1, e, e * e}, {1, e, std::exp(3.0)});
    CHECK(fit.alpha == Approx(1.5).epsilon(1e-13));
    CHECK(fit.c == Approx(std::exp(-1.0 / 6)).epsilon(1e-13));
    CHECK(fit.alpha_se == Approx(std::sqrt(1.0 / 12)).epsilon(1e-12));
    const double t = std::tan(0.475 * std::numbers::pi); // Cauchy quantile: t with 1 dof
    CHECK(fit.alpha_high == Approx(1.5 + t * std::sqrt(1.0 / 12)).epsilon(1e-10));
    CHECK(fit.alpha_low == Approx(1.5 - t * std::sqrt(1.0 / 12)).epsilon(1e-10));
    CHECK(fit.r2 == Approx(27.0 / 28).epsilon(1e-13));

    // Two points: exact line, no residual scale.
    const PowerLawFit two = fit_power_law({2, 8}, {3, 12});
    CHECK(two.alpha == Approx(1).epsilon(1e-14));
    CHECK(two.c == Approx(1.5).epsilon(1e-14));
    CHECK(two.alpha_se == 0);
    CHECK(two.alpha_low == two.alpha);
    CHECK(two.alpha_high == two.alpha);
}

TEST_CASE("power law intervals cover the truth about 95% of the time", "[fits]") {
    // 200 seeded trials, 8 points, Gaussian noise of sd 0.1 in log y: the t interval is exact, so
    // coverage ~ Binomial(200, 0.95)/200 with sd 0.015; [0.9, 0.99] is about +-3 sd. The forecast
    // interval for a new observation at 4x the largest x is checked the same way.
    const double c = 93.2, alpha = 0.47;
    const std::vector<double> x = geometric(8, 10);
    const double x_new = 4 * x.back();
    std::mt19937_64 rng(20250101);
    std::normal_distribution<double> noise(0.0, 0.1);
    int alpha_covered = 0, forecast_covered = 0;
    const int trials = 200;
    for (int trial = 0; trial < trials; ++trial) {
        std::vector<double> y;
        for (const double v : x)
            y.push_back(c * std::pow(v, alpha) * std::exp(noise(rng)));
        const PowerLawFit fit = fit_power_law(x, y);
        alpha_covered += fit.alpha_low <= alpha && alpha <= fit.alpha_high;
        const double y_new = c * std::pow(x_new, alpha) * std::exp(noise(rng));
        const Forecast f = forecast(fit, x, x_new);
        forecast_covered += f.low <= y_new && y_new <= f.high;
    }
    const double alpha_coverage = static_cast<double>(alpha_covered) / trials;
    const double forecast_coverage = static_cast<double>(forecast_covered) / trials;
    CHECK(alpha_coverage >= 0.9);
    CHECK(alpha_coverage <= 0.99);
    CHECK(forecast_coverage >= 0.9);
    CHECK(forecast_coverage <= 0.99);
}

TEST_CASE("forecast interval contains the fitted value and widens away from the data", "[fits]") {
    const std::vector<double> x = geometric(6, 100); // 100 ... 3200, geometric mean 400 sqrt 2
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0.0, 0.05);
    std::vector<double> y;
    for (const double v : x)
        y.push_back(5 * std::pow(v, 0.5) * std::exp(noise(rng)));
    const PowerLawFit fit = fit_power_law(x, y);
    const auto log_width = [&](double at) {
        const Forecast f = forecast(fit, x, at);
        return std::log(f.high) - std::log(f.low);
    };
    const double centre = 400 * std::sqrt(2.0);
    for (const double at : {centre, 100.0, 3200.0, 1e5, 1e7}) {
        CAPTURE(at);
        const Forecast f = forecast(fit, x, at);
        CHECK(f.value == Approx(fit.c * std::pow(at, fit.alpha)).epsilon(1e-12));
        CHECK(f.low < f.value);
        CHECK(f.high > f.value);
        // Symmetric in log space.
        CHECK(std::log(f.high / f.value) == Approx(std::log(f.value / f.low)).epsilon(1e-9));
    }
    // Narrowest at the mean of log x; grows on both sides.
    CHECK(log_width(centre) < log_width(3200));
    CHECK(log_width(centre) < log_width(100));
    CHECK(log_width(3200) < log_width(1e5));
    CHECK(log_width(1e5) < log_width(1e7));
    CHECK(log_width(100) < log_width(1));

    CHECK(user_error([&] { forecast(fit, {1, 2, 3}, 10); }).find("x_fitted") != std::string::npos);
    CHECK(user_error([&] { forecast(fit, x, -1); }).find("x = -1") != std::string::npos);
}

TEST_CASE("power law input errors", "[fits]") {
    CHECK(user_error([] {
              fit_power_law({1, -3, 4}, {1, 2, 3});
          }).find("x[1] = -3") != std::string::npos);
    CHECK(user_error([] {
              fit_power_law({1, 3, 4}, {1, 0, 3});
          }).find("y[1] = 0") != std::string::npos);
    CHECK(user_error([] {
              fit_power_law({1, 3, 4}, {1, std::nan(""), 3});
          }).find("y[1] = nan") != std::string::npos);
    CHECK(user_error([] {
              fit_power_law({1, 3}, {1, 2, 3});
          }).find("y has 3 values") != std::string::npos);
    CHECK(user_error([] { fit_power_law({5}, {1}); }).find("need >= 2") != std::string::npos);
    CHECK(user_error([] {
              fit_power_law({5, 5, 5}, {1, 2, 3});
          }).find("distinct") != std::string::npos);
}

TEST_CASE("joint power law recovers c, alpha, gamma, and collinear input is refused", "[fits]") {
    // Non-collinear design: a 4 x 3 grid of (n, m).
    std::vector<double> n, m, y;
    for (const double nv : {85.0, 302.0, 604.0, 1200.0})
        for (const double mv : {500.0, 2000.0, 8000.0}) {
            n.push_back(nv);
            m.push_back(mv);
            y.push_back(22.91 * std::pow(nv, 0.087) * std::pow(mv, 0.47));
        }
    const JointPowerLawFit fit = fit_joint_power_law(n, m, y);
    CHECK(relative_error(fit.c, 22.91) < 1e-12);
    CHECK(relative_error(fit.alpha, 0.087) < 1e-12);
    CHECK(relative_error(fit.gamma, 0.47) < 1e-12);
    CHECK(fit.r2 == Approx(1).epsilon(1e-12));
    CHECK(fit.points == 12);
    CHECK(fit.alpha_high - fit.alpha_low < 1e-10);
    CHECK(fit.gamma_high - fit.gamma_low < 1e-10);

    SECTION("noisy: intervals of positive width around the estimates, covering the truth") {
        std::mt19937_64 rng(3);
        std::normal_distribution<double> noise(0.0, 0.05);
        std::vector<double> noisy = y;
        for (double& v : noisy)
            v *= std::exp(noise(rng));
        const JointPowerLawFit f = fit_joint_power_law(n, m, noisy);
        CHECK(f.alpha_low < f.alpha);
        CHECK(f.alpha < f.alpha_high);
        CHECK(f.gamma_low < f.gamma);
        CHECK(f.gamma < f.gamma_high);
        CHECK(f.alpha_low < 0.087);
        CHECK(0.087 < f.alpha_high);
        CHECK(f.gamma_low < 0.47);
        CHECK(0.47 < f.gamma_high);
        CHECK(f.r2 < 1);
        CHECK(f.r2 > 0.9);
    }
    SECTION("three points: exact, intervals collapse") {
        const JointPowerLawFit f =
            fit_joint_power_law({1, 10, 1}, {1, 1, 10}, {2, 2 * std::pow(10, 0.3), 2 * 10.0});
        CHECK(f.alpha == Approx(0.3).epsilon(1e-13));
        CHECK(f.gamma == Approx(1.0).epsilon(1e-13));
        CHECK(f.alpha_low == f.alpha);
        CHECK(f.gamma_high == f.gamma);
    }
    SECTION("errors") {
        // m = 3 n^2: log m = log 3 + 2 log n, collinear with log n.
        std::vector<double> collinear;
        for (const double nv : n)
            collinear.push_back(3 * nv * nv);
        CHECK(user_error([&] { fit_joint_power_law(n, collinear, y); }).find("collinear") !=
              std::string::npos);
        // Constant m is collinear with the intercept.
        const std::vector<double> constant(n.size(), 7.0);
        CHECK(user_error([&] { fit_joint_power_law(n, constant, y); }).find("collinear") !=
              std::string::npos);
        CHECK(user_error([] {
                  fit_joint_power_law({1, 2}, {1, 3}, {1, 1});
              }).find("need >= 3") != std::string::npos);
        CHECK(user_error([] {
                  fit_joint_power_law({1, 2, 3}, {1, 3}, {1, 1, 1});
              }).find("m has 2 values") != std::string::npos);
        CHECK(user_error([] {
                  fit_joint_power_law({1, 2, 3}, {1, 3, 2}, {1, -1, 1});
              }).find("y[1] = -1") != std::string::npos);
    }
}

TEST_CASE("local slopes on a broken power law", "[fits]") {
    // y = x^0.5 up to x = 100, then 10 (x/100)^1: slopes 0.5, 0.5 then 1, 1. Input unsorted.
    const auto y_of = [](double x) { return x <= 100 ? std::sqrt(x) : 10 * (x / 100); };
    const std::vector<double> x = {1000, 1, 10, 10000, 100};
    std::vector<double> y;
    for (const double v : x)
        y.push_back(y_of(v));
    const std::vector<double> slopes = local_slopes(x, y);
    REQUIRE(slopes.size() == 4);
    CHECK(slopes[0] == Approx(0.5).epsilon(1e-13));
    CHECK(slopes[1] == Approx(0.5).epsilon(1e-13));
    CHECK(slopes[2] == Approx(1.0).epsilon(1e-13));
    CHECK(slopes[3] == Approx(1.0).epsilon(1e-13));

    CHECK(user_error([] {
              local_slopes({1, 2, 2}, {1, 2, 3});
          }).find("x = 2") != std::string::npos);
    CHECK(user_error([] { local_slopes({1}, {1}); }).find("need >= 2") != std::string::npos);
    CHECK(user_error([] { local_slopes({1, 0}, {1, 1}); }).find("x[1] = 0") != std::string::npos);
}

TEST_CASE("joint forecast: a hand-computed prediction interval on a 2 x 2 design", "[fits]") {
    // log n, log m on the 2 x 2 grid {0, 1}^2, log y = 0, 1, 1, 3. Centred design: means 1/2 and
    // 1/2, Snn = Smm = 1, Snm = 0, mean log y = 5/4; Sny = Smy = 3/2, so alpha = gamma = 3/2 and
    // log c = 5/4 - 3/4 - 3/4 = -1/4. Fitted log y = -1/4, 5/4, 5/4, 11/4: residuals +-1/4, SSR =
    // 1/4, dof = 1, s^2 = 1/4; Cov(alpha, gamma) = s^2 I. At log n = log m = 2: d = (3/2, 3/2),
    // log y_hat = 23/4 and Var = s^2 (1 + 1/4 + 9/4 + 9/4) = 23/16; t(0.975, 1) = tan(0.475 pi).
    const double e = std::exp(1.0);
    const JointPowerLawFit fit =
        fit_joint_power_law({1, e, 1, e}, {1, 1, e, e}, {1, e, e, std::exp(3.0)});
    CHECK(fit.alpha == Approx(1.5).epsilon(1e-13));
    CHECK(fit.gamma == Approx(1.5).epsilon(1e-13));
    CHECK(fit.c == Approx(std::exp(-0.25)).epsilon(1e-13));
    CHECK(fit.residual_variance == Approx(0.25).epsilon(1e-13));
    CHECK(fit.cov_alpha_alpha == Approx(0.25).epsilon(1e-13));
    CHECK(fit.cov_gamma_gamma == Approx(0.25).epsilon(1e-13));
    CHECK(std::abs(fit.cov_alpha_gamma) < 1e-14);
    const double t = std::tan(0.475 * std::numbers::pi);
    const double half = t * std::sqrt(23.0 / 16);
    const Forecast f = forecast(fit, e * e, e * e);
    CHECK(f.value == Approx(std::exp(5.75)).epsilon(1e-12));
    CHECK(f.low == Approx(std::exp(5.75 - half)).epsilon(1e-10));
    CHECK(f.high == Approx(std::exp(5.75 + half)).epsilon(1e-10));
    // At the centre of the design only the residual and intercept terms remain: s^2 (1 + 1/4).
    const Forecast centre = forecast(fit, std::sqrt(e), std::sqrt(e));
    CHECK(std::log(centre.high / centre.value) ==
          Approx(t * std::sqrt(0.25 * 1.25)).epsilon(1e-10));

    // Three points: exact fit, no residual scale, interval collapses onto the value.
    const JointPowerLawFit three =
        fit_joint_power_law({1, 10, 1}, {1, 1, 10}, {2, 2 * std::pow(10, 0.3), 2 * 10.0});
    const Forecast exact = forecast(three, 100, 100);
    CHECK(exact.value == Approx(2 * std::pow(100, 0.3) * 100).epsilon(1e-12));
    CHECK(exact.low == exact.value);
    CHECK(exact.high == exact.value);
    CHECK(user_error([&] { forecast(fit, 0, 1); }).find("n = 0") != std::string::npos);
    CHECK(user_error([&] { forecast(fit, 1, -2); }).find("m = -2") != std::string::npos);
}

TEST_CASE("joint forecast intervals cover a new observation about 95% of the time", "[fits]") {
    // As for the one-variable forecast: 200 seeded trials on a 3 x 3 design, noise sd 0.1 in
    // log y, a new observation off the design (2x the largest n, 4x the largest m). The interval
    // is exact under Gaussian noise, so coverage ~ Binomial(200, 0.95)/200, sd 0.015.
    std::vector<double> n, m;
    for (const double nv : {85.0, 302.0, 1200.0})
        for (const double mv : {1700.0, 6000.0, 24000.0}) {
            n.push_back(nv);
            m.push_back(mv);
        }
    const auto law = [](double nv, double mv) {
        return 0.5 * std::pow(nv, 0.1) * std::pow(mv, 0.47);
    };
    std::mt19937_64 rng(20251203);
    std::normal_distribution<double> noise(0.0, 0.1);
    int covered = 0;
    const int trials = 200;
    for (int trial = 0; trial < trials; ++trial) {
        std::vector<double> y;
        for (std::size_t k = 0; k < n.size(); ++k)
            y.push_back(law(n[k], m[k]) * std::exp(noise(rng)));
        const JointPowerLawFit fit = fit_joint_power_law(n, m, y);
        const double y_new = law(2400, 96000) * std::exp(noise(rng));
        const Forecast f = forecast(fit, 2400, 96000);
        covered += f.low <= y_new && y_new <= f.high;
    }
    const double coverage = static_cast<double>(covered) / trials;
    CHECK(coverage >= 0.9);
    CHECK(coverage <= 0.99);
}
