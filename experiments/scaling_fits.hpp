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
};

/// Needs >= 3 points whose (log n, log m) are not collinear; throws cbs::UserError otherwise.
JointPowerLawFit fit_joint_power_law(const std::vector<double>& n, const std::vector<double>& m,
                                     const std::vector<double>& y);

/// Local slopes d log y / d log x between consecutive points (sorted by x): shows whether a
/// measured exponent approaches its asymptote. Returns size() - 1 values.
std::vector<double> local_slopes(const std::vector<double>& x, const std::vector<double>& y);

} // namespace cbs::exp
