// The LM-training commands run with passive OpenMP waiting unless the user chose a policy
// (experiments/cli/omp_wait_policy.hpp): read from the running process's environment.
#include "tests/support/process.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// The OMP_WAIT_POLICY entry of a running `cbs train-lm`'s environment 1.5 s after its start
// (long after the re-exec, long before the run ends); "" when absent.
std::string wait_policy_seen(const std::vector<std::string>& env) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("cbs_omp_wait_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string root = std::string(CBS_SOURCE_DIR) + "/data/samples/moby-dick-head-byte/";
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
        if (item.rfind("OMP_WAIT_POLICY=", 0) == 0) seen = item.substr(16);
    std::filesystem::remove_all(dir);
    return seen; // the destructor kills the run
}

} // namespace

TEST_CASE("cbs train-lm re-runs itself with OMP_WAIT_POLICY=PASSIVE when it is unset", "[lm]") {
    ::unsetenv("OMP_WAIT_POLICY");
    CHECK(wait_policy_seen({}) == "PASSIVE");
}

TEST_CASE("a user's OMP_WAIT_POLICY is kept", "[lm]") {
    CHECK(wait_policy_seen({"OMP_WAIT_POLICY=ACTIVE"}) == "ACTIVE");
}
