// Closed-form rates of THEORY.md section 3 (exponents only; constants are not predicted).
#pragma once

namespace cbs::theory {

/// min(b, 2a + 1): the effective source exponent (capacity-saturation of SGD).
double effective_source(double a, double b);
/// Exponent of the optimal effective time T*(n) ~ n^(a / min(b, 2a+1)).
double optimal_time_exponent(double a, double b);
/// Exponent of the optimal risk R_opt(n) ~ n^-((min(b,2a+1) - 1) / min(b,2a+1)); returned positive.
double optimal_risk_exponent(double a, double b);
/// Predicted CBS exponent in data size: 1 - a / min(b, 2a+1) when b > a, else 0 (CBS = O(1)).
double cbs_data_exponent(double a, double b);

} // namespace cbs::theory
