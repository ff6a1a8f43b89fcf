// Other trainers' curves (data/curve_logs.hpp, data/tensorboard.hpp) -> steps-to-target -> CBS,
// with the same estimators as our own study files (cbs_estimators.hpp, measure.hpp).
//
// Per group:
//   target   --target LOSS (fixed), or R_opt at a token budget D (--budget, else the group's
//            `budget` column): the best loss logged at tokens <= D over the group's runs that did
//            not diverge, times target_multiple.
//   steps    per run: the first logged step whose loss is <= the target, interpolated in
//            (log step, log loss) between it and the logged point before it
//            (steps_to_target.hpp); step-0 points take no part (log 0). Diverged runs and runs
//            that never reach the target count as never (+inf).
//   f(B)     per batch size: the fewest steps over that batch size's runs (its hyper-parameter
//            runs); the run that achieved it is the winner, shown with its hyper-parameters.
//   CBS      estimate_cbs on the points f(B), bootstrap seeds 1, 2, ... in group order.
#pragma once

#include "data/curve_logs.hpp"
#include "data/json_writer.hpp"
#include "data/study_file.hpp"
#include "data/tensorboard.hpp"
#include "experiments/cbs_estimators.hpp"

#include <map>
#include <string>
#include <vector>

namespace cbs::exp {

/// Where curves come from and how they are read (the curve options of `cbs measure` and
/// `cbs report`).
struct CurveInputOptions {
    std::string tag;           ///< TensorBoard: the scalar's tag
    std::string runs_csv;      ///< TensorBoard: runs table
    bool skip_invalid = false; ///< TensorBoard: skip corrupt event files (counted)
};

struct CurveMeasureOptions {
    double target = 0;            ///< > 0: fixed target loss; 0 = R_opt at the budget
    double budget = 0;            ///< > 0: token budget for every group (overrides a column)
    double target_multiple = 1.0; ///< R_opt targets only
    double anchor = 0;            ///< B_opt (0 = smallest batch size reaching the target)
    int bootstrap = 1000;
};

struct CurveWinner {
    double batch = 0;
    double steps = 0; ///< +inf if no run of this batch size reached the target
    std::string run;  ///< "" if none reached it
    std::map<std::string, std::string> hparams;
    int runs = 0;     ///< runs at this batch size
    int diverged = 0; ///< of which diverged
};

struct CurveGroup {
    std::string group;
    double budget = 0; ///< tokens (NaN without a budget)
    double target = 0; ///< NaN if none could be set (see note)
    double r_opt = 0;  ///< best loss by the budget (NaN with a fixed target)
    std::vector<BatchPoint> points;
    std::vector<CurveWinner> winners; ///< one per batch size, ascending
    bool measurable = false;
    std::string note;
    CbsEstimates cbs;
};

/// True if `path` is curves rather than a study file or a steps CSV: a directory holding
/// TensorBoard event files, a .jsonl/.ndjson/.json file, or a CSV whose header has run and loss.
bool is_curve_input(const std::string& path);

/// Reads curves (format by what the path is). Throws cbs::UserError for malformed input and for
/// TensorBoard options given with another format.
data::CurveLog read_curve_input(const std::string& path, const CurveInputOptions& options);

/// Measures every group (sorted by name). Throws cbs::UserError when no target can be set: no
/// --target, no --budget and no budget column; or a budget without a tokens field.
std::vector<CurveGroup> measure_curves(const data::CurveLog& log,
                                       const CurveMeasureOptions& options);

/// What `cbs measure` prints after the CBS table: the input (runs, diverged, skipped files),
/// targets, and the winning run of each batch size with its hyper-parameters.
std::string curves_summary_text(const data::CurveLog& log, const std::vector<CurveGroup>& groups);
/// The same as one JSON object: {"format", "source", "runs", "diverged", "skipped_files",
/// "skipped", "ignored_run_dirs", "varying_fields", "groups": [{"group", "budget", "r_opt",
/// "target", "winners": [{"batch", "steps", "run", "hparams", "runs", "diverged"}]}]}.
data::Json curves_summary_json(const data::CurveLog& log, const std::vector<CurveGroup>& groups);

/// The curves and their measurement as a study file (docs/logs.md): one run per curve (loss as
/// risk and risk_ewa, tokens as samples when logged), /cbs/estimates and /cbs/steps as our own
/// studies write them (series "curves"), and /cbs/winners (group, batch, steps, run, hparams).
data::Study curves_study(const data::CurveLog& log, const std::vector<CurveGroup>& groups,
                         const std::string& config_text);

} // namespace cbs::exp
