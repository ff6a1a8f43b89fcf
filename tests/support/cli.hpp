// Helpers for tests that run the `cbs` executable end to end (header-only, test code only).
#pragma once

#include "tests/support/paths.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace cbs::test {

/// A scratch directory private to this test process: <tmp>/cbs_<tag>_<pid>, created on demand.
inline std::filesystem::path scratch_dir(const std::string& tag) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cbs_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct CliResult {
    int code = -1;   ///< exit status (-1 if killed by a signal)
    std::string out; ///< stdout
    std::string err; ///< stderr
};

/// Runs `<env> build/cbs <args>` through the shell (args may hold quotes), capturing both streams.
inline CliResult run_cbs(const std::string& args, const std::string& env = "") {
    const std::filesystem::path dir = scratch_dir("cli");
    const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
    const std::string cmd =
        env + " " + cbs::test::binary_dir() + "/cbs " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

} // namespace cbs::test
