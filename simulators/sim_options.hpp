// Options of one simulation (THEORY.md sections 1-2 and 4), shared by the exact recursion, the
// Monte Carlo validator and the wide-network simulator (the `net` block, THEORY.md section 4).
// Field comments give the config key (the names of THEORY.md), the unit and the default;
// validate() enforces the rules quoted in its messages.
#pragma once

#include "simulators/spectrum_file.hpp"
#include "theory/quadrature.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

namespace cbs::sim {

enum class Schedule { constant, cosine, wsd };
enum class SimulatorKind { recursion, montecarlo, widenet };
enum class RecordMode { all, log };
/// Which average of the iterates `risk_ewa` reports (docs/averaging.md).
enum class Average { ewa, uniform, tail };

// Wide-network simulator (simulator = widenet): see simulators/widenet.hpp for the contract.
enum class Activation { relu, gelu, tanh };
enum class Parameterization { sp, mup, ntk };
enum class Optimizer { sgd, adam };
enum class NetTask { linear, teacher };

struct NetOptions {
    std::int64_t width = 256;                       ///< net.width: hidden width N; in [2, 16384]
    std::int64_t depth = 2;                         ///< net.depth: hidden layers; 1, 2 or 3
    Activation activation = Activation::relu;       ///< net.activation: relu | gelu | tanh
    Parameterization param = Parameterization::mup; ///< net.param: sp | mup | ntk
    std::int64_t base_width = 64; ///< net.base_width: width at which mup and ntk equal sp
    bool zero_readout = false;    ///< net.zero_readout: output weights start at 0 (μP's option)
    std::int64_t input_dim = 32;  ///< net.input_dim: d, inputs x ~ N(0, diag(i^-a)), i <= d
    Optimizer optimizer = Optimizer::sgd; ///< optimizer: sgd | adam
    double adam_beta1 = 0.9;              ///< adam.beta1: first-moment decay in [0, 1)
    double adam_beta2 = 0.999;            ///< adam.beta2: second-moment decay in [0, 1)
    double adam_eps = 1e-8;               ///< adam.eps: denominator floor, > 0
    NetTask task = NetTask::linear;   ///< task: linear (source condition) | teacher (random net)
    std::int64_t teacher_width = 64;  ///< teacher.width: hidden width of the teacher net
    std::int64_t seeds = 4;           ///< net.seeds: independent networks averaged; >= 1
    std::int64_t eval_samples = 4096; ///< eval.samples: fixed held-out set size; >= 16
};

/// Limits validate() enforces, so that step and sample counts stay far inside int64.
inline constexpr std::int64_t kMaxSteps = 1'000'000'000;               ///< optimizer steps run
inline constexpr std::int64_t kMaxBatch = 1'000'000'000'000;           ///< batch
inline constexpr std::int64_t kMaxSamples = 1'000'000'000'000'000'000; ///< data.samples, steps x B

struct SimOptions {
    // problem
    double a = 2.0;      ///< spectrum.a: lambda_i = i^-a; must be > 1
    double b = 3.0;      ///< spectrum.b: lambda_i (w*_i)^2 = i^-b; must be > 1
    double sigma2 = 0.5; ///< noise.sigma2: label-noise variance; >= 0
    double model_size = std::numeric_limits<double>::infinity(); ///< model.size: M, integer or inf
    /// spectrum.file: a finite spectrum read from a file (simulators/spectrum_file.hpp) in place
    /// of the power law spectrum.a / spectrum.b; null = the power law. With it, model.size = inf
    /// means every coordinate of the file, and an integer M must be <= the file's dimension.
    std::shared_ptr<const UserSpectrum> spectrum;

    // optimizer
    std::int64_t batch = 16; ///< batch: B, samples per step; in [1, 1e12]
    double lr = 0.5;         ///< lr: peak learning rate eta; > 0
    double momentum = 0.0;   ///< momentum: heavy-ball beta in [0, 1)
    double ewa_decay = 0.99; ///< ewa.decay: tau in [0, 1); 0 = EWA equals the raw weights
    /// average: the averaged iterate reported as risk_ewa. ewa = the bias-corrected EWA of
    /// decay ewa.decay; uniform = the mean of w_1..w_t; tail = the mean of the iterates after
    /// step floor((1 - f) * budget_steps()) (the current iterate before that window starts).
    Average average = Average::ewa;
    double tail_fraction = 0.5; ///< tail.fraction: f in (0, 1], average = tail only
    double precond_power = 0.0; ///< precond.power: p, step eta * lambda_i^-p; in [0, 1)
    std::int64_t steps = 1000;  ///< steps: optimizer steps (if data.samples = 0)
    /// data.samples: n; > 0 sets steps = ceil(n / B). The last step is always a whole batch, so
    /// n < B (and any n not a multiple of B) rounds up: n < B runs one step of B samples.
    std::int64_t samples = 0;
    double horizon = 1.0;     ///< data.horizon: with data.samples, run horizon * ceil(n/B) steps
    double target_risk = 0.0; ///< target.risk: > 0 stops the run once EWA risk <= target
    Schedule schedule = Schedule::constant; ///< schedule: constant | cosine | wsd
    double warmup_fraction = 0.0;   ///< warmup.fraction: linear warmup over this fraction of steps
    double decay_fraction = 0.2;    ///< decay.fraction: WSD decay phase, fraction of steps
    double final_lr_fraction = 0.0; ///< decay.final_fraction: cosine/WSD end LR / peak LR

    // simulation
    SimulatorKind simulator = SimulatorKind::recursion; ///< simulator: recursion | montecarlo
    RecordMode record_mode = RecordMode::log;           ///< record: all | log | N
    std::int64_t record_points = 100; ///< record = N: N log-spaced steps (record = log: 100)
    std::int64_t record_every = 0;    ///< record_every: also record every k-th step; 0 = off
    double tolerance = 1e-6;          ///< quadrature.tol: relative accuracy of the recursion
    std::int64_t seed = 0;            ///< seed: Monte Carlo base seed
    std::int64_t mc_seeds = 256;      ///< montecarlo.seeds: independent runs averaged; >= 2
    double divergence_factor = 1e6;   ///< divergence.factor: diverged once risk > factor * R_0

    NetOptions net; ///< simulator = widenet only

    /// The data budget in steps: ceil(samples / batch) when samples > 0, else steps.
    std::int64_t budget_steps() const;
    /// Steps run at most: ceil(horizon * budget_steps()) when samples > 0, else steps.
    std::int64_t total_steps() const;
    /// Coordinates the model learns: model.size, or the file's dimension when spectrum.file is
    /// given with model.size = inf (+inf for the infinite power law).
    double learned_dimension() const;
    /// average = tail: the last step before the averaging window, floor((1 - f) *
    /// budget_steps()); 0 for uniform (and ewa). Runs past the budget (data.horizon > 1) keep
    /// averaging from the same start.
    std::int64_t average_start() const;
    /// The decay tau_t of the average's update after step t (0-based), h_{t+1} = tau_t h_t +
    /// (1 - tau_t) w_{t+1}: ewa.decay for ewa; (t - s)/(t - s + 1) for uniform / tail with s =
    /// average_start() (0 while t < s: h is the current iterate).
    double average_decay(std::int64_t t) const;
    /// Throws cbs::UserError("`key` = value: rule") for the first violated rule.
    void validate() const;
};

const char* to_string(Schedule s);
const char* to_string(Average a);
const char* to_string(SimulatorKind s);
const char* to_string(Activation a);
const char* to_string(Parameterization p);
const char* to_string(Optimizer o);
const char* to_string(NetTask t);
/// Parse helpers: throw cbs::UserError naming `key` when `text` is not a valid choice.
Schedule parse_schedule(const std::string& key, const std::string& text);
Average parse_average(const std::string& key, const std::string& text);
SimulatorKind parse_simulator(const std::string& key, const std::string& text);
Activation parse_activation(const std::string& key, const std::string& text);
Parameterization parse_parameterization(const std::string& key, const std::string& text);
Optimizer parse_optimizer(const std::string& key, const std::string& text);
NetTask parse_task(const std::string& key, const std::string& text);

} // namespace cbs::sim
