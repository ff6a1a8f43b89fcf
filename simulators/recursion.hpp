// The exact expected-risk recursion of THEORY.md section 2 on the spectral grid of
// theory/quadrature.hpp: six second moments per grid point, coupled only through S_t.
#pragma once

#include "simulators/curve.hpp"
#include "simulators/sim_options.hpp"
#include "theory/quadrature.hpp"

namespace cbs::sim {

/// Quadrature settings the recursion uses for `options` (tolerance from quadrature.tol).
theory::QuadratureOptions default_quadrature(const SimOptions& options);

/// Runs the recursion. Risks include the approximation error of a finite model.size.
/// If the risk becomes non-finite or exceeds divergence_factor * R_0, the run stops: the curve is
/// marked diverged at that step and holds only the recorded steps before it.
/// Precondition: options.validate() passed.
Curve simulate_recursion(const SimOptions& options);
/// Same with explicit quadrature settings (convergence tests vary them).
Curve simulate_recursion(const SimOptions& options, const theory::QuadratureOptions& quadrature);

} // namespace cbs::sim
