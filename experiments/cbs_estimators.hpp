// Critical-batch-size estimators on a measured steps-vs-batch curve f(B) (PAPER.md, "Definition
// 1").
//
// Input: points (B_k, f(B_k)) for one group (same data size, model size, optimizer family), f the
// fewest steps to reach the target at batch B (best over hyper-parameters); f = +inf means the
// target was never reached. Linear scaling anchored at B_opt: f_lin(B) = f(B_opt) * B_opt / B.
// With overhead threshold theta (0.2 in the study), the CBS is the largest B > B_opt with
// f(B) <= (1 + theta) f_lin(B). Under the fit f(B) = a + b/B this has the closed form
//     B*_theta = theta * b / a + (1 + theta) * B_opt       (theta = 0.2: b/(5a) + 1.2 B_opt).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cbs::exp {

struct BatchPoint {
    double batch; ///< B > 0
    double steps; ///< f(B) > 0, or +inf if the target was never reached
};

/// f(B) = a + b / B fitted by least squares on log f over the finite points.
struct StepsFit {
    double a = 0; ///< asymptotic steps (S_min), >= 0
    double b = 0; ///< steps * batch in the linear regime (S_min * B_noise), >= 0
    double rms_log_residual = 0;
    int points_used = 0;
};

/// Fits f(B) = a + b/B minimising sum_k (log f_k - log(a + b/B_k))^2 over finite points, with
/// a, b >= 0. Needs >= 2 finite points with distinct B; throws cbs::UserError otherwise.
/// Exact data (f = a + b/B) must be recovered to 1e-9 relative.
StepsFit fit_steps_vs_batch(const std::vector<BatchPoint>& points);

/// Closed-form CBS of a fit at threshold theta with anchor b_opt: theta*b/a + (1+theta)*b_opt
/// (+inf if a == 0).
double fitted_cbs(const StepsFit& fit, double theta, double b_opt);

/// The direct rule on measured points: the largest B > b_opt with f(B) <= (1+theta) f_lin(B),
/// refined by linear interpolation in log B of the overhead ratio f(B) B / (f(b_opt) b_opt)
/// between that point and the next larger one (if the next one exceeds the threshold).
/// Returns b_opt if no larger point qualifies, NaN if f(b_opt) is not finite.
/// Precondition: b_opt is one of the points' batch sizes.
double direct_cbs(const std::vector<BatchPoint>& points, double theta, double b_opt);

struct Interval {
    double low = 0;
    double high = 0;
};

/// All estimators of one group, side by side.
struct CbsEstimates {
    double b_opt = 0;       ///< anchor batch size
    StepsFit fit;           ///< f(B) = a + b/B
    double study = 0;       ///< fitted_cbs(fit, 0.2, b_opt): the study's estimator
    double direct = 0;      ///< direct_cbs(points, 0.2, b_opt)
    double anchor_zero = 0; ///< b / (5a): the 20% rule anchored at B -> 0
    double b_noise = 0;     ///< b / a (McCandlish et al.'s B_noise)
    std::map<double, double> study_by_threshold;  ///< theta in {0.1, 0.2, 0.5} -> fitted CBS
    std::map<double, double> direct_by_threshold; ///< theta in {0.1, 0.2, 0.5} -> direct CBS
    Interval study_ci;                            ///< 95% percentile bootstrap interval of `study`
    Interval direct_ci;                           ///< same for `direct`
    int bootstrap_samples = 0;
};

/// Anchor choice: b_opt_override > 0 uses that batch size (must be one of the points); otherwise
/// the smallest batch size with a finite f. Bootstrap: `bootstrap_samples` resamples of the
/// points with replacement (the anchor point always kept), deterministic for `seed`; resamples
/// with < 2 distinct finite points are skipped.
CbsEstimates estimate_cbs(const std::vector<BatchPoint>& points, double b_opt_override = 0,
                          int bootstrap_samples = 1000, std::uint64_t seed = 1);

/// Reads a CSV of steps-to-target: header `group,batch,steps` (or `batch,steps`, one group
/// named "all"); `inf` allowed for steps. Returns group -> points in file order.
/// Throws cbs::UserError("<path>:<line>: ...") on any malformed line, a missing header or file.
std::map<std::string, std::vector<BatchPoint>> read_steps_csv(const std::string& path);

} // namespace cbs::exp
