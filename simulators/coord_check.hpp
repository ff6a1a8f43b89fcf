// The coordinate check of μP (Yang & Hu, Tensor Programs V): train networks of increasing width
// for a few steps at fixed hyper-parameters and record the mean |activation| of every layer.
// Under μP the scales stay flat in width; under SP they grow (THEORY.md section 4).
#pragma once

#include "simulators/sim_options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace cbs::sim {

struct CoordCheckRow {
    Parameterization param = Parameterization::mup;
    std::int64_t width = 0;
    std::int64_t step = 0;        ///< updates done when measured (0 = at initialisation)
    std::vector<double> mean_abs; ///< per layer (layer_names order), averaged over networks
};

/// "h1".."hL" (post-activation of hidden layer l) then "out" (the network output f).
std::vector<std::string> coord_check_layers(std::int64_t depth);

/// For every parameterization in `params` and width in `widths`: net.seeds networks (options
/// with net.width and net.param replaced) trained `steps` updates (LR schedule over `steps`),
/// measured at initialisation and after the last update on the first min(eval.samples, 256)
/// held-out inputs. Rows ordered by param, then width, then step (0 first). The networks train in
/// parallel (OpenMP); the rows are the same for any thread count.
/// Precondition: options.validate() passed with simulator = widenet; widths >= 2; steps >= 1.
std::vector<CoordCheckRow> coord_check(const SimOptions& options,
                                       const std::vector<std::int64_t>& widths,
                                       const std::vector<Parameterization>& params,
                                       std::int64_t steps);

} // namespace cbs::sim
