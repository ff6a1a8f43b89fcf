#include "theory/rates.hpp"

#include <algorithm>

namespace cbs::theory {

double effective_source(double a, double b) {
    return std::min(b, 2.0 * a + 1.0);
}

double optimal_time_exponent(double a, double b) {
    return a / effective_source(a, b);
}

double optimal_risk_exponent(double a, double b) {
    const double s = effective_source(a, b);
    return (s - 1.0) / s;
}

double cbs_data_exponent(double a, double b) {
    return b > a ? 1.0 - a / effective_source(a, b) : 0.0;
}

} // namespace cbs::theory
