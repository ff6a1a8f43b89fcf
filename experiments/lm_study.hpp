// `cbs run` for language models: a study config whose base says simulator = "lm". Its list
// values are sweep axes (batch, lr, data.tokens, model.d_model, ...), as in `cbs sweep`: the
// trainings go into the study file through the resumable run store, then the runs are measured
// per problem (model size, data budget, context) with the same code as `cbs measure` — target
// R_opt = best EWA val loss at the budget, fewest steps per batch size over the tuned
// hyper-parameters, the CBS estimators — and the CBS is fitted against data (tokens) at each
// model size and against model size (non-embedding parameters) at each data budget.
//
// Output tables (docs/hdf5-schema.md): /cbs/steps, /cbs/estimates (series "lm", family "lm";
// n = tokens, M = non-embedding parameters, CBS in sequences) and /fits/cbs (variable
// data.samples = CBS vs tokens, model.size = CBS vs parameters).
#pragma once

#include "experiments/config_source.hpp"
#include "experiments/measure.hpp"
#include "experiments/scaling_fits.hpp"

#include <functional>
#include <string>
#include <vector>

namespace cbs::exp {

/// True if the entries' `simulator` (last one wins) is "lm".
bool is_lm_study(const ConfigEntries& entries);

struct LmStudyGroup {
    MeasuredGroup measured;
    double tokens = 0;     ///< data budget in tokens (data.samples sequences x context)
    double parameters = 0; ///< non-embedding parameters (model.size)
};

struct LmStudyFit {
    std::string variable; ///< "data.samples" (x = tokens) or "model.size" (x = parameters)
    std::string fixed;    ///< what was held fixed, e.g. "M=12345"
    PowerLawFit fit;
    std::vector<double> x, y;
};

struct LmStudyResult {
    std::vector<LmStudyGroup> groups;
    std::vector<LmStudyFit> fits;
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
