#include "experiments/cli/omp_wait_policy.hpp"

#include <cstdlib>
#include <unistd.h>

namespace cbs::exp {

void reexec_with_short_omp_spin(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr)
        return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // Only reached if the exec failed: carry on with this process (libgomp's default spinning).
}

} // namespace cbs::exp
