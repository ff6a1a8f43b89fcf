#include "theory/quadrature.hpp"

#include "theory/check.hpp"
#include "theory/tail_sums.hpp"

#include <algorithm>
#include <boost/math/special_functions/legendre.hpp>
#include <cmath>
#include <limits>

namespace cbs::theory {

int auto_head(double a, double tolerance) {
    // Midpoint (sum -> integral) error beyond K is ~ (a/K)^2 / 24 of the tail's contribution.
    const double k = a / std::sqrt(24.0 * tolerance);
    return static_cast<int>(std::clamp(std::ceil(k), 32.0, 65536.0));
}

int auto_nodes_per_decade(double tolerance) {
    // Gauss-Legendre converges geometrically for the smooth (in log i) integrands of the
    // recursion; the convergence test in tests/theory checks this rule at 1e-6 and 1e-9.
    return static_cast<int>(std::ceil(4.0 + 1.5 * std::log10(1.0 / tolerance)));
}

void gauss_legendre(int n, std::vector<double>& nodes, std::vector<double>& weights) {
    CBS_CHECK(n >= 1, "n = ", n);
    const std::vector<double> zeros = boost::math::legendre_p_zeros<double>(n); // non-negative
    nodes.clear();
    weights.clear();
    for (double x : zeros) {
        const double dp = boost::math::legendre_p_prime<double>(n, x);
        const double w = 2.0 / ((1.0 - x * x) * dp * dp);
        nodes.push_back(x);
        weights.push_back(w);
        if (x != 0.0) {
            nodes.push_back(-x);
            weights.push_back(w);
        }
    }
}

SpectralGrid build_spectral_grid(const PowerLawSpectrum& spectrum, double model_size, double drive,
                                 double precond_power, const QuadratureOptions& options) {
    CBS_CHECK(spectrum.a > 1.0 && spectrum.b > 1.0, "a = ", spectrum.a, ", b = ", spectrum.b);
    CBS_CHECK(model_size >= 1.0, "model_size = ", model_size);
    CBS_CHECK(std::isinf(model_size) || model_size == std::floor(model_size));
    CBS_CHECK(drive > 0.0 && std::isfinite(drive), "drive = ", drive);
    CBS_CHECK(precond_power >= 0.0 && precond_power < 1.0, "p = ", precond_power);
    CBS_CHECK(options.tolerance > 0.0 && options.tolerance < 1.0);

    SpectralGrid grid;
    const double a = spectrum.a;
    const double M = model_size;
    grid.approximation_signal = std::isinf(M) ? 0.0 : power_tail_sum(spectrum.b, M + 1.0);

    // Frozen cut-off: drive * lambda(x)^(1-p) = tol  =>  x = (drive / tol)^(1 / (a (1-p))).
    const double x_freeze = options.cutoff_scale *
                            std::pow(drive / options.tolerance, 1.0 / (a * (1.0 - precond_power)));
    const int requested_head = options.head > 0 ? options.head : auto_head(a, options.tolerance);
    // Never put quadrature points below the head or exact coordinates past the freeze point
    // unnecessarily; a small model is represented exactly.
    const double head_limit = std::min<double>(requested_head, M);
    grid.head = static_cast<int>(head_limit);
    for (int i = 1; i <= grid.head; ++i) {
        const double x = i;
        grid.index.push_back(x);
        grid.count.push_back(1.0);
        grid.lambda.push_back(spectrum.eigenvalue(x));
        grid.initial_error2.push_back(spectrum.initial_error2(x));
    }

    grid.nodes_per_decade = options.nodes_per_decade > 0 ? options.nodes_per_decade
                                                         : auto_nodes_per_decade(options.tolerance);
    // First frozen index: an integer at or beyond the freeze point, past the head, at most M + 1.
    double first_frozen = std::max(std::ceil(x_freeze), grid.head + 1.0);
    if (!std::isinf(M)) first_frozen = std::min(first_frozen, M + 1.0);
    grid.first_frozen = first_frozen;

    // Middle: coordinates head+1 .. first_frozen-1 as the integral over (head + 1/2, first_frozen
    // - 1/2) in log i, one Gauss-Legendre panel per decade (the last one shorter).
    const double lo = grid.head + 0.5;
    const double hi = first_frozen - 0.5;
    if (hi > lo) {
        std::vector<double> xi, wi;
        gauss_legendre(grid.nodes_per_decade, xi, wi);
        const double ln10 = std::log(10.0);
        const double s_lo = std::log(lo), s_hi = std::log(hi);
        const int panels = std::max(1, static_cast<int>(std::ceil((s_hi - s_lo) / ln10 - 1e-12)));
        const double width = (s_hi - s_lo) / panels;
        for (int k = 0; k < panels; ++k) {
            const double mid = s_lo + (k + 0.5) * width;
            for (std::size_t j = 0; j < xi.size(); ++j) {
                const double x = std::exp(mid + 0.5 * width * xi[j]);
                grid.index.push_back(x);
                grid.count.push_back(x * 0.5 * width * wi[j]);
                grid.lambda.push_back(spectrum.eigenvalue(x));
                grid.initial_error2.push_back(spectrum.initial_error2(x));
            }
        }
    }

    // Frozen: integer i in [first_frozen, M].
    grid.frozen_signal = power_range_sum(spectrum.b, first_frozen, M);
    return grid;
}

} // namespace cbs::theory
