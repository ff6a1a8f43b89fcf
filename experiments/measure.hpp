// `cbs measure` on stored curves: group the runs of a study file (a `cbs sweep` output) by their
// problem (everything but batch size and tuned hyper-parameters), take the study's target
// R_opt(n) per group (best EWA risk at the data budget), the fewest steps to it per batch size
// (best over the hyper-parameters at that B, interpolated between recorded steps), and the CBS
// estimators of cbs_estimators.hpp.
#pragma once

#include "data/study_file.hpp"
#include "experiments/cbs_estimators.hpp"

#include <map>
#include <string>
#include <vector>

namespace cbs::exp {

/// Run attributes that define a group (runs that differ only in others are tuned over).
const std::vector<std::string>& group_keys();

struct MeasuredGroup {
    std::string label; ///< "key=value ..." of group_keys() that vary in the file
    std::map<std::string, std::string> keys; ///< every group_keys() value ("" if absent)
    double target = 0;                       ///< R_opt: best EWA risk at the budget step
    std::vector<BatchPoint> points;          ///< (B, fewest interpolated steps to target)
    bool measurable = false;
    std::string note;
    CbsEstimates cbs;
};

/// Groups and measures. Runs need integer attribute `batch` and `data.samples` > 0 (else
/// cbs::UserError naming the run); diverged runs count as never reaching the target.
/// `target_multiple` scales the target (1 = the study's R_opt). `target_by_budget`: the target
/// is the best EWA risk reached at any recorded step up to the budget step (the LM study's
/// "best loss reached by D tokens"), instead of the value at the budget step.
std::vector<MeasuredGroup> measure_study(const data::Study& study, double anchor, int bootstrap,
                                         double target_multiple = 1.0,
                                         bool target_by_budget = false);

} // namespace cbs::exp
