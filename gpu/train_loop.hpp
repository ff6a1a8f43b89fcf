// One LM training run against the backend interface: AdamW with global-norm clipping, the LR
// schedule of schedules.hpp, gradient accumulation over micro-batches, EWA with several decays,
// validation at eval_steps(), checkpoints and resume. Deterministic for a seed on a given
// backend and machine; a resumed run reproduces the uninterrupted one bit for bit.
//
// This is the entry point the sweep/run machinery calls for `simulator = lm`: it returns the
// shared curve (sim::Curve) plus the LM extras, and make_lm_run_record turns it into an HDF5 run.
#pragma once

#include "data/study_file.hpp"
#include "gpu/lm_options.hpp"
#include "simulators/curve.hpp"

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace cbs::lm {

/// Run controls that do not change the result (so they are not options and not in the run id).
struct TrainControls {
    std::string checkpoint_path;       ///< where checkpoints go ("" = none)
    std::int64_t checkpoint_every = 0; ///< also checkpoint every k steps (0 = only at the end)
    bool resume = false;               ///< continue from checkpoint_path (must exist)
    std::int64_t stop_after = 0;       ///< stop after this step (0 = run to the end); testing
    bool quiet = false;                ///< no progress lines on stderr
    bool keep_final_params = false;    ///< return the final parameters (tests, oracles)
    /// Polled after every step when non-null: a non-zero value (the signal number set by a
    /// SIGINT/SIGTERM handler) stops the run after that step, with a checkpoint when
    /// checkpoint_path is set; the result then has finished = false and stopped_by = the value.
    const volatile std::sig_atomic_t* stop_flag = nullptr;
};

struct LmRunResult {
    /// step: recorded steps; samples: TOKENS seen (step * batch * context); risk: val loss of the
    /// raw weights; risk_ewa: val loss of the bias-corrected EWA weights, the best over the
    /// tracked decays at each step (the first crossing of a target by this curve is the best
    /// steps-to-target over the decays); diverged / diverged_step as for the simulators.
    sim::Curve curve;
    std::vector<double> train_loss; ///< mean train loss over the steps since the previous record
    std::vector<std::vector<double>> risk_ewa_by_decay; ///< [decay][record]
    double tokens_per_second = 0; ///< training throughput of this process (evaluation excluded)
    double train_seconds = 0;
    double eval_seconds = 0;
    std::int64_t steps_done = 0;     ///< optimizer updates done when the run returned
    bool finished = false;           ///< ran to total_steps() (or diverged)
    int stopped_by = 0;              ///< the stop_flag value that stopped the run, 0 if none
    std::vector<float> final_params; ///< with TrainControls::keep_final_params
};

/// Trains one model. Throws cbs::UserError for bad data (missing/corrupt shards, tokens outside
/// the vocabulary), an unusable checkpoint, or a backend this build lacks — before training.
LmRunResult train_lm(const LmOptions& options, const TrainControls& controls = {});

/// The HDF5 run: attributes of to_attributes(options) plus diverged, diverged_step,
/// tokens_per_second; curves step, samples, risk, risk_ewa, and extras train_loss and
/// risk_ewa_<k> (k indexes ewa.decays).
data::RunRecord make_lm_run_record(const LmOptions& options, const LmRunResult& result);

} // namespace cbs::lm
