// OpenMP threads that wait passively, so that cbs stays fast on a machine it shares.
//
// GNU OpenMP's default lets a thread that waits at a barrier (or for the next parallel region)
// spin for a while before it sleeps. On an idle machine that saves a wake-up; on a busy one a
// spinning thread burns the time slice its partner needs, and every one of the hundreds of
// parallel regions of an LM training step then waits for a descheduled thread. Measured on this
// project's 2-core machine with other jobs running (bench_lm, the 1m shape, 2 threads): 2,736 ms
// per step spinning, 133 ms passive. libgomp reads OMP_WAIT_POLICY once, when it is loaded, so
// the only way to change it from inside is to run the program again with it set.
#pragma once

namespace cbs::exp {

/// When OMP_WAIT_POLICY is unset: sets it to PASSIVE and re-executes this program with the same
/// arguments (same process id). Returns only when it did not (the variable was set by the user,
/// or the exec failed, which is harmless). Call before any thread or file is created.
void reexec_with_passive_omp_wait(char** argv);

} // namespace cbs::exp
