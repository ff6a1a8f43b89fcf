// SIGINT/SIGTERM as a request to stop cleanly: while a StopSignals object lives, the two signals
// only set a flag that long-running loops poll (the sweep runner between runs, the LM trainer
// between steps); the previous handlers come back on destruction. Used by run_sweep and
// `cbs train-lm`; two StopSignals must not be alive at once (one flag per process).
#pragma once

#include <csignal>

namespace cbs::exp {

class StopSignals {
public:
    StopSignals();  ///< clears the flag and installs the handlers
    ~StopSignals(); ///< restores the previous handlers
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    /// The signal received since construction (SIGINT or SIGTERM), 0 if none.
    static int received();
    /// The flag itself, for code below experiments/ that must not depend on this class.
    static const volatile std::sig_atomic_t* flag();
    /// "SIGINT" / "SIGTERM" / "a signal".
    static const char* name(int signal);

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
    bool installed_int_ = false;
    bool installed_term_ = false;
};

} // namespace cbs::exp
