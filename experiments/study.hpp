// A CBS study (`cbs run`): for each group (a data size n, a model size M, an optimizer family) and
// each batch size B, tune the hyper-parameters, find the target risk, measure the fewest steps to
// reach it, and turn steps-vs-batch into CBS estimates; then fit CBS against n and M and set the
// measured exponents beside THEORY.md's predictions.
//
// Study configuration (TOML; every key may also be given as --set key=value):
//   <simulation keys>          base values for every run (see `cbs simulate --help`)
//   study.name                 label of the study
//   study.families             list of: sgd (beta = 0, no EWA), momentum (beta tuned over
//                              study.momentum_grid, no EWA), ewa (beta = 0, tau tuned over
//                              study.ewa_grid), momentum_ewa (both tuned), uniform_average
//                              (beta = 0, average = uniform), tail_average (beta = 0,
//                              average = tail with the base's tail.fraction)
//   study.batches              batch sizes B (list of integers >= 1)
//   study.lr_grid              effective learning rates eta / (1 - beta) tried at every B
//   study.lr_refine            golden-section iterations in log lr around the best grid point
//   study.momentum_grid, study.ewa_grid
//   study.ewa_window_grid      alternative to ewa_grid: EWA windows as fractions w of the data
//                              budget in steps S = ceil(n / B), tau = 1 - 1 / max(1, w S); the
//                              averaging window then scales with the run, as the study's tuned
//                              tau did (0.9995 at small B down to 0.99 at large B)
//   study.horizon              runs may go on to horizon * n / B steps to reach the target
//   study.target               ropt (best EWA risk at n over B and hyper-parameters, per family),
//                              ropt_multiple (study.target_value * ropt), or fixed (the value)
//   study.target_value
//   study.max_steps            skip batch sizes whose data budget n / B exceeds this many steps
//                              (0 = none): tiny batches at large n cost most and sit deep in the
//                              linear regime, where the anchor needs only one of them
//   study.anchor               B_opt; 0 = the smallest batch size with a finite f(B)
//   study.bootstrap            bootstrap resamples for the CBS intervals
//   series.<name>.<key>        a series of groups: overrides of simulation keys; list values are
//                              axes (their cartesian product gives the series' groups)
//
// Simulators: recursion (exact; the target is tracked online at every step) or widenet (networks;
// phase-2 runs record 40 log-spaced steps and the target crossing is interpolated between them,
// see simulators/widenet.hpp). A series sweeping net.width at fixed n is fitted as CBS vs width
// (variable "net.width", predicted exponent 0 under μP).
//
// Resuming (`cbs run` passes a RunStore, OUT.cells.h5): each finished cell — one phase of one
// (group, family, batch size, momentum, tau) point, i.e. its tuned log learning rate, objective
// value and number of simulations — is stored as it finishes, as a run record without curves
// whose id hashes everything the cell's result depends on (phase, the group's resolved options,
// batch, momentum, tau, lr grid, refinement, horizon and, in phase 2, the target). A cell found
// in the store is taken from it instead of being simulated again. Cells are deterministic, so a
// study killed at any point and rerun ends with the same results, bit for bit, as one that was
// never interrupted; only the cells in flight are lost.
#pragma once

#include "experiments/cbs_estimators.hpp"
#include "experiments/config_source.hpp"
#include "experiments/scaling_fits.hpp"
#include "simulators/sim_options.hpp"

#include <functional>
#include <string>
#include <vector>

namespace cbs::exp {

enum class Family { sgd, momentum, ewa, momentum_ewa, uniform_average, tail_average };
const char* to_string(Family f);
/// The averaging whose iterate a family's runs report (sgd, momentum and the EWA families:
/// average = ewa; uniform_average: uniform; tail_average: tail).
sim::Average family_average(Family f);
/// Whether the bias of the family's reported iterate saturates at b = 2a + 1
/// (docs/averaging.md): the uniform average remembers the early iterates and does; the tail
/// average and EWA windows that are a fraction of the run forget them and do not (their
/// prediction is 1 - a/b). sgd and momentum keep THEORY.md's formula (shown, not tested).
bool family_saturates(Family f);

enum class TargetKind { ropt, ropt_multiple, fixed };

struct Series {
    std::string name;
    std::vector<ConfigEntries> groups; ///< one resolved entry list per group (axes expanded)
};

struct StudySpec {
    std::string name = "study";
    ConfigEntries base; ///< simulation keys shared by every run
    std::vector<Series> series;
    std::vector<Family> families;
    std::vector<std::int64_t> batches;
    std::vector<double> lr_grid; ///< effective LR eta / (1 - beta)
    int lr_refine = 6;
    std::vector<double> momentum_grid;
    std::vector<double> ewa_grid;
    std::vector<double> ewa_window_grid; ///< fractions of the budget steps (overrides ewa_grid)
    double horizon = 4.0;
    TargetKind target = TargetKind::ropt;
    double target_value = 1.0;
    double anchor = 0.0;
    int bootstrap = 400;
    std::int64_t max_steps = 0;
    std::string config_text; ///< the resolved study config, for the output file
};

/// The study `cbs run` performs without a file (the README's main job).
const char* default_study_toml();

/// Parses and validates a study from config entries (file + --set). Throws cbs::UserError naming
/// the key, value and rule on any problem; every group's options are validated up front.
StudySpec parse_study(const ConfigEntries& entries);

/// The winner at one batch size of one group.
struct BatchResult {
    std::int64_t batch = 0;
    double budget_risk = 0; ///< best EWA risk after n samples at this B (phase 1)
    double steps = 0;       ///< fewest steps to the target (interpolated; +inf if never)
    double lr = 0, momentum = 0, ewa_decay = 0; ///< hyper-parameters that won phase 2
};

struct GroupResult {
    std::string series;
    std::string label; ///< e.g. "n=1e+05 M=inf"
    Family family = Family::sgd;
    sim::SimOptions options; ///< the group's options (batch/lr/momentum/ewa of the last winner)
    double target = 0;       ///< target EWA risk used for steps-to-target
    double r_opt = 0;        ///< best EWA risk at n over everything tried
    double k_star = 0;       ///< coordinates learned at the optimum, (eta_eff * n / B_opt)^(1/a)
    std::vector<BatchResult> batches;
    CbsEstimates cbs;
    bool measurable = false; ///< false if < 2 batch sizes reached the target
    std::string note;        ///< why not measurable
    std::int64_t runs = 0;   ///< simulations done for this group
};

struct FitResult {
    std::string series;
    Family family = Family::sgd;
    std::string variable; ///< "data.samples", "model.size", "net.width", "r_opt" or "t_star"
    PowerLawFit fit;
    double predicted = 0;      ///< THEORY.md exponent (NaN if none applies)
    std::vector<double> x, y;  ///< the fitted points
    std::vector<double> local; ///< local slopes
};

struct StudyResult {
    std::vector<GroupResult> groups;
    std::vector<FitResult> fits;
    std::int64_t runs = 0;
    double seconds = 0;
};

class RunStore;

/// Runs the study (OpenMP over the cells of every group). `progress` receives lines for stderr.
/// With `cells`, finished cells are stored there (durably, as they finish) and cells already
/// stored are reused (see "Resuming" above); a failure to write the store stops the study after
/// the cells in flight and is rethrown (cbs::UserError naming the file).
StudyResult run_study(const StudySpec& spec,
                      const std::function<void(const std::string&)>& progress,
                      RunStore* cells = nullptr);

} // namespace cbs::exp
