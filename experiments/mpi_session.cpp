// mpi_session.hpp: launcher detection from the environment, the MPI module opened on demand.
#include "experiments/mpi_session.hpp"

#include "gpu/run_time_library.hpp"
#include "theory/check.hpp"

#include <cstdlib>
#include <fmt/format.h>

namespace cbs::exp {

std::string mpi_launcher_evidence() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"})
        if (const char* v = std::getenv(name); v != nullptr && std::atoi(v) > 1)
            return fmt::format("{}={}", name, v);
#ifdef CBS_HAVE_MPI
    if (const char* v = std::getenv("PMIX_RANK"); v != nullptr)
        return fmt::format("PMIX_RANK={}", v);
#endif
    return {};
}

MpiSession::MpiSession([[maybe_unused]] const std::string& evidence) {
#ifndef CBS_HAVE_MPI
    throw UserError(fmt::format("started by an MPI launcher ({}), but this cbs was built without "
                                "MPI: run one `cbs sweep --shard i/K` per process instead",
                                evidence));
#else
    std::string error;
    const RunTimeLibrary lib = open_run_time_library(CBS_MPI_MODULE_FILE, true);
    void* entry =
        lib.handle != nullptr ? run_time_symbol(lib.handle, kMpiModuleSymbol, error) : nullptr;
    if (lib.handle == nullptr) error = lib.error;
    if (entry != nullptr) {
        api_ = reinterpret_cast<MpiModuleEntry>(entry)();
        if (api_ == nullptr || api_->abi != kMpiModuleAbi) {
            error =
                fmt::format("{} is from another build of cbs: rebuild both", CBS_MPI_MODULE_FILE);
            api_ = nullptr;
        }
    }
    if (api_ == nullptr)
        throw UserError(fmt::format("started by an MPI launcher ({}), but MPI cannot be used: {}",
                                    evidence, error));
    owner_ = api_->init(&world_.rank, &world_.size);
#endif
}

MpiSession::~MpiSession() {
    if (api_ != nullptr && owner_) api_->finalize();
}

int MpiSession::max_on_all(int value) const {
    return api_->max_on_all(value);
}

void MpiSession::sum_to_root(const unsigned long long* in, unsigned long long* out, int n) const {
    api_->sum_to_root(in, out, n);
}

double MpiSession::max_to_root(double value) const {
    return api_->max_to_root(value);
}

} // namespace cbs::exp
