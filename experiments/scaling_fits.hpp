// Power-law fits of measured quantities (CBS, optimal risk, ...) against data size and model size.
// All fits are ordinary least squares on logarithms; intervals use Student's t with the residual
// degrees of freedom (Boost.Math), 95% two-sided.
#pragma once

#include <string>
#include <vector>

namespace cbs::exp {

/// y = c * x^alpha.
struct PowerLawFit {
    double c = 0;
    double alpha = 0;
    double alpha_se = 0;  ///< standard error of alpha (0 if only 2 points)
    double alpha_low = 0; ///< 95% interval of alpha (equal to alpha if only 2 points)
    double alpha_high = 0;
    double r2 = 0; ///< coefficient of determination in log space
    int points = 0;
};

/// Fits y = c x^alpha; needs >= 2 points with distinct x, all x, y > 0 and finite (throws
/// cbs::UserError naming the offending value otherwise).
PowerLawFit fit_power_law(const std::vector<double>& x, const std::vector<double>& y);

/// Forecast of a power-law fit at x, with a 95% prediction interval in log space.
struct Forecast {
    double value = 0;
    double low = 0;
    double high = 0;
};
Forecast forecast(const PowerLawFit& fit, const std::vector<double>& x_fitted, double x);

/// y = c * n^alpha * m^gamma.
struct JointPowerLawFit {
    double c = 0;
    double alpha = 0, alpha_low = 0, alpha_high = 0;
    double gamma = 0, gamma_low = 0, gamma_high = 0;
    double r2 = 0;
    int points = 0;
    /// What a prediction interval needs (forecast() below): the means of log n and log m over the
    /// fitted points, the residual variance s^2 in log y (0 if points == 3: no residual degrees of
    /// freedom), and the covariance s^2 (X^T X)^-1 of (alpha, gamma) on centred logs. The
    /// intercept at the centre, mean log y, is uncorrelated with the slopes and has variance
    /// s^2 / points.
    double mean_log_n = 0, mean_log_m = 0;
    double residual_variance = 0;
    double cov_alpha_alpha = 0, cov_alpha_gamma = 0, cov_gamma_gamma = 0;
};

/// Needs >= 3 points whose (log n, log m) are not collinear; throws cbs::UserError otherwise.
JointPowerLawFit fit_joint_power_law(const std::vector<double>& n, const std::vector<double>& m,
                                     const std::vector<double>& y);

/// Forecast of a joint fit at (n, m) with a 95% prediction interval for a new observation in log
/// space: log y_hat +- t(0.975, points - 3) s sqrt(1 + 1/points + d^T (X^T X)^-1 d), d = (log n,
/// log m) minus their means. With 3 points (no residual scale) low = high = value. Throws
/// cbs::UserError unless n, m are finite and > 0.
Forecast forecast(const JointPowerLawFit& fit, double n, double m);

/// Local slopes d log y / d log x between consecutive points (sorted by x): shows whether a
/// measured exponent approaches its asymptote. Returns size() - 1 values.
std::vector<double> local_slopes(const std::vector<double>& x, const std::vector<double>& y);

} // namespace cbs::exp
