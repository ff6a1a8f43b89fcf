#include "experiments/sim_config.hpp"

#include "theory/check.hpp"

#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace cbs::exp {

namespace {

using config::refuse;
using sim::SimOptions;
using Key = config::Key<SimOptions>;

/// Only meaningful (and only written, and only accepted) with simulator = widenet.
bool widenet(const SimOptions& o) {
    return o.simulator == sim::SimulatorKind::widenet;
}

/// A number key on a field of SimOptions.
template <typename Field>
Key number_key(const char* name, const char* help, Field field) {
    return config::field_key<SimOptions>(name, help, field);
}

/// A number key on a field of SimOptions::net (simulator = widenet only).
template <typename Field>
Key net_key(const char* name, const char* help, Field sim::NetOptions::*field) {
    Key k = config::field_key<SimOptions>(
        name, help, [field](auto& o) -> auto& { return o.net.*field; });
    k.applies = widenet;
    return k;
}

/// A choice key on a field of SimOptions::net, with its parse / to_string pair.
template <typename Enum>
Key net_choice_key(const char* name, const char* help, Enum sim::NetOptions::*field,
                   Enum (*parse)(const std::string&, const std::string&),
                   const char* (*text)(Enum)) {
    Key k = config::choice_key<SimOptions>(
        name, help, [field](auto& o) -> auto& { return o.net.*field; }, parse, text);
    k.applies = widenet;
    return k;
}

const config::Registry<SimOptions>& registry() {
    static const config::Registry<SimOptions> table([] {
        std::vector<Key> t;
        t.push_back(number_key(
            "spectrum.a", "covariance spectrum exponent a, lambda_i = i^-a (> 1)", &SimOptions::a));
        t.push_back(number_key("spectrum.b", "source exponent b, lambda_i w*_i^2 = i^-b (> 1)",
                               &SimOptions::b));
        t.push_back(Key{"spectrum.file",
                        "text file of `lambda_i signal_i` lines (signal_i = lambda_i w*_i^2, all "
                        "> 0, # comments): a finite spectrum replacing spectrum.a/b "
                        "(recursion, montecarlo); empty = the power law",
                        [](SimOptions& o, const std::string&, const std::string& text) {
                            if (text.empty())
                                o.spectrum.reset();
                            else
                                o.spectrum = sim::load_spectrum_file(text);
                        },
                        [](const SimOptions& o) {
                            return data::AttrValue(o.spectrum ? o.spectrum->path : std::string());
                        }});
        // Written only when set, so files and run ids without it stay unchanged.
        t.back().in_toml = [](const SimOptions& o) { return o.spectrum != nullptr; };
        t.back().in_attributes = t.back().in_toml;
        t.push_back(
            number_key("noise.sigma2", "label-noise variance sigma^2 (>= 0)", &SimOptions::sigma2));
        t.push_back(Key{"model.size", "features the model keeps, M: integer >= 1 or inf",
                        [](SimOptions& o, const std::string& key, const std::string& text) {
                            if (text == "inf" || text == "+inf" || text == "infinity") {
                                o.model_size = std::numeric_limits<double>::infinity();
                                return;
                            }
                            const std::int64_t m = config::parse_int(key, text);
                            if (m < 1) refuse(key, text, "must be an integer >= 1 or inf");
                            o.model_size = static_cast<double>(m);
                        },
                        [](const SimOptions& o) {
                            return std::isinf(o.model_size)
                                       ? data::AttrValue(std::string("inf"))
                                       : data::AttrValue(static_cast<std::int64_t>(o.model_size));
                        },
                        true}); // inf is a TOML float, not a string
        t.push_back(number_key("batch",
                               "mini-batch size B, samples per step, [1, 1e12]; B > data.samples "
                               "runs one step of B samples",
                               &SimOptions::batch));
        t.push_back(number_key("lr", "peak learning rate eta (> 0)", &SimOptions::lr));
        t.push_back(
            number_key("momentum", "heavy-ball momentum beta in [0, 1)", &SimOptions::momentum));
        t.push_back(number_key("ewa.decay", "EWA decay tau in [0, 1) (0 = EWA is the raw weights)",
                               &SimOptions::ewa_decay));
        {
            // Not in the TOML (run ids) of EWA runs, which predate the key; always an attribute.
            Key average{"average",
                        "averaged iterate reported as risk_ewa: ewa (bias-corrected EWA of "
                        "ewa.decay) | uniform (mean of w_1..w_t) | tail (mean after step "
                        "floor((1-f) * budget steps), f = tail.fraction); recursion, "
                        "montecarlo",
                        [](SimOptions& o, const std::string& key, const std::string& text) {
                            o.average = sim::parse_average(key, text);
                        },
                        [](const SimOptions& o) {
                            return data::AttrValue(std::string(sim::to_string(o.average)));
                        }};
            average.in_toml = [](const SimOptions& o) { return o.average != sim::Average::ewa; };
            t.push_back(std::move(average));
            Key fraction = number_key("tail.fraction",
                                      "average = tail: fraction f of the budget steps averaged, "
                                      "(0, 1]",
                                      &SimOptions::tail_fraction);
            fraction.in_toml = [](const SimOptions& o) { return o.average == sim::Average::tail; };
            fraction.in_attributes = fraction.in_toml;
            t.push_back(std::move(fraction));
        }
        t.push_back(number_key("precond.power",
                               "diagonal preconditioning power p, step eta*lambda_i^-p, in [0, 1)",
                               &SimOptions::precond_power));
        t.push_back(number_key("steps", "optimizer steps, [1, 1e9] (ignored when data.samples > 0)",
                               &SimOptions::steps));
        t.push_back(
            number_key("data.samples",
                       "one-pass sample budget n, [0, 1e18]; > 0 sets steps = ceil(n / batch) "
                       "(n < batch: one step)",
                       &SimOptions::samples));
        t.push_back(number_key(
            "data.horizon", "with data.samples: run up to horizon * ceil(n / B) steps, [1, 1000]",
            &SimOptions::horizon));
        t.push_back(number_key(
            "target.risk", "stop once the EWA risk is <= this value and report the step (0 = off)",
            &SimOptions::target_risk));
        t.push_back(Key{"schedule", "learning-rate schedule: constant | cosine | wsd",
                        [](SimOptions& o, const std::string& key, const std::string& text) {
                            o.schedule = sim::parse_schedule(key, text);
                        },
                        [](const SimOptions& o) {
                            return data::AttrValue(std::string(sim::to_string(o.schedule)));
                        }});
        t.push_back(number_key("warmup.fraction",
                               "linear warmup over this fraction of the steps, [0, 1)",
                               &SimOptions::warmup_fraction));
        t.push_back(number_key("decay.fraction",
                               "wsd: fraction of the steps spent decaying, (0, 1]",
                               &SimOptions::decay_fraction));
        t.push_back(number_key("decay.final_fraction",
                               "cosine/wsd: final LR as a fraction of the peak, [0, 1]",
                               &SimOptions::final_lr_fraction));
        t.push_back(Key{"simulator",
                        "recursion (exact expected risk) | montecarlo (sampled SGD) | widenet "
                        "(networks of width net.width)",
                        [](SimOptions& o, const std::string& key, const std::string& text) {
                            o.simulator = sim::parse_simulator(key, text);
                        },
                        [](const SimOptions& o) {
                            return data::AttrValue(std::string(sim::to_string(o.simulator)));
                        }});
        t.push_back(
            Key{"record",
                "recorded steps: all | log (100 log-spaced) | N (N log-spaced, 2 <= N <= 1e6)",
                [](SimOptions& o, const std::string& key, const std::string& text) {
                    if (text == "all") {
                        o.record_mode = sim::RecordMode::all;
                    } else if (text == "log") {
                        o.record_mode = sim::RecordMode::log;
                        o.record_points = SimOptions{}.record_points;
                    } else {
                        const std::int64_t n = config::parse_int(key, text);
                        if (n < 2 || n > 1'000'000)
                            refuse(key, text, "must be all, log or an integer in [2, 1e6]");
                        o.record_mode = sim::RecordMode::log;
                        o.record_points = n;
                    }
                },
                [](const SimOptions& o) {
                    return o.record_mode == sim::RecordMode::all
                               ? data::AttrValue(std::string("all"))
                               : data::AttrValue(std::to_string(o.record_points));
                }});
        t.push_back(number_key("record_every", "also record every k-th step (0 = off)",
                               &SimOptions::record_every));
        t.push_back(number_key("quadrature.tol",
                               "recursion: requested relative accuracy of the risk, [1e-12, 1e-2]",
                               &SimOptions::tolerance));
        t.push_back(
            number_key("seed", "montecarlo/widenet: base random seed (>= 0)", &SimOptions::seed));
        t.push_back(number_key("montecarlo.seeds", "montecarlo: independent runs averaged (>= 2)",
                               &SimOptions::mc_seeds));
        t.push_back(
            number_key("divergence.factor",
                       "a run has diverged once its risk exceeds factor * initial risk (> 1)",
                       &SimOptions::divergence_factor));
        // simulator = widenet (simulators/widenet.hpp); refused with the other simulators.
        t.push_back(
            net_key("net.width", "widenet: hidden width N, [2, 16384]", &sim::NetOptions::width));
        t.push_back(
            net_key("net.depth", "widenet: hidden layers, 1 | 2 | 3", &sim::NetOptions::depth));
        t.push_back(net_choice_key("net.activation", "widenet: relu | gelu | tanh",
                                   &sim::NetOptions::activation, &sim::parse_activation,
                                   &sim::to_string));
        t.push_back(net_choice_key(
            "net.param", "widenet: parameterization sp | mup | ntk (THEORY.md section 4)",
            &sim::NetOptions::param, &sim::parse_parameterization, &sim::to_string));
        t.push_back(net_key("net.base_width",
                            "widenet: width at which mup/ntk equal sp (LR multipliers are 1)",
                            &sim::NetOptions::base_width));
        t.push_back(Key{"net.zero_readout",
                        "widenet: 1 = output weights start at zero, 0 = random (table init)",
                        [](SimOptions& o, const std::string& key, const std::string& text) {
                            const std::int64_t v = config::parse_int(key, text);
                            if (v != 0 && v != 1) refuse(key, text, "must be 0 or 1");
                            o.net.zero_readout = v == 1;
                        },
                        [](const SimOptions& o) {
                            return data::AttrValue(std::int64_t{o.net.zero_readout ? 1 : 0});
                        }});
        t.back().applies = widenet;
        t.push_back(net_key("net.input_dim",
                            "widenet: input dimension d, x ~ N(0, diag(i^-a)), [1, 4096]",
                            &sim::NetOptions::input_dim));
        t.push_back(net_choice_key("optimizer", "widenet: sgd (heavy ball with momentum) | adam",
                                   &sim::NetOptions::optimizer, &sim::parse_optimizer,
                                   &sim::to_string));
        t.push_back(net_key("adam.beta1", "widenet adam: first-moment decay, [0, 1)",
                            &sim::NetOptions::adam_beta1));
        t.push_back(net_key("adam.beta2", "widenet adam: second-moment decay, [0, 1)",
                            &sim::NetOptions::adam_beta2));
        t.push_back(net_key("adam.eps", "widenet adam: denominator floor (> 0)",
                            &sim::NetOptions::adam_eps));
        t.push_back(net_choice_key(
            "task", "widenet: linear (teacher w* with the source condition) | teacher (random net)",
            &sim::NetOptions::task, &sim::parse_task, &sim::to_string));
        t.push_back(net_key("teacher.width", "widenet task = teacher: teacher hidden width",
                            &sim::NetOptions::teacher_width));
        t.push_back(net_key("net.seeds", "widenet: independent networks averaged, [1, 4096]",
                            &sim::NetOptions::seeds));
        t.push_back(net_key("eval.samples", "widenet: fixed held-out set size, [16, 1e7]",
                            &sim::NetOptions::eval_samples));
        return t;
    }());
    return table;
}

} // namespace

std::vector<KeyInfo> simulation_keys() {
    return registry().infos();
}

sim::SimOptions resolve_sim_options(const ConfigEntries& entries) {
    SimOptions o;
    registry().apply(
        o, entries,
        [](const ConfigEntry& e) {
            return fmt::format("unknown key (from {}); `cbs simulate --help` lists the keys",
                               e.source);
        },
        [](const SimOptions& applied) {
            return fmt::format("applies only to simulator = widenet (simulator = {})",
                               sim::to_string(applied.simulator));
        });
    o.validate();
    return o;
}

std::string to_toml(const sim::SimOptions& options) {
    return registry().to_toml(options); // keys of other simulators are not written
}

std::vector<std::pair<std::string, data::AttrValue>> to_attributes(const sim::SimOptions& options) {
    return registry().attributes(options);
}

std::string keys_help() {
    return config::help_table(
        "Configuration keys (TOML file and/or --set key=value; default in brackets):", 28,
        simulation_keys());
}

} // namespace cbs::exp
