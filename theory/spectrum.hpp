// The power-law least-squares problem of THEORY.md section 1: covariance eigenvalues
// lambda_i = i^-a and source condition lambda_i (w*_i)^2 = i^-b, for coordinates i = 1, 2, ...
// The index i is a double so that quadrature nodes (fractional "coordinates") use the same
// formulas.
#pragma once

#include <cmath>

namespace cbs::theory {

struct PowerLawSpectrum {
    double a = 2.0; ///< spectrum exponent, a > 1
    double b = 3.0; ///< source exponent, b > 1

    /// lambda_i = i^-a.
    double eigenvalue(double i) const { return std::pow(i, -a); }
    /// (w*_i)^2 = i^(a-b): the initial squared error of coordinate i when training starts at w = 0.
    double initial_error2(double i) const { return std::pow(i, a - b); }
    /// lambda_i (w*_i)^2 = i^-b: coordinate i's share of twice the initial excess risk.
    double signal(double i) const { return std::pow(i, -b); }
};

} // namespace cbs::theory
