// When things happen in an LM run: the learning rate of each step and the steps evaluated.
#pragma once

#include "gpu/lm_options.hpp"

#include <cstdint>
#include <vector>

namespace cbs::lm {

/// LR of step t (0-based). S = o.budget_steps() is the schedule length, W = o.warmup_steps()
/// (warmup.tokens / (batch context) rounded up, else round(warmup.fraction * S)) warmup steps:
///  - warmup (t < W): linear from 0.1 lr at t = 0 towards lr, lr (0.1 + 0.9 t / W) (the study's
///    "linear warmup from 10% of the peak");
///  - constant: lr;  cosine: half cosine from lr at t = W to final*lr at t = S - 1;
///  - wsd: lr until the last round(decay.fraction * S) steps, then linear to final*lr at S - 1.
/// Past S (data.horizon > 1) cosine and wsd stay at their value at S - 1; constant stays lr.
double learning_rate(const LmOptions& o, std::int64_t t);

/// Steps (in [1, total], increasing) after which the val loss is evaluated: powers of two,
/// multiples of eval.every, the budget step and the last step, and eval.dense_points evenly
/// spaced steps in the final eval.dense_fraction before each of those two (the study's "dense
/// near the end"); for every served budget (data.budgets, or data.tokens) its step S_b and its
/// horizon step, and with eval.spacing > 0 steps at most that relative gap apart over
/// [(1 - eval.dense_fraction) S_b, ceil(horizon S_b)].
std::vector<std::int64_t> eval_steps(const LmOptions& o);

} // namespace cbs::lm
