#include "theory/tail_sums.hpp"

#include <boost/math/special_functions/zeta.hpp>
#include <catch2/catch.hpp>
#include <cmath>

using cbs::theory::power_range_sum;
using cbs::theory::power_tail_sum;

TEST_CASE("power_tail_sum from 1 equals the Riemann zeta function", "[tail_sums]") {
    for (double s : {1.1, 1.5, 2.0, 3.0, 4.5, 9.0}) {
        const double ref = boost::math::zeta(s);
        CHECK(power_tail_sum(s, 1.0) == Approx(ref).epsilon(1e-13));
    }
}

TEST_CASE("power_tail_sum obeys the shift identity and matches direct sums", "[tail_sums]") {
    for (double s : {1.3, 2.0, 3.5}) {
        for (double n0 : {1.0, 7.0, 50.0, 1000.0, 1e7}) {
            const double shifted = power_tail_sum(s, n0 + 1.0) + std::pow(n0, -s);
            CHECK(power_tail_sum(s, n0) == Approx(shifted).epsilon(1e-13));
        }
        // a long direct sum from 20 to 2e5 plus the tail from 2e5+1 (different code paths)
        double direct = 0.0;
        for (double i = 200000.0; i >= 20.0; i -= 1.0)
            direct += std::pow(i, -s);
        CHECK(power_tail_sum(s, 20.0) ==
              Approx(direct + power_tail_sum(s, 200001.0)).epsilon(1e-12));
    }
}

TEST_CASE("power_range_sum handles empty, short, long and infinite ranges", "[tail_sums]") {
    CHECK(power_range_sum(2.0, 5.0, 4.0) == 0.0);
    CHECK(power_range_sum(2.0, 3.0, 3.0) == Approx(1.0 / 9.0).epsilon(1e-15));
    CHECK(power_range_sum(2.0, 1.0, 3.0) == Approx(1.0 + 0.25 + 1.0 / 9.0).epsilon(1e-15));
    double direct = 0.0;
    for (double i = 10000.0; i >= 2.0; i -= 1.0)
        direct += std::pow(i, -2.5);
    CHECK(power_range_sum(2.5, 2.0, 10000.0) == Approx(direct).epsilon(1e-12));
    CHECK(power_range_sum(2.5, 2.0, INFINITY) == Approx(power_tail_sum(2.5, 2.0)).epsilon(1e-15));
}
