// Coordinate check (contract in coord_check.hpp): a few Trainer<float> updates per width and
// seed, in parallel over (parameterization, width, seed).
#include "simulators/coord_check.hpp"

#include "simulators/widenet_task.hpp"
#include "simulators/widenet_trainer.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <exception>

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

    // One job per (parameterization, width, seed), run in parallel (OpenMP); each job writes its
    // own slot, and the seeds are averaged afterwards in seed order, so the rows do not depend on
    // the thread count.
    struct Job {
        Parameterization param;
        std::int64_t width;
        std::int64_t seed;
        std::vector<double> init, trained;
    };
    std::vector<Job> jobs;
    for (Parameterization p : params)
        for (std::int64_t width : widths) {
            CBS_CHECK(width >= 2, "width = ", width);
            for (std::int64_t s = 0; s < o.net.seeds; ++s)
                jobs.push_back({p, width, s, {}, {}});
        }
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic)
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        try {
            Job& job = jobs[j];
            SimOptions mine = o;
            mine.net.param = job.param;
            mine.net.width = job.width;
            net::Trainer<float> trainer(mine, task, static_cast<std::uint64_t>(job.seed));
            job.init = trainer.mean_abs_activations(probe.X);
            for (std::int64_t t = 0; t < steps; ++t)
                trainer.step(steps);
            job.trained = trainer.mean_abs_activations(probe.X);
        } catch (...) {
#pragma omp critical(coord_check_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);

    std::vector<CoordCheckRow> rows;
    for (std::size_t j = 0; j < jobs.size(); j += static_cast<std::size_t>(o.net.seeds)) {
        CoordCheckRow before{jobs[j].param, jobs[j].width, 0, std::vector<double>(layers, 0.0)};
        CoordCheckRow after{jobs[j].param, jobs[j].width, steps, std::vector<double>(layers, 0.0)};
        for (std::size_t s = j; s < j + static_cast<std::size_t>(o.net.seeds); ++s)
            for (std::size_t l = 0; l < layers; ++l) {
                before.mean_abs[l] += jobs[s].init[l] / static_cast<double>(o.net.seeds);
                after.mean_abs[l] += jobs[s].trained[l] / static_cast<double>(o.net.seeds);
            }
        rows.push_back(std::move(before));
        rows.push_back(std::move(after));
    }
    return rows;
}

} // namespace cbs::sim
