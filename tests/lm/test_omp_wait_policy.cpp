// The LM-training commands run with GOMP_SPINCOUNT=10000 unless the user chose a wait policy
// (experiments/cli/omp_wait_policy.hpp): read from the running process's environment.
#include "tests/support/paths.hpp"
#include "tests/support/process.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// The `key` entry of a running `cbs train-lm`'s environment 1.5 s after its start (long after the
// re-exec, long before the run ends); "" when absent.
std::string env_seen(const std::string& key, const std::vector<std::string>& env) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("cbs_omp_wait_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string root = cbs::test::source_dir() + "/data/samples/moby-dick-head-byte/";
    cbs::test::CbsProcess p({"train-lm", "--quiet", "--out", (dir / "run.h5").string(), "--set",
                             "data.train=" + root + "train_000000.bin", "--set",
                             "data.val=" + root + "val_000000.bin", "--set", "steps=100000"},
                            dir / "out.txt", dir / "err.txt", env);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    REQUIRE_FALSE(p.exited());
    std::ifstream in("/proc/" + std::to_string(p.pid()) + "/environ", std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    std::string item, seen;
    while (std::getline(all, item, '\0'))
        if (item.rfind(key + "=", 0) == 0) seen = item.substr(key.size() + 1);
    std::filesystem::remove_all(dir);
    return seen; // the destructor kills the run
}

} // namespace

TEST_CASE("cbs train-lm re-runs itself with GOMP_SPINCOUNT=10000 when no policy is set", "[lm]") {
    ::unsetenv("OMP_WAIT_POLICY");
    ::unsetenv("GOMP_SPINCOUNT");
    CHECK(env_seen("GOMP_SPINCOUNT", {}) == "10000");
}

TEST_CASE("a user's OpenMP wait policy is kept", "[lm]") {
    ::unsetenv("OMP_WAIT_POLICY");
    ::unsetenv("GOMP_SPINCOUNT");
    CHECK(env_seen("GOMP_SPINCOUNT", {"OMP_WAIT_POLICY=ACTIVE"}).empty());
    CHECK(env_seen("GOMP_SPINCOUNT", {"GOMP_SPINCOUNT=123"}) == "123");
}
