// MPI for `cbs sweep` split over ranks, loaded only when an MPI launcher started this process.
//
// cbs links no MPI library (starting it and loading libmpi costs more than a small simulation).
// A sweep asks mpi_launcher_evidence() first, which reads only the environment that launchers
// set; only then does MpiSession open the MPI module, libcbs_mpi.so (mpi/mpi_module.hpp), from
// beside the executable, and initialise MPI. So `mpirun -np K cbs sweep ...` works as before,
// and every other run of cbs neither loads nor initialises MPI.
#pragma once

#include "experiments/mpi/mpi_module.hpp"

#include <string>

namespace cbs::exp {

/// This process's place in MPI_COMM_WORLD; {0, 1} outside MPI.
struct MpiWorld {
    int rank = 0;
    int size = 1;
};

/// What in the environment says an MPI launcher started this process as one of several ranks,
/// e.g. "OMPI_COMM_WORLD_SIZE=4" (Open MPI), "PMI_SIZE=4" (MPICH/Hydra, Intel MPI, Slurm's PMI)
/// or "MV2_COMM_WORLD_SIZE=4" (MVAPICH), each only when > 1; in a build with MPI also
/// "PMIX_RANK=0" (PMIx launchers such as `srun --mpi=pmix`, which export no size: MPI tells it).
/// Empty when none of these is set.
std::string mpi_launcher_evidence();

/// MPI from construction to destruction: opens libcbs_mpi.so and initialises MPI (unless it
/// already is); the destructor finalises what it initialised. One per process. Calls are
/// collective over MPI_COMM_WORLD (mpi_module.hpp).
class MpiSession {
public:
    /// Throws cbs::UserError naming `evidence` and what is missing when this build has no MPI or
    /// the module (or the MPI library it needs) cannot be loaded.
    explicit MpiSession(const std::string& evidence);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

    const MpiWorld& world() const { return world_; }
    int max_on_all(int value) const;
    void sum_to_root(const unsigned long long* in, unsigned long long* out, int n) const;
    double max_to_root(double value) const;

private:
    const MpiModuleApi* api_ = nullptr;
    MpiWorld world_;
    bool owner_ = false;
};

} // namespace cbs::exp
