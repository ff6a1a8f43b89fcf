// Where a test finds the repository and its build tree. The two paths are compiled into one small
// object (tests/support/paths.cpp; tests/CMakeLists.txt defines them for that file alone), not
// into every test source: a test's compilation then does not depend on where the checkout lies,
// and ccache reuses it across checkouts (CI builds a fresh clone each time).
#pragma once

#include <string>

namespace cbs::test {

/// The repository root, absolute (holds data/, experiments/, scripts/).
const std::string& source_dir();

/// The build tree these tests were built in, absolute (holds the `cbs` executable).
const std::string& binary_dir();

} // namespace cbs::test
