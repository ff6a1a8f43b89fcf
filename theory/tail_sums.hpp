// Closed-form sums of power laws over integer ranges (Hurwitz zeta by Euler-Maclaurin).
// Used for the frozen tail of the spectral quadrature and for the approximation error of a
// model that keeps only the first M coordinates.
#pragma once

#include <cstdint>

namespace cbs::theory {

/// sum_{i=n0}^{inf} i^-s for s > 1 and integer n0 >= 1 (the Hurwitz zeta function zeta(s, n0)).
/// Relative accuracy ~1e-14.
double power_tail_sum(double s, double n0);

/// sum_{i=n0}^{n1} i^-s for s > 1 and integers 1 <= n0; returns 0 when n1 < n0. n1 may be +inf.
double power_range_sum(double s, double n0, double n1);

} // namespace cbs::theory
