// Options of one language-model training run and their configuration keys. One key table, in the
// shared key registry (data/config_registry.hpp, as experiments/sim_config.hpp for the
// simulators), drives parsing, ranges and refusal messages, --help, the resolved TOML stored in
// output files and the HDF5 run attributes. Key names follow the
// simulators' where the meaning is the same (batch, lr, steps, schedule, warmup.fraction, seed).
#pragma once

#include "data/config_registry.hpp"
#include "data/study_file.hpp"
#include "gpu/model_config.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cbs::lm {

enum class LrSchedule { constant, cosine, wsd };

const char* to_string(LrSchedule s);

/// Limits validate() enforces, so that step and token counts stay far inside int64.
inline constexpr std::int64_t kMaxSteps = 1'000'000'000;              ///< steps run
inline constexpr std::int64_t kMaxBatch = 1'000'000'000;              ///< batch, in sequences
inline constexpr std::int64_t kMaxTokens = 1'000'000'000'000'000'000; ///< data.tokens, seen

struct LmOptions {
    ModelConfig model; ///< model.*: see model_config.hpp

    // data
    std::string train_path;  ///< data.train: token shard (llm.c format) to train on
    std::string val_path;    ///< data.val: token shard for the validation loss
    std::int64_t tokens = 0; ///< data.tokens: budget D in tokens, [0, 1e18]; > 0 sets steps
    /// data.budgets: token budgets one run serves (increasing, each in [1, 1e18]); the run goes
    /// to horizon * the largest; needs data.tokens = 0, schedule = constant and a warmup fixed in
    /// tokens (or none). [] = off.
    std::vector<std::int64_t> budgets;
    double horizon = 1.0;     ///< data.horizon: run horizon * budget steps, [1, 1000]
    std::int64_t steps = 100; ///< steps: when data.tokens = 0; [1, 1e9]

    // optimizer
    std::int64_t batch = 16;      ///< batch: sequences per step (global batch), [1, 1e9]
    std::int64_t micro_batch = 0; ///< micro_batch: sequences per forward/backward; 0 = batch
    double lr = 3e-3;             ///< lr: peak learning rate
    double beta1 = 0.9;           ///< adam.beta1 in [0, 1)
    double beta2 = 0.95;          ///< adam.beta2 in [0, 1)
    double eps = 1e-8;            ///< adam.eps > 0
    double weight_decay = 0.0;    ///< weight_decay: decoupled, per unit LR, >= 0
    double grad_clip = 1.0;       ///< grad_clip: global-norm clipping threshold; 0 = off
    LrSchedule schedule = LrSchedule::constant; ///< schedule: constant | cosine | wsd
    double warmup_fraction = 0.1;               ///< warmup.fraction: of the budget steps, [0, 1)
    std::int64_t warmup_tokens = 0; ///< warmup.tokens: warmup length in tokens; > 0 replaces
                                    ///< warmup.fraction; below the smallest budget
    double decay_fraction = 0.2;    ///< decay.fraction: WSD decay phase, (0, 1]
    double final_lr_fraction = 0.0; ///< decay.final_fraction: cosine/WSD end LR / peak, [0, 1]
    std::vector<double> ewa_decays{0.99, 0.999}; ///< ewa.decays: tracked EWA decays, each [0, 1)

    // evaluation and logging
    std::int64_t eval_every = 0;      ///< eval.every: also evaluate every k steps; 0 = off
    std::int64_t eval_sequences = 64; ///< eval.sequences: val sequences per evaluation; 0 = all
    double dense_fraction = 0.1;      ///< eval.dense_fraction: final part evaluated densely
    std::int64_t dense_points = 10;   ///< eval.dense_points: evaluations in that final part
    /// eval.spacing: > 0 adds evaluations at most this relative step gap apart over each budget's
    /// window [(1 - eval.dense_fraction) S_b, ceil(horizon S_b)], S_b its budget step; [0, 1]
    double eval_spacing = 0;
    std::int64_t log_every = 0;  ///< log.every: tokens/s line on stderr every k steps
    std::int64_t seed = 0;       ///< seed: init and data order
    std::string backend = "cpu"; ///< backend: cpu (fast) | reference | cuda

    std::int64_t micro_batch_size() const { return micro_batch > 0 ? micro_batch : batch; }
    /// Tokens the run's length is set by: data.tokens, else the largest of data.budgets, else 0.
    std::int64_t run_tokens() const;
    /// The budgets the run serves: data.budgets, else {data.tokens} (empty without a budget).
    std::vector<std::int64_t> served_budgets() const;
    /// Sequences in the data budget: ceil(run_tokens / context) (0 without a budget).
    std::int64_t budget_sequences() const;
    /// ceil(budget_sequences / batch) with a budget, else steps.
    std::int64_t budget_steps() const;
    /// ceil(ceil(budget_tokens / context) / batch): the step at which a budget is reached.
    std::int64_t steps_for_tokens(std::int64_t budget_tokens) const;
    /// ceil(horizon * steps_for_tokens(budget_tokens)): the last step a budget's runs may use.
    std::int64_t horizon_steps_for_tokens(std::int64_t budget_tokens) const;
    /// Warmup steps: ceil(warmup.tokens / (batch context)) if warmup.tokens > 0, else
    /// round(warmup.fraction * budget_steps()).
    std::int64_t warmup_steps() const;
    /// ceil(horizon * budget_steps) with a budget, else steps.
    std::int64_t total_steps() const;
    /// Throws cbs::UserError("`key` = value: rule") for the first violated rule.
    void validate() const;
};

using LmKeyInfo = config::KeyInfo;

/// Every key in a stable, documented order.
std::vector<LmKeyInfo> lm_keys();

/// Applies (key, value text) entries in order on top of the defaults, then validates. Accepts
/// `simulator = lm` (so sweep configs can name the kind). Throws cbs::UserError("`key` = value:
/// rule") for an unknown key, an unparsable value or a violated rule.
LmOptions resolve_lm_options(const std::vector<std::pair<std::string, std::string>>& entries);

/// The resolved options as TOML (one dotted key per line), loadable again.
std::string to_toml(const LmOptions& options);

/// Attributes of an HDF5 run: every key, plus simulator = "lm", model.size (non-embedding
/// parameters), model.parameters (all), data.samples (budget in sequences, the unit of `batch`,
/// so `cbs measure` finds the budget step as ceil(data.samples / batch)).
std::vector<std::pair<std::string, data::AttrValue>> to_attributes(const LmOptions& options);

/// "r" + 16 hex digits of FNV-1a over to_toml(options): stable run id.
std::string run_id(const LmOptions& options);

/// Help text listing every key with its default.
std::string lm_keys_help();

} // namespace cbs::lm
