#include "experiments/steps_to_target.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using cbs::exp::steps_to_target;

TEST_CASE("steps to target: first crossing and its log-log interpolation", "[steps]") {
    // risk = 1/step on steps 1, 2, 4, 8: target 0.3 is crossed between 2 (0.5) and 4 (0.25);
    // in log-log the curve is exact, so the interpolation gives 1/0.3 exactly.
    const std::vector<std::int64_t> steps{1, 2, 4, 8};
    const std::vector<double> risk{1.0, 0.5, 0.25, 0.125};
    const auto r = steps_to_target(steps, risk, 0.3);
    CHECK(r.first == 4.0);
    CHECK(r.interpolated == Approx(1.0 / 0.3).epsilon(1e-12));
    CHECK(steps_to_target(steps, risk, 1.0).first == 1.0); // reached at the first point
    CHECK(std::isinf(steps_to_target(steps, risk, 0.1).first));
    CHECK(std::isinf(steps_to_target(steps, risk, 0.1).interpolated));
    // non-monotone curve: the first crossing counts
    const auto bumpy = steps_to_target({1, 2, 3, 4}, {1.0, 0.2, 0.6, 0.1}, 0.3);
    CHECK(bumpy.first == 2.0);
}
