// The μP wide-network simulator (simulator = widenet): fully connected networks of width N trained
// one-pass on the power-law task, averaged over independent networks, written as the shared curve
// schema so steps-to-target and CBS measurement apply unchanged.
//
// Contract:
//  - Network k = 0..net.seeds-1 is a Trainer<float> (widenet_trainer.hpp) on stream k of `seed`;
//    all networks see the same fixed held-out set (widenet_task.hpp), drawn from `seed` too.
//  - Curve at record_steps(options, total_steps()): risk = mean over networks of the held-out
//    excess risk 1/2 mean_j (f(x_j) - y*(x_j))^2 of the raw weights, risk_ewa the same for the
//    bias-corrected EWA weights. risk_se / risk_ewa_se add in quadrature the held-out sampling
//    error (standard deviation over the held-out points of the network-averaged loss, over
//    sqrt(eval.samples)) and, with >= 2 networks, the spread over networks (sample standard
//    deviation over sqrt(net.seeds)).
//  - target.risk > 0: the run stops at the first recorded step whose EWA risk is <= the target;
//    target_step is that step and target_step_interp the crossing interpolated linearly in
//    (log step, log risk) from the previous recorded step (record densely for a precise value).
//  - Divergence: a network whose mini-batch loss becomes non-finite or exceeds divergence.factor x
//    (zero-predictor risk + sigma2/2), or a recorded risk that is non-finite or above
//    divergence.factor x the zero-predictor risk, marks the curve diverged at that step; the curve
//    keeps only the recorded steps before it.
//  - Deterministic for a seed: networks are independent streams and averages are taken in network
//    order, so the curve does not depend on the number of OpenMP threads (OpenMP over networks).
// Precondition: options.validate() passed and options.simulator == widenet.
#pragma once

#include "simulators/curve.hpp"
#include "simulators/sim_options.hpp"

namespace cbs::sim {

Curve simulate_widenet(const SimOptions& options);

} // namespace cbs::sim
