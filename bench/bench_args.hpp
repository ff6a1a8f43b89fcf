// The one optional positional argument of bench_recursion and bench_widenet: a count in
// [1, max] (steps, repeats). Anything else, --help included, prints the usage line and exits (0 for
// --help, 2 otherwise), so a typo never runs a benchmark of zero iterations.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cbs::bench {

inline long long count_argument(int argc, char** argv, long long fallback, long long max,
                                const char* usage) {
    if (argc < 2) return fallback;
    if (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
        std::printf("%s\n", usage);
        std::exit(0);
    }
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(argv[1], &end, 10);
    if (argc > 2 || end == argv[1] || *end != '\0' || errno != 0 || value < 1 || value > max) {
        std::fprintf(stderr, "%s: '%s' is not an integer in [1, %lld]\n%s\n", argv[0], argv[1], max,
                     usage);
        std::exit(2);
    }
    return value;
}

} // namespace cbs::bench
