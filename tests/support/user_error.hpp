// The message of the cbs::UserError a piece of code throws, for tests of refusals.
#pragma once

#include "theory/check.hpp"

#include <string>

namespace cbs::test {

/// The one-line message of the UserError that `f` throws ("" if it throws none).
template <typename F>
std::string user_error(F&& f) {
    try {
        f();
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}

} // namespace cbs::test
