// The boundary between cbs and its MPI module, libcbs_mpi.so: the few MPI calls a sweep split
// over ranks makes (experiments/cli/sweep_command.cpp), behind a table of plain functions.
//
// cbs links no MPI library. Only a process that an MPI launcher started (mpi_session.hpp) opens
// the module, which links libmpi; every other run of cbs neither loads nor initialises MPI.
// The module exports one C symbol, kMpiModuleSymbol, returning this table.
#pragma once

namespace cbs::exp {

/// Bump whenever MpiModuleApi changes shape.
inline constexpr int kMpiModuleAbi = 1;
/// The exported `extern "C" const MpiModuleApi* cbs_mpi_module_v1()`.
inline constexpr const char* kMpiModuleSymbol = "cbs_mpi_module_v1";

/// Every call is collective over MPI_COMM_WORLD except init's rank and size queries.
struct MpiModuleApi {
    int abi = 0; ///< kMpiModuleAbi of the module's build
    /// MPI_Init unless MPI is initialised already; writes this rank and the world size. Returns
    /// true if this call initialised MPI (and so finalize() should end it).
    bool (*init)(int* rank, int* size) = nullptr;
    /// MPI_Finalize unless MPI is finalised already.
    void (*finalize)() = nullptr;
    /// The maximum of `value` over every rank, on every rank (MPI_Allreduce; also a barrier).
    int (*max_on_all)(int value) = nullptr;
    /// Element-wise sums of in[0..n) over every rank into out on rank 0 (MPI_Reduce).
    void (*sum_to_root)(const unsigned long long* in, unsigned long long* out, int n) = nullptr;
    /// The maximum of `value` over every rank, on rank 0 (MPI_Reduce).
    double (*max_to_root)(double value) = nullptr;
};

/// Type of the exported entry point.
using MpiModuleEntry = const MpiModuleApi* (*)();

} // namespace cbs::exp
