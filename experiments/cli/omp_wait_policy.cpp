#include "experiments/cli/omp_wait_policy.hpp"

#include <cstdlib>
#include <unistd.h>

namespace cbs::exp {

void reexec_with_passive_omp_wait(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // Only reached if the exec failed: carry on with this process (libgomp's policy unchanged).
}

} // namespace cbs::exp
