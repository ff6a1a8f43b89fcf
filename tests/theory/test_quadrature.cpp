#include "theory/quadrature.hpp"
#include "theory/rates.hpp"
#include "theory/tail_sums.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

using namespace cbs::theory;

TEST_CASE("Gauss-Legendre rule is exact for polynomials of degree 2n-1", "[quadrature]") {
    for (int n : {1, 2, 5, 13, 24}) {
        std::vector<double> x, w;
        gauss_legendre(n, x, w);
        REQUIRE(x.size() == static_cast<std::size_t>(n));
        for (int k = 0; k <= 2 * n - 1; ++k) {
            double integral = 0.0;
            for (int j = 0; j < n; ++j)
                integral += w[j] * std::pow(x[j], k);
            const double exact = (k % 2 == 1) ? 0.0 : 2.0 / (k + 1);
            CHECK(integral == Approx(exact).margin(1e-13));
        }
    }
}

TEST_CASE("spectral grid reproduces sums over coordinates to the requested tolerance",
          "[quadrature]") {
    // The grid must integrate smooth functions of i like the exact sum over coordinates: check the
    // initial signal sum_i i^-b (= zeta(b), twice the initial risk) and a decaying "learned"
    // profile sum_i i^-b exp(-T i^-a), both against closed forms / long direct sums.
    for (double a : {1.5, 2.0, 3.0}) {
        for (double b : {1.5, 3.0, 5.0}) {
            const PowerLawSpectrum sp{a, b};
            QuadratureOptions q;
            q.tolerance = 1e-6;
            const SpectralGrid g = build_spectral_grid(sp, INFINITY, 1e4, 0.0, q);
            double signal = g.frozen_signal;
            for (std::size_t i = 0; i < g.size(); ++i)
                signal += g.count[i] * g.lambda[i] * g.initial_error2[i];
            CHECK(signal == Approx(power_tail_sum(b, 1.0)).epsilon(1e-7));
            CHECK(g.approximation_signal == 0.0);
            CHECK(g.head == auto_head(a, 1e-6));
        }
    }
}

TEST_CASE("spectral grid of a finite model splits the signal into learned and approximation",
          "[quadrature]") {
    const PowerLawSpectrum sp{2.0, 3.0};
    QuadratureOptions q;
    SECTION("small model: every coordinate exact") {
        const SpectralGrid g = build_spectral_grid(sp, 100, 1e3, 0.0, q);
        REQUIRE(g.size() == 100);
        CHECK(g.head == 100);
        CHECK(g.frozen_signal == 0.0);
        for (std::size_t i = 0; i < g.size(); ++i)
            CHECK(g.count[i] == 1.0);
        CHECK(g.approximation_signal == Approx(power_tail_sum(3.0, 101.0)).epsilon(1e-14));
    }
    SECTION("large model: quadrature up to M, frozen tail inside M, approximation beyond") {
        const double M = 1e9;
        const SpectralGrid g = build_spectral_grid(sp, M, 1.0, 0.0, q);
        CHECK(g.first_frozen <= M);
        double counted = g.head;
        for (std::size_t i = static_cast<std::size_t>(g.head); i < g.size(); ++i)
            counted += g.count[i];
        // the grid points stand for coordinates 1 .. first_frozen - 1
        CHECK(counted == Approx(g.first_frozen - 1.0).epsilon(1e-9));
        double signal = g.frozen_signal + g.approximation_signal;
        for (std::size_t i = 0; i < g.size(); ++i)
            signal += g.count[i] * g.lambda[i] * g.initial_error2[i];
        CHECK(signal == Approx(power_tail_sum(3.0, 1.0)).epsilon(1e-8));
        CHECK(g.approximation_signal == Approx(power_tail_sum(3.0, M + 1.0)).epsilon(1e-12));
    }
}

TEST_CASE("predicted exponents of THEORY.md section 3", "[rates]") {
    // a = 2, b = 3: variance-dominated, CBS ~ n^(1 - 2/3)
    CHECK(cbs_data_exponent(2.0, 3.0) == Approx(1.0 / 3.0));
    CHECK(optimal_time_exponent(2.0, 3.0) == Approx(2.0 / 3.0));
    CHECK(optimal_risk_exponent(2.0, 3.0) == Approx(2.0 / 3.0));
    // b beyond 2a+1 saturates at 2a+1
    CHECK(cbs_data_exponent(1.5, 10.0) == Approx(1.0 - 1.5 / 4.0));
    // b <= a: CBS does not grow with data
    CHECK(cbs_data_exponent(2.0, 1.5) == 0.0);
}
