// Closed-form rates of THEORY.md section 3 (exponents only; constants are not predicted).
#pragma once

namespace cbs::theory {

/// min(b, 2a + 1): the effective source exponent (capacity-saturation of SGD). `saturates` =
/// false gives b: the bias of averages that forget the early iterates (tail averages, EWA
/// windows that are a fixed fraction of the run) decays as T^-(b-1)/a for every b
/// (docs/averaging.md), so nothing caps it.
double effective_source(double a, double b, bool saturates = true);
/// Exponent of the optimal effective time T*(n) ~ n^(a / s), s = effective_source(a, b, ...).
double optimal_time_exponent(double a, double b, bool saturates = true);
/// Exponent of the optimal risk R_opt(n) ~ n^-((s - 1) / s); returned positive.
double optimal_risk_exponent(double a, double b, bool saturates = true);
/// Predicted CBS exponent in data size: 1 - a / s when b > a, else 0 (CBS = O(1)).
double cbs_data_exponent(double a, double b, bool saturates = true);

} // namespace cbs::theory
