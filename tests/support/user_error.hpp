// The message of the cbs::UserError a piece of code throws, for tests of refusals.
#pragma once

#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace cbs::test {

/// The one-line message of the UserError that `f` throws; fails the test case if `f` throws none.
template <typename F>
std::string user_error(F&& f) {
    try {
        f();
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    FAIL("expected a cbs::UserError, none was thrown");
    return "";
}

} // namespace cbs::test
