#include "simulators/sim_options.hpp"

#include "theory/check.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace cbs::sim {

namespace {
/// Shortest text that reads back as `value` ("0.1", not "0.10000000000000001").
template <typename T>
std::string shortest(T value) {
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, result.ptr);
}

template <typename T>
[[noreturn]] void refuse(const char* key, T value, const char* rule) {
    throw UserError(std::string("`") + key + "` = " + shortest(value) + ": " + rule);
}
void validate_widenet(const SimOptions& o) {
    const NetOptions& n = o.net;
    if (n.width < 2 || n.width > 16384)
        refuse("net.width", n.width, "must be an integer in [2, 16384]");
    if (n.depth < 1 || n.depth > 3) refuse("net.depth", n.depth, "must be 1, 2 or 3 hidden layers");
    if (n.base_width < 1 || n.base_width > 16384)
        refuse("net.base_width", n.base_width, "must be an integer in [1, 16384]");
    if (n.input_dim < 1 || n.input_dim > 4096)
        refuse("net.input_dim", n.input_dim, "must be an integer in [1, 4096]");
    if (!(n.adam_beta1 >= 0.0 && n.adam_beta1 < 1.0))
        refuse("adam.beta1", n.adam_beta1, "must be in [0, 1)");
    if (!(n.adam_beta2 >= 0.0 && n.adam_beta2 < 1.0))
        refuse("adam.beta2", n.adam_beta2, "must be in [0, 1)");
    if (!(n.adam_eps > 0.0) || !std::isfinite(n.adam_eps))
        refuse("adam.eps", n.adam_eps, "must be a finite number > 0");
    if (n.teacher_width < 1 || n.teacher_width > 4096)
        refuse("teacher.width", n.teacher_width, "must be an integer in [1, 4096]");
    if (n.seeds < 1 || n.seeds > 4096)
        refuse("net.seeds", n.seeds, "must be an integer in [1, 4096]");
    if (n.eval_samples < 16 || n.eval_samples > 10'000'000)
        refuse("eval.samples", n.eval_samples, "must be an integer in [16, 1e7]");
    if (n.optimizer == Optimizer::adam && o.momentum != 0.0)
        refuse("momentum", o.momentum,
               "must be 0 with optimizer = adam (its first moment is adam.beta1)");
    if (o.precond_power != 0.0)
        refuse("precond.power", o.precond_power,
               "must be 0 for simulator = widenet (use optimizer = adam)");
    if (!std::isinf(o.model_size))
        refuse("model.size", o.model_size,
               "does not apply to simulator = widenet (the model size is net.width)");
}

} // namespace

std::int64_t SimOptions::budget_steps() const {
    // ceil(samples / batch) without forming samples + batch - 1, which overflows near INT64_MAX.
    return samples > 0 ? samples / batch + (samples % batch != 0 ? 1 : 0) : steps;
}

double SimOptions::learned_dimension() const {
    if (spectrum && std::isinf(model_size)) return static_cast<double>(spectrum->dimension());
    return model_size;
}

std::int64_t SimOptions::total_steps() const {
    if (samples <= 0) return steps;
    const double total = std::ceil(horizon * static_cast<double>(budget_steps()));
    // Saturate instead of casting a double beyond the int64 range (undefined behaviour);
    // validate() refuses anything above kMaxSteps anyway.
    constexpr double int64_limit = 9.2e18;
    return total < int64_limit ? static_cast<std::int64_t>(total)
                               : std::numeric_limits<std::int64_t>::max();
}

std::int64_t SimOptions::average_start() const {
    if (average != Average::tail) return 0;
    return static_cast<std::int64_t>(
        std::floor((1.0 - tail_fraction) * static_cast<double>(budget_steps())));
}

double SimOptions::average_decay(std::int64_t t) const {
    if (average == Average::ewa) return ewa_decay;
    const std::int64_t since = t - average_start(); // iterates already in the average
    return since <= 0 ? 0.0 : static_cast<double>(since) / static_cast<double>(since + 1);
}

void SimOptions::validate() const {
    if (!(a > 1.0) || !std::isfinite(a)) refuse("spectrum.a", a, "must be a finite number > 1");
    if (!(b > 1.0) || !std::isfinite(b)) refuse("spectrum.b", b, "must be a finite number > 1");
    if (!(sigma2 >= 0.0) || !std::isfinite(sigma2))
        refuse("noise.sigma2", sigma2, "must be a finite number >= 0");
    if (!(model_size >= 1.0) || (std::isfinite(model_size) && model_size != std::floor(model_size)))
        refuse("model.size", model_size, "must be an integer >= 1 or inf");
    if (batch < 1 || batch > kMaxBatch) refuse("batch", batch, "must be an integer in [1, 1e12]");
    if (!(lr > 0.0) || !std::isfinite(lr)) refuse("lr", lr, "must be a finite number > 0");
    if (!(momentum >= 0.0 && momentum < 1.0)) refuse("momentum", momentum, "must be in [0, 1)");
    if (!(ewa_decay >= 0.0 && ewa_decay < 1.0)) refuse("ewa.decay", ewa_decay, "must be in [0, 1)");
    if (!(precond_power >= 0.0 && precond_power < 1.0))
        refuse("precond.power", precond_power, "must be in [0, 1)");
    if (!(tail_fraction > 0.0 && tail_fraction <= 1.0))
        refuse("tail.fraction", tail_fraction, "must be in (0, 1]");
    if (average != Average::ewa && simulator == SimulatorKind::widenet)
        throw UserError(std::string("`average` = ") + to_string(average) +
                        ": applies only to simulator = recursion or montecarlo (widenet "
                        "averages by EWA)");
    if (spectrum) {
        if (simulator == SimulatorKind::widenet)
            throw UserError("`spectrum.file` = " + spectrum->path +
                            ": applies only to simulator = recursion or montecarlo");
        if (std::isfinite(model_size) && model_size > static_cast<double>(spectrum->dimension()))
            refuse("model.size", model_size,
                   ("must be inf or <= the dimension of `spectrum.file` (" +
                    std::to_string(spectrum->dimension()) + " entries)")
                       .c_str());
    }
    if (!spectrum && std::isinf(model_size) && !(2.0 * a * (1.0 - precond_power) > 1.0))
        refuse("precond.power", precond_power,
               "must be < 1 - 1/(2a) when model.size = inf (else the gradient noise is infinite)");
    if (steps < 1) refuse("steps", steps, "must be an integer >= 1");
    if (samples < 0 || samples > kMaxSamples)
        refuse("data.samples", samples, "must be an integer in [0, 1e18] (0 = use steps)");
    if (!(horizon >= 1.0 && horizon <= 1000.0))
        refuse("data.horizon", horizon, "must be in [1, 1000]");
    if (!(target_risk >= 0.0) || !std::isfinite(target_risk))
        refuse("target.risk", target_risk, "must be a finite number >= 0 (0 = no target)");
    if (!(warmup_fraction >= 0.0 && warmup_fraction < 1.0))
        refuse("warmup.fraction", warmup_fraction, "must be in [0, 1)");
    if (!(decay_fraction > 0.0 && decay_fraction <= 1.0))
        refuse("decay.fraction", decay_fraction, "must be in (0, 1]");
    if (schedule == Schedule::wsd && warmup_fraction + decay_fraction > 1.0)
        refuse("decay.fraction", decay_fraction,
               "warmup.fraction + decay.fraction must be <= 1 for schedule = wsd");
    if (!(final_lr_fraction >= 0.0 && final_lr_fraction <= 1.0))
        refuse("decay.final_fraction", final_lr_fraction, "must be in [0, 1]");
    if (record_points < 2 || record_points > 1'000'000)
        refuse("record", record_points, "must be all, log or an integer in [2, 1e6]");
    if (record_every < 0) refuse("record_every", record_every, "must be an integer >= 0");
    if (!(tolerance >= 1e-12 && tolerance <= 1e-2))
        refuse("quadrature.tol", tolerance, "must be in [1e-12, 1e-2]");
    if (seed < 0) refuse("seed", seed, "must be an integer >= 0");
    if (mc_seeds < 2) refuse("montecarlo.seeds", mc_seeds, "must be an integer >= 2");
    if (!(divergence_factor > 1.0)) refuse("divergence.factor", divergence_factor, "must be > 1");
    if (simulator == SimulatorKind::montecarlo && !(learned_dimension() <= 100000.0))
        refuse("model.size", model_size,
               spectrum ? "must be <= 100000 for simulator = montecarlo (spectrum.file has more "
                          "entries: set model.size)"
                        : "must be an integer <= 100000 for simulator = montecarlo (finite "
                          "dimension)");
    const std::int64_t total = total_steps();
    if (total > kMaxSteps) {
        if (samples > 0)
            refuse("data.samples", samples,
                   ("with batch = " + std::to_string(batch) +
                    " and data.horizon = " + shortest(horizon) + " this is more than 1e9 steps")
                       .c_str());
        refuse("steps", total, "must be <= 1e9 steps");
    }
    // Samples seen (step x batch) are counted in int64 on every recorded step.
    if (static_cast<double>(total) * static_cast<double>(batch) > static_cast<double>(kMaxSamples))
        refuse("batch", batch,
               ("times the " + std::to_string(total) + " steps must be <= 1e18 samples").c_str());
    if (simulator == SimulatorKind::widenet) validate_widenet(*this);
}

const char* to_string(Schedule s) {
    switch (s) {
    case Schedule::constant:
        return "constant";
    case Schedule::cosine:
        return "cosine";
    case Schedule::wsd:
        return "wsd";
    }
    return "?";
}

const char* to_string(Average a) {
    switch (a) {
    case Average::ewa:
        return "ewa";
    case Average::uniform:
        return "uniform";
    case Average::tail:
        return "tail";
    }
    return "?";
}

const char* to_string(SimulatorKind s) {
    switch (s) {
    case SimulatorKind::recursion:
        return "recursion";
    case SimulatorKind::montecarlo:
        return "montecarlo";
    case SimulatorKind::widenet:
        return "widenet";
    }
    return "?";
}

const char* to_string(Activation a) {
    switch (a) {
    case Activation::relu:
        return "relu";
    case Activation::gelu:
        return "gelu";
    case Activation::tanh:
        return "tanh";
    }
    return "?";
}

const char* to_string(Parameterization p) {
    switch (p) {
    case Parameterization::sp:
        return "sp";
    case Parameterization::mup:
        return "mup";
    case Parameterization::ntk:
        return "ntk";
    }
    return "?";
}

const char* to_string(Optimizer o) {
    return o == Optimizer::sgd ? "sgd" : "adam";
}

const char* to_string(NetTask t) {
    return t == NetTask::linear ? "linear" : "teacher";
}

Schedule parse_schedule(const std::string& key, const std::string& text) {
    if (text == "constant") return Schedule::constant;
    if (text == "cosine") return Schedule::cosine;
    if (text == "wsd") return Schedule::wsd;
    throw UserError("`" + key + "` = " + text + ": must be one of constant, cosine, wsd");
}

Average parse_average(const std::string& key, const std::string& text) {
    if (text == "ewa") return Average::ewa;
    if (text == "uniform") return Average::uniform;
    if (text == "tail") return Average::tail;
    throw UserError("`" + key + "` = " + text + ": must be one of ewa, uniform, tail");
}

SimulatorKind parse_simulator(const std::string& key, const std::string& text) {
    if (text == "recursion") return SimulatorKind::recursion;
    if (text == "montecarlo") return SimulatorKind::montecarlo;
    if (text == "widenet") return SimulatorKind::widenet;
    if (text == "lm")
        throw UserError("`" + key +
                        "` = lm: language models run in `cbs sweep` (any study "
                        "file with simulator = \"lm\") and `cbs train-lm`, not here");
    throw UserError("`" + key + "` = " + text + ": must be one of recursion, montecarlo, widenet");
}

Activation parse_activation(const std::string& key, const std::string& text) {
    if (text == "relu") return Activation::relu;
    if (text == "gelu") return Activation::gelu;
    if (text == "tanh") return Activation::tanh;
    throw UserError("`" + key + "` = " + text + ": must be one of relu, gelu, tanh");
}

Parameterization parse_parameterization(const std::string& key, const std::string& text) {
    if (text == "sp") return Parameterization::sp;
    if (text == "mup") return Parameterization::mup;
    if (text == "ntk") return Parameterization::ntk;
    throw UserError("`" + key + "` = " + text + ": must be one of sp, mup, ntk");
}

Optimizer parse_optimizer(const std::string& key, const std::string& text) {
    if (text == "sgd") return Optimizer::sgd;
    if (text == "adam") return Optimizer::adam;
    throw UserError("`" + key + "` = " + text + ": must be one of sgd, adam");
}

NetTask parse_task(const std::string& key, const std::string& text) {
    if (text == "linear") return NetTask::linear;
    if (text == "teacher") return NetTask::teacher;
    throw UserError("`" + key + "` = " + text + ": must be one of linear, teacher");
}

} // namespace cbs::sim
