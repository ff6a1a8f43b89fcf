#include "gpu/lm_options.hpp"

#include "data/config_registry.hpp"
#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>

namespace cbs::lm {

namespace {

using config::refuse;
using Key = config::Key<LmOptions>;
using config::above;
using config::at_least;
using config::in;

LrSchedule parse_schedule(const std::string& key, const std::string& text) {
    if (text == "constant") return LrSchedule::constant;
    if (text == "cosine") return LrSchedule::cosine;
    if (text == "wsd") return LrSchedule::wsd;
    refuse(key, text, "must be constant, cosine or wsd");
}

/// A key on a field of LmOptions (number, text or list), with the range validate() checks.
template <typename Field>
Key key(const char* name, const char* help, Field field,
        std::optional<config::Range> range = std::nullopt) {
    return config::field_key<LmOptions>(name, help, field, std::move(range));
}

/// A number key on a field of ModelConfig (its ranges are ModelConfig::validate()'s).
template <typename Field>
Key model_key(const char* name, const char* help, Field ModelConfig::*field) {
    return config::field_key<LmOptions>(
        name, help, [field](auto& o) -> auto& { return o.model.*field; });
}

const config::Registry<LmOptions>& registry() {
    static const config::Registry<LmOptions> table([] {
        std::vector<Key> t;
        t.push_back(model_key("model.d_model", "residual width C in [2, 65536], divisible by heads",
                              &ModelConfig::d_model));
        t.push_back(
            model_key("model.layers", "transformer blocks, [1, 1024]", &ModelConfig::layers));
        t.push_back(model_key("model.heads", "attention heads; d_model / heads must be even",
                              &ModelConfig::heads));
        t.push_back(
            model_key("model.context", "tokens per sequence, [1, 1048576]", &ModelConfig::context));
        t.push_back(model_key("model.vocab",
                              "vocabulary size, [2, 2^32]; every shard token < vocab",
                              &ModelConfig::vocab));
        t.push_back(config::choice_key<LmOptions>(
            "model.parameterization", "sp | mup (see gpu/model_config.hpp)",
            [](auto& o) -> auto& { return o.model.parameterization; }, &parse_parameterization,
            [](Parameterization p) { return to_string(p); }));
        t.push_back(model_key("model.mup_base_width",
                              "muP base d_model (width multiplier = d_model / this)",
                              &ModelConfig::mup_base_width));
        t.push_back(model_key("model.init_std", "base init standard deviation (> 0)",
                              &ModelConfig::init_std));
        t.push_back(
            model_key("model.rope_base", "RoPE frequency base (> 1)", &ModelConfig::rope_base));
        t.push_back(
            key("data.train", "training token shard (.bin, llm.c format)", &LmOptions::train_path));
        t.push_back(
            key("data.val", "validation token shard (.bin, llm.c format)", &LmOptions::val_path));
        t.push_back(key("data.tokens",
                        "token budget D, [0, 1e18]; > 0 sets steps = ceil(ceil(D / context) / "
                        "batch)",
                        &LmOptions::tokens, in(0, kMaxTokens, "[]", "", "[0, 1e18]")));
        t.push_back(key("data.budgets",
                        "token budgets served by one run, increasing (needs data.tokens = 0, "
                        "schedule = constant, warmup.tokens or warmup.fraction = 0); the run "
                        "goes to horizon * the largest; [] = off",
                        &LmOptions::budgets));
        t.push_back(key("data.horizon", "with data.tokens: run horizon * budget steps, [1, 1000]",
                        &LmOptions::horizon, in(1, 1000, "[]")));
        t.push_back(key("steps", "optimizer steps, [1, 1e9] (ignored when data.tokens > 0)",
                        &LmOptions::steps));
        t.push_back(key("batch", "global batch: sequences per optimizer step, [1, 1e9]",
                        &LmOptions::batch, in(1, kMaxBatch, "[]", "", "[1, 1e9]")));
        t.push_back(key("micro_batch",
                        "sequences per forward/backward (0 = batch); must divide batch",
                        &LmOptions::micro_batch, at_least(0)));
        t.push_back(key("lr", "peak learning rate (> 0)", &LmOptions::lr, above(0)));
        t.push_back(key("adam.beta1", "Adam beta1 in [0, 1)", &LmOptions::beta1, in(0, 1, "[)")));
        t.push_back(key("adam.beta2", "Adam beta2 in [0, 1)", &LmOptions::beta2, in(0, 1, "[)")));
        t.push_back(key("adam.eps", "Adam epsilon (> 0)", &LmOptions::eps, above(0)));
        t.push_back(key("weight_decay", "decoupled weight decay per unit LR (>= 0)",
                        &LmOptions::weight_decay, at_least(0)));
        t.push_back(key("grad_clip", "global gradient-norm clipping threshold (0 = off)",
                        &LmOptions::grad_clip, at_least(0, " (0 = off)")));
        t.push_back(config::choice_key<LmOptions>(
            "schedule", "constant | cosine | wsd, after a linear warmup from 10% of the peak",
            &LmOptions::schedule, &parse_schedule, [](LrSchedule s) { return to_string(s); }));
        t.push_back(key("warmup.fraction",
                        "warmup length as a fraction of the budget steps, [0, 1)",
                        &LmOptions::warmup_fraction, in(0, 1, "[)")));
        t.push_back(key("warmup.tokens",
                        "warmup length in tokens (> 0 replaces warmup.fraction), below the "
                        "smallest budget",
                        &LmOptions::warmup_tokens, in(0, kMaxTokens, "[]", "", "[0, 1e18]")));
        t.push_back(key("decay.fraction", "wsd: decay phase, fraction of budget steps (0, 1]",
                        &LmOptions::decay_fraction, in(0, 1, "(]")));
        t.push_back(key("decay.final_fraction",
                        "cosine/wsd: final LR as a fraction of the peak, [0, 1]",
                        &LmOptions::final_lr_fraction, in(0, 1, "[]")));
        t.push_back(key("ewa.decays",
                        "EWA decays tracked at once, each in [0, 1); risk_ewa = best of them",
                        &LmOptions::ewa_decays));
        t.push_back(key("eval.every", "also evaluate every k steps (0 = off)",
                        &LmOptions::eval_every, at_least(0)));
        t.push_back(key("eval.sequences",
                        "validation sequences per evaluation (0 = the whole val shard)",
                        &LmOptions::eval_sequences, at_least(0, " (0 = all)")));
        t.push_back(key("eval.dense_fraction",
                        "final fraction of the run evaluated densely, [0, 1]",
                        &LmOptions::dense_fraction, in(0, 1, "[]")));
        t.push_back(key("eval.dense_points", "evaluations in that final part, [0, 1e6]",
                        &LmOptions::dense_points, in(0, 1e6, "[]", "", "[0, 1e6]")));
        t.push_back(key("eval.spacing",
                        "> 0: evaluations at most this relative step gap apart over each "
                        "budget's window [(1 - dense_fraction) S, horizon S], [0, 1]",
                        &LmOptions::eval_spacing, in(0, 1, "[]", " (0 = off)")));
        t.push_back(key("log.every", "tokens/s line on stderr every k steps (0 = end only)",
                        &LmOptions::log_every, at_least(0)));
        t.push_back(key("seed", "seed of the initialisation and the data order (>= 0)",
                        &LmOptions::seed, at_least(0)));
        t.push_back(key("backend",
                        "cpu (fast: oneDNN, bf16 where the CPU has it) | reference | cuda",
                        &LmOptions::backend));
        return t;
    }());
    return table;
}

} // namespace

const char* to_string(LrSchedule s) {
    switch (s) {
    case LrSchedule::constant:
        return "constant";
    case LrSchedule::cosine:
        return "cosine";
    case LrSchedule::wsd:
        return "wsd";
    }
    return "?";
}

namespace {
/// ceil(n / d) for n >= 0, d >= 1, without forming n + d - 1 (which overflows near INT64_MAX).
std::int64_t ceil_div(std::int64_t n, std::int64_t d) {
    return n / d + (n % d != 0 ? 1 : 0);
}
} // namespace

std::int64_t LmOptions::run_tokens() const {
    if (tokens > 0) return tokens;
    return budgets.empty() ? 0 : *std::max_element(budgets.begin(), budgets.end());
}

std::vector<std::int64_t> LmOptions::served_budgets() const {
    if (!budgets.empty()) return budgets;
    if (tokens > 0) return {tokens};
    return {};
}

std::int64_t LmOptions::budget_sequences() const {
    return run_tokens() > 0 ? ceil_div(run_tokens(), model.context) : 0;
}

std::int64_t LmOptions::budget_steps() const {
    return run_tokens() > 0 ? ceil_div(budget_sequences(), batch) : steps;
}

std::int64_t LmOptions::steps_for_tokens(std::int64_t budget_tokens) const {
    return ceil_div(ceil_div(budget_tokens, model.context), batch);
}

std::int64_t LmOptions::horizon_steps_for_tokens(std::int64_t budget_tokens) const {
    const double total = std::ceil(horizon * static_cast<double>(steps_for_tokens(budget_tokens)));
    return total < 9.2e18 ? static_cast<std::int64_t>(total)
                          : std::numeric_limits<std::int64_t>::max();
}

std::int64_t LmOptions::warmup_steps() const {
    if (warmup_tokens > 0) return ceil_div(warmup_tokens, batch * model.context);
    return static_cast<std::int64_t>(
        std::llround(warmup_fraction * static_cast<double>(budget_steps())));
}

std::int64_t LmOptions::total_steps() const {
    if (run_tokens() <= 0) return steps;
    const double total = std::ceil(horizon * static_cast<double>(budget_steps()));
    // Saturate instead of casting a double beyond the int64 range; validate() refuses > 1e9.
    return total < 9.2e18 ? static_cast<std::int64_t>(total)
                          : std::numeric_limits<std::int64_t>::max();
}

void LmOptions::validate() const {
    model.validate();
    const auto num = config::number_text;
    if (train_path.empty()) refuse("data.train", "\"\"", "a training token shard is required");
    if (val_path.empty()) refuse("data.val", "\"\"", "a validation token shard is required");
    // Each key's own range (the registry's), then the rules that tie keys together.
    registry().check_ranges(*this);
    if (!budgets.empty()) {
        const std::string text = config::list_text(budgets);
        for (const std::int64_t b : budgets)
            if (b < 1 || b > kMaxTokens)
                refuse("data.budgets", text,
                       fmt::format("every budget must be in [1, 1e18] ({} is not)", b));
        for (std::size_t i = 1; i < budgets.size(); ++i)
            if (budgets[i] <= budgets[i - 1])
                refuse("data.budgets", text, "must be strictly increasing");
        if (tokens != 0)
            refuse(
                "data.tokens", std::to_string(tokens),
                "must be 0 with data.budgets (the run's length is horizon * the largest budget)");
        if (schedule != LrSchedule::constant)
            refuse("schedule", to_string(schedule),
                   "must be constant with data.budgets (a decay ties the run to one budget)");
        if (warmup_tokens == 0 && warmup_fraction != 0)
            refuse("warmup.fraction", num(warmup_fraction),
                   "must be 0 with data.budgets: fix the warmup in tokens (warmup.tokens), so "
                   "that every budget shares it");
    }
    if (run_tokens() == 0 && (steps < 1 || steps > kMaxSteps))
        refuse("steps", std::to_string(steps), "must be in [1, 1e9]");
    if (total_steps() > kMaxSteps)
        refuse("data.tokens", std::to_string(tokens),
               fmt::format("with batch = {}, model.context = {} and data.horizon = {} this is "
                           "more than 1e9 steps",
                           batch, model.context, num(horizon)));
    // Tokens seen (step x batch x context) are counted in int64 on every recorded step.
    if (static_cast<double>(total_steps()) * static_cast<double>(batch) *
            static_cast<double>(model.context) >
        static_cast<double>(kMaxTokens))
        refuse("batch", std::to_string(batch),
               fmt::format("times model.context = {} times the {} steps must be <= 1e18 tokens",
                           model.context, total_steps()));
    if (warmup_tokens > 0) {
        if (run_tokens() > 0) {
            const auto budgets_served = served_budgets();
            const std::int64_t smallest =
                *std::min_element(budgets_served.begin(), budgets_served.end());
            if (warmup_tokens >= smallest)
                refuse("warmup.tokens", std::to_string(warmup_tokens),
                       fmt::format("must be below the smallest budget ({} tokens)", smallest));
        } else if (warmup_tokens >= steps * batch * model.context) {
            refuse("warmup.tokens", std::to_string(warmup_tokens),
                   fmt::format("must be below the run's {} tokens (steps x batch x context)",
                               steps * batch * model.context));
        }
    }
    if (batch % micro_batch_size() != 0)
        refuse("micro_batch", std::to_string(micro_batch),
               fmt::format("must divide `batch` = {}", batch));
    if (ewa_decays.empty()) refuse("ewa.decays", "[]", "must list at least one decay");
    for (double d : ewa_decays)
        if (!(d >= 0 && d < 1))
            refuse("ewa.decays", config::list_text(ewa_decays),
                   fmt::format("every decay must be in [0, 1) ({} is not)", d));
    if (backend != "cpu" && backend != "reference" && backend != "cuda")
        refuse("backend", backend, "must be cpu, reference or cuda");
}

std::vector<LmKeyInfo> lm_keys() {
    return registry().infos();
}

LmOptions resolve_lm_options(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::vector<config::Entry> given;
    for (const auto& [key, value] : entries) {
        if (key == "simulator") { // sweep configs name the kind
            if (value != "lm") refuse(key, value, "must be lm for an LM training run");
            continue;
        }
        given.push_back({key, value, ""});
    }
    LmOptions o;
    registry().apply(o, given, [](const config::Entry&) {
        return std::string("unknown key; `cbs train-lm --help` lists the keys");
    });
    o.validate();
    return o;
}

std::string to_toml(const LmOptions& options) {
    return registry().to_toml(options);
}

std::vector<std::pair<std::string, data::AttrValue>> to_attributes(const LmOptions& options) {
    std::vector<std::pair<std::string, data::AttrValue>> out;
    out.emplace_back("simulator", std::string("lm"));
    for (auto& attribute : registry().attributes(options))
        out.push_back(std::move(attribute));
    out.emplace_back("model.size", options.model.non_embedding_parameters());
    out.emplace_back("model.parameters", options.model.total_parameters());
    out.emplace_back("data.samples", options.budget_sequences() > 0
                                         ? options.budget_sequences()
                                         : options.steps * options.batch);
    return out;
}

std::string run_id(const LmOptions& options) {
    return fmt::format("r{:016x}", fnv1a(to_toml(options)));
}

std::string lm_keys_help() {
    return config::help_table(
        "LM configuration keys (TOML file and/or --set key=value; default in brackets):", 24,
        lm_keys());
}

} // namespace cbs::lm
