// The spectral quadrature of THEORY.md section 2 ("infinite dimension without truncation error").
//
// The risk recursion treats every coordinate independently given the scalar S_t, and the
// per-coordinate map depends on i only through lambda_i. A sum over i = 1..M (M may be infinite)
// of any smooth per-coordinate quantity is therefore replaced by a weighted sum over grid points:
//   1. head:   i = 1..K exactly, one point per coordinate (count 1);
//   2. middle: (K + 1/2, x_c) by Gauss-Legendre in log i, n points per decade; a point at x with
//              log-weight w stands for x*w coordinates (midpoint rule for sum -> integral, whose
//              error is O((a/K)^2/24) relative, hence K from the tolerance);
//   3. frozen: integer i in [I_c, M] with eta_max-driven movement drive*lambda_i^(1-p) <= tol:
//   these
//              coordinates keep their initial error; their signal is summed in closed form.
// Coordinates beyond a finite M are not learned: their signal sum is the approximation error,
// which the simulators treat as extra label noise (THEORY.md section 1).
#pragma once

#include "theory/spectrum.hpp"

#include <vector>

namespace cbs::theory {

struct QuadratureOptions {
    double tolerance = 1e-6;  ///< requested relative accuracy of risk curves
    int head = 0;             ///< exact coordinates 1..head; 0 = chosen from the tolerance
    int nodes_per_decade = 0; ///< Gauss-Legendre points per decade of i; 0 = from the tolerance
    double cutoff_scale = 1;  ///< multiplies the automatic frozen cut-off index (tests raise it)
};

/// Grid points standing for coordinates 1..M. Arrays have one entry per point.
struct SpectralGrid {
    std::vector<double> index;          ///< position i (integer in the head)
    std::vector<double> count;          ///< number of coordinates the point stands for
    std::vector<double> lambda;         ///< eigenvalue lambda(i) = i^-a
    std::vector<double> initial_error2; ///< E[e_i^2] at w = 0, = i^(a-b), per coordinate
    double frozen_signal = 0;           ///< sum over frozen coordinates of lambda_i (w*_i)^2
    double approximation_signal = 0;    ///< sum over i > M of lambda_i (w*_i)^2 (0 if M = inf)
    int head = 0;                       ///< number of exact coordinates used
    int nodes_per_decade = 0;           ///< Gauss-Legendre points per decade used
    double first_frozen = 0;            ///< first frozen index I_c (M + 1 if none is frozen)

    std::size_t size() const { return lambda.size(); }
};

/// Automatic choices from the tolerance (exposed for tests and --help).
int auto_head(double a, double tolerance);
int auto_nodes_per_decade(double tolerance);

/// Builds the grid for a model of size `model_size` (integer >= 1, or +inf).
/// `drive` bounds the effective time sum_t eta_t / (1 - beta) of the run, and `precond_power` is p:
/// coordinate i then moves by at most drive * lambda_i^(1-p) relative to its initial error.
/// Preconditions: a > 1, b > 1, drive > 0, 0 <= p < 1.
SpectralGrid build_spectral_grid(const PowerLawSpectrum& spectrum, double model_size, double drive,
                                 double precond_power, const QuadratureOptions& options);

/// Gauss-Legendre nodes and weights on [-1, 1] (n >= 1), from Boost.Math's Legendre zeros.
void gauss_legendre(int n, std::vector<double>& nodes, std::vector<double>& weights);

} // namespace cbs::theory
