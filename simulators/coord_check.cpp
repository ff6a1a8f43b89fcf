// Coordinate check (contract in coord_check.hpp): a few Trainer<float> updates per width.
#include "simulators/coord_check.hpp"

#include "simulators/widenet_task.hpp"
#include "simulators/widenet_trainer.hpp"
#include "theory/check.hpp"

#include <algorithm>

namespace cbs::sim {

std::vector<std::string> coord_check_layers(std::int64_t depth) {
    std::vector<std::string> names;
    for (std::int64_t l = 1; l <= depth; ++l)
        names.push_back(std::string(1, 'h').append(std::to_string(l)));
    names.push_back("out");
    return names;
}

std::vector<CoordCheckRow> coord_check(const SimOptions& options,
                                       const std::vector<std::int64_t>& widths,
                                       const std::vector<Parameterization>& params,
                                       std::int64_t steps) {
    CBS_CHECK(steps >= 1, "steps = ", steps);
    SimOptions o = options;
    o.steps = steps;
    o.samples = 0;
    o.net.eval_samples = std::min<std::int64_t>(o.net.eval_samples, 256);
    const net::Task task(o);
    const net::HeldOut<float> probe = net::make_held_out<float>(task, o);
    const std::size_t layers = static_cast<std::size_t>(o.net.depth) + 1;

    std::vector<CoordCheckRow> rows;
    for (Parameterization p : params)
        for (std::int64_t width : widths) {
            CBS_CHECK(width >= 2, "width = ", width);
            o.net.param = p;
            o.net.width = width;
            CoordCheckRow before{p, width, 0, std::vector<double>(layers, 0.0)};
            CoordCheckRow after{p, width, steps, std::vector<double>(layers, 0.0)};
            for (std::int64_t s = 0; s < o.net.seeds; ++s) {
                net::Trainer<float> trainer(o, task, static_cast<std::uint64_t>(s));
                const std::vector<double> init = trainer.mean_abs_activations(probe.X);
                for (std::int64_t t = 0; t < steps; ++t)
                    trainer.step(steps);
                const std::vector<double> trained = trainer.mean_abs_activations(probe.X);
                for (std::size_t l = 0; l < layers; ++l) {
                    before.mean_abs[l] += init[l] / static_cast<double>(o.net.seeds);
                    after.mean_abs[l] += trained[l] / static_cast<double>(o.net.seeds);
                }
            }
            rows.push_back(std::move(before));
            rows.push_back(std::move(after));
        }
    return rows;
}

} // namespace cbs::sim
