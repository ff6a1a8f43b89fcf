#include "simulators/montecarlo.hpp"

#include <stdexcept>

namespace cbs::sim {
Curve simulate_montecarlo(const SimOptions&) { throw std::logic_error("montecarlo: in progress"); }
} // namespace cbs::sim
