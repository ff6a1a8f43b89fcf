// OpenMP threads that spin only briefly before they sleep, so that cbs stays fast on a machine it
// shares and loses nothing on an idle one.
//
// GNU OpenMP lets a thread that waits at a barrier (or for the next parallel region) spin up to
// 300,000 iterations before it sleeps. On an idle machine that saves a wake-up; on a busy one a
// spinning thread burns the time slice its partner needs, and each of the hundreds of parallel
// regions of an LM training step then waits for a descheduled thread. Measured on this project's
// 2-core machine (bench_lm, the 1m shape, 2 threads; 2026-12-03), ms per step:
//
//   GOMP_SPINCOUNT        300,000 (default)   100,000   30,000   10,000   1,000   0 (passive)
//   idle machine                 47.3            50.4      45.7     46.9     53.6      69.2
//   other jobs running         2,143              -       335.8    183.8      -       97.3
//
// 10,000 keeps the idle speed and is 12x faster than the default under load (passive is 2x
// faster still under load, but 1.5x slower when idle). libgomp reads these variables once, when
// it is loaded, so the only way to set them from inside is to run the program again.
#pragma once

namespace cbs::exp {

/// When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set: sets GOMP_SPINCOUNT=10000 and
/// re-executes this program with the same arguments (same process id). Returns only when it did
/// not (the user chose a policy, or the exec failed, which is harmless). Call before any thread
/// or file is created.
void reexec_with_short_omp_spin(char** argv);

} // namespace cbs::exp
