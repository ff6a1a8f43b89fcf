// Error channels shared by every folder (see shared/docs/STYLE.md, "three error channels"):
//  - CBS_CHECK(cond, ...) : an always-on invariant check for bugs; throws cbs::InternalError with
//    file, line, the expression and a formatted explanation. Survives Release builds.
//  - cbs::UserError        : bad user input (config key out of range, unreadable file, ...). The
//  CLI
//    prints its one-line message and exits with code 2.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cbs {

/// Bad user input; what() is a complete one-line message naming the key, value and rule.
class UserError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A violated internal invariant (a bug in cbs, not in the input).
class InternalError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

namespace detail {
template <typename... Args>
[[noreturn]] void check_failed(const char* file, int line, const char* expr, const Args&... args) {
    std::ostringstream os;
    os << file << ":" << line << ": check failed: " << expr;
    if constexpr (sizeof...(Args) > 0) {
        os << ": ";
        (os << ... << args);
    }
    throw InternalError(os.str());
}
} // namespace detail

} // namespace cbs

#define CBS_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) ::cbs::detail::check_failed(__FILE__, __LINE__, #cond, ##__VA_ARGS__);        \
    } while (0)
