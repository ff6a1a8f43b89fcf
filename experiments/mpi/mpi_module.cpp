// libcbs_mpi.so: mpi_module.hpp's table over MPI's C API (the only file of cbs that includes
// mpi.h). Built when CMake finds MPI; opened by mpi_session.cpp under an MPI launcher only.
#include "experiments/mpi/mpi_module.hpp"

#include <mpi.h>

namespace {

bool init(int* rank, int* size) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return initialized == 0;
}

void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized == 0) MPI_Finalize();
}

int max_on_all(int value) {
    int result = 0;
    MPI_Allreduce(&value, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return result;
}

void sum_to_root(const unsigned long long* in, unsigned long long* out, int n) {
    MPI_Reduce(in, out, n, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
}

double max_to_root(double value) {
    double result = 0;
    MPI_Reduce(&value, &result, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    return result;
}

} // namespace

/// The module's one exported symbol (mpi_module.hpp's kMpiModuleSymbol).
extern "C" __attribute__((visibility("default"))) const cbs::exp::MpiModuleApi*
cbs_mpi_module_v1() {
    static const cbs::exp::MpiModuleApi api{
        cbs::exp::kMpiModuleAbi, init, finalize, max_on_all, sum_to_root, max_to_root};
    return &api;
}
