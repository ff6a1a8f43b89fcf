#include "tests/support/paths.hpp"

#if !defined(CBS_SOURCE_DIR) || !defined(CBS_TEST_BINARY_DIR)
#error "tests/CMakeLists.txt defines CBS_SOURCE_DIR and CBS_TEST_BINARY_DIR for this file"
#endif

namespace cbs::test {

const std::string& source_dir() {
    static const std::string dir = CBS_SOURCE_DIR;
    return dir;
}

const std::string& binary_dir() {
    static const std::string dir = CBS_TEST_BINARY_DIR;
    return dir;
}

} // namespace cbs::test
