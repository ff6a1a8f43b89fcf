#include "theory/rates.hpp"

#include <algorithm>

namespace cbs::theory {

double effective_source(double a, double b, bool saturates) {
    return saturates ? std::min(b, 2.0 * a + 1.0) : b;
}

double optimal_time_exponent(double a, double b, bool saturates) {
    return a / effective_source(a, b, saturates);
}

double optimal_risk_exponent(double a, double b, bool saturates) {
    const double s = effective_source(a, b, saturates);
    return (s - 1.0) / s;
}

double cbs_data_exponent(double a, double b, bool saturates) {
    return b > a ? 1.0 - a / effective_source(a, b, saturates) : 0.0;
}

} // namespace cbs::theory
