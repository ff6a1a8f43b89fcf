// Learning-rate schedules: linear warmup, then constant, cosine or warmup-stable-decay (WSD).
#pragma once

#include "simulators/sim_options.hpp"

#include <cstdint>

namespace cbs::sim {

/// LR used by step t (0-based) of `total` steps, peak `lr`:
///  - warmup: W = round(warmup_fraction * total) steps, eta_t = lr * (t + 1) / W for t < W;
///  - constant: lr;
///  - cosine: from lr at t = W down to final*lr at t = total - 1 along a half cosine;
///  - wsd: lr until the last D = round(decay_fraction * total) steps, then linearly down to
///    final*lr at t = total - 1.
double learning_rate(const SimOptions& o, std::int64_t t, std::int64_t total);

/// sum_{t < total} learning_rate(o, t, total): the run's effective time (before momentum).
double effective_time(const SimOptions& o, std::int64_t total);

} // namespace cbs::sim
