// The one comparison of stored runs the tests use: same id, attributes and curves, bit for bit
// (HDF5 stores native int64/double exactly, and reruns on one machine reproduce exactly).
#pragma once

#include "data/study_file.hpp"

#include <catch2/catch.hpp>

namespace cbs::test {

inline void require_same_run(const cbs::data::RunRecord& got, const cbs::data::RunRecord& want) {
    INFO("run " << want.id);
    REQUIRE(got.id == want.id);
    CHECK(got.attrs == want.attrs);
    CHECK(got.step == want.step);
    CHECK(got.samples == want.samples);
    CHECK(got.risk == want.risk);
    CHECK(got.risk_ewa == want.risk_ewa);
    CHECK(got.extra_curves == want.extra_curves);
}

} // namespace cbs::test
