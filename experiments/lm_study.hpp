// `cbs run` for language models: a study config whose base says simulator = "lm". Its list
// values are sweep axes (batch, lr, data.tokens, model.d_model, ...), as in `cbs sweep`: the
// trainings go into the study file through the resumable run store, then the runs are measured
// per problem (model size, data budget, context) with the same code as `cbs measure` — target
// R_opt = best EWA val loss at the budget, fewest steps per batch size over the tuned
// hyper-parameters, the CBS estimators — and the CBS is fitted against data (tokens) at each
// model size and against model size (non-embedding parameters) at each data budget.
//
// Budgets share runs: a run with data.budgets = [D1, ..., Dk] (constant LR after a warmup fixed in
// tokens, so its first steps do not depend on the budget) trains once to horizon * Dk and serves
// every Di: expand_budgets() turns it into one record per budget (data.samples = Di / context,
// curve cut at ceil(horizon * S_i), S_i = Di's step), which is exactly the record a separate run
// with data.tokens = Di would have written at the shared evaluation steps. R_opt(Di) is the best
// EWA val loss reached by step S_i (over batch sizes, learning rates and the tracked decays).
// A sweep over data.tokens as an axis still works: such runs serve their one budget.
//
// Output tables (docs/hdf5-schema.md): /cbs/steps, /cbs/estimates (series "lm", family "lm";
// n = tokens, M = non-embedding parameters, CBS in sequences) and /fits/cbs (variable
// data.samples = CBS vs tokens, model.size = CBS vs parameters), and /fits/lm: the same fits with
// the value held fixed (columns fixed = "M" or "D", fixed_value), plus the joint fit
// CBS = c D^alpha N^gamma (variable "joint": exponent = alpha, gamma in gamma/gamma_low/high).
#pragma once

#include "experiments/config_source.hpp"
#include "experiments/measure.hpp"
#include "experiments/scaling_fits.hpp"

#include <functional>
#include <string>
#include <vector>

namespace cbs::exp {

/// One record per served budget for runs with a non-empty `data.budgets` attribute (ids
/// "<id>@<tokens>", attributes data.tokens / data.samples set to that budget, curves cut after the
/// budget's horizon step); other runs are copied unchanged. Throws cbs::UserError naming the run
/// for an unreadable budgets list.
std::vector<data::RunRecord> expand_budgets(const std::vector<data::RunRecord>& runs);

/// True if the entries' `simulator` (last one wins) is "lm".
bool is_lm_study(const ConfigEntries& entries);

struct LmStudyGroup {
    MeasuredGroup measured;
    double tokens = 0;     ///< data budget in tokens (data.samples sequences x context)
    double parameters = 0; ///< non-embedding parameters (model.size)
};

struct LmStudyFit {
    std::string variable;   ///< "data.samples" (x = tokens) or "model.size" (x = parameters)
    std::string fixed;      ///< what was held fixed, e.g. "M=12345"
    double fixed_value = 0; ///< that value (parameters or tokens)
    PowerLawFit fit;
    std::vector<double> x, y;
};

struct LmStudyResult {
    std::vector<LmStudyGroup> groups;
    std::vector<LmStudyFit> fits;
    bool has_joint = false; ///< joint fit CBS = c D^alpha N^gamma over every measured group
    JointPowerLawFit joint;
    std::size_t runs = 0, ran = 0;
    double seconds = 0;
};

/// Runs (or resumes) the sweep into `out_path`, measures, fits, and stores the tables there.
/// `config_text` is recorded in the file. Throws cbs::UserError on bad keys (before any training)
/// or an unusable output path.
LmStudyResult run_lm_study(const ConfigEntries& entries, const std::string& config_text,
                           const std::string& out_path, int bootstrap, bool quiet);

/// The printed summary: CBS per group and the fits.
std::string lm_study_summary(const LmStudyResult& result);

} // namespace cbs::exp
