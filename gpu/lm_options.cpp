#include "gpu/lm_options.hpp"

#include "data/json_text.hpp"
#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <limits>

namespace cbs::lm {

namespace {

[[noreturn]] void refuse(const std::string& key, const std::string& value,
                         const std::string& rule) {
    throw UserError(fmt::format("`{}` = {}: {}", key, value, rule));
}

double parse_double(const std::string& key, const std::string& text) {
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v))
        refuse(key, text, "must be a finite number");
    return v;
}

std::int64_t parse_int(const std::string& key, const std::string& text) {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec == std::errc() && ptr == end) return v;
    double d = 0; // also 1e6, 64.0
    auto [dptr, dec] = std::from_chars(text.data(), end, d);
    if (dec == std::errc() && dptr == end && std::isfinite(d) && d == std::floor(d) &&
        std::abs(d) < 9.0e18)
        return static_cast<std::int64_t>(d);
    refuse(key, text, "must be an integer");
}

// "[0.99, 0.999]" or "0.99, 0.999" or "0.99".
std::vector<double> parse_double_list(const std::string& key, const std::string& text) {
    std::string body = text;
    if (!body.empty() && body.front() == '[') {
        if (body.back() != ']') refuse(key, text, "must be a list of numbers like [0.99, 0.999]");
        body = body.substr(1, body.size() - 2);
    }
    std::vector<double> out;
    std::size_t start = 0;
    while (start <= body.size()) {
        const std::size_t comma = std::min(body.find(',', start), body.size());
        std::string item = body.substr(start, comma - start);
        const auto first = item.find_first_not_of(" \t");
        const auto last = item.find_last_not_of(" \t");
        item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
        if (item.empty())
            refuse(key, text, "must be a non-empty list of numbers like [0.99, 0.999]");
        double v = 0;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (ec != std::errc() || ptr != item.data() + item.size() || !std::isfinite(v))
            refuse(key, text, "must be a list of finite numbers like [0.99, 0.999]");
        out.push_back(v);
        start = comma + 1;
    }
    return out;
}

std::string double_text(double v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".en") == std::string::npos) s += ".0"; // keep it a TOML float
    return s;
}

std::string list_text(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + double_text(v[i]);
    return s + "]";
}

// "[4096, 8192]" (integers; "[]" = none).
std::vector<std::int64_t> parse_int_list(const std::string& key, const std::string& text) {
    std::string body = text;
    body.erase(0, std::min(body.size(), body.find_first_not_of(" \t")));
    if (body == "[]") return {};
    std::vector<std::int64_t> out;
    for (const double v : parse_double_list(key, text)) {
        if (!(v == std::floor(v) && std::abs(v) < 9.0e18))
            refuse(key, text, "must be a list of integers like [1048576, 4194304]");
        out.push_back(static_cast<std::int64_t>(v));
    }
    return out;
}

std::string int_list_text(const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
}

LrSchedule parse_schedule(const std::string& key, const std::string& text) {
    if (text == "constant") return LrSchedule::constant;
    if (text == "cosine") return LrSchedule::cosine;
    if (text == "wsd") return LrSchedule::wsd;
    refuse(key, text, "must be constant, cosine or wsd");
}

enum class Kind { number, text, list };

struct Key {
    const char* name;
    const char* help;
    Kind kind;
    std::function<void(LmOptions&, const std::string& key, const std::string& text)> set;
    std::function<data::AttrValue(const LmOptions&)> get;
};

template <typename Field>
Key number_key(const char* name, const char* help, Field LmOptions::*field) {
    Key k{name, help, Kind::number, nullptr, nullptr};
    k.set = [field](LmOptions& o, const std::string& key, const std::string& t) {
        if constexpr (std::is_same_v<Field, double>)
            o.*field = parse_double(key, t);
        else
            o.*field = parse_int(key, t);
    };
    k.get = [field](const LmOptions& o) { return data::AttrValue(o.*field); };
    return k;
}

template <typename Field>
Key model_key(const char* name, const char* help, Field ModelConfig::*field) {
    Key k{name, help, Kind::number, nullptr, nullptr};
    k.set = [field](LmOptions& o, const std::string& key, const std::string& t) {
        if constexpr (std::is_same_v<Field, double>)
            o.model.*field = parse_double(key, t);
        else
            o.model.*field = parse_int(key, t);
    };
    k.get = [field](const LmOptions& o) { return data::AttrValue(o.model.*field); };
    return k;
}

Key text_key(const char* name, const char* help, std::string LmOptions::*field) {
    return Key{name, help, Kind::text,
               [field](LmOptions& o, const std::string&, const std::string& t) { o.*field = t; },
               [field](const LmOptions& o) { return data::AttrValue(o.*field); }};
}

const std::vector<Key>& keys() {
    static const std::vector<Key> table = [] {
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
        t.push_back(Key{"model.parameterization", "sp | mup (see gpu/model_config.hpp)", Kind::text,
                        [](LmOptions& o, const std::string& key, const std::string& text) {
                            o.model.parameterization = parse_parameterization(key, text);
                        },
                        [](const LmOptions& o) {
                            return data::AttrValue(
                                std::string(to_string(o.model.parameterization)));
                        }});
        t.push_back(model_key("model.mup_base_width",
                              "muP base d_model (width multiplier = d_model / this)",
                              &ModelConfig::mup_base_width));
        t.push_back(model_key("model.init_std", "base init standard deviation (> 0)",
                              &ModelConfig::init_std));
        t.push_back(
            model_key("model.rope_base", "RoPE frequency base (> 1)", &ModelConfig::rope_base));
        t.push_back(text_key("data.train", "training token shard (.bin, llm.c format)",
                             &LmOptions::train_path));
        t.push_back(text_key("data.val", "validation token shard (.bin, llm.c format)",
                             &LmOptions::val_path));
        t.push_back(number_key(
            "data.tokens",
            "token budget D, [0, 1e18]; > 0 sets steps = ceil(ceil(D / context) / batch)",
            &LmOptions::tokens));
        t.push_back(
            Key{"data.budgets",
                "token budgets served by one run, increasing (needs data.tokens = 0, "
                "schedule = constant, warmup.tokens or warmup.fraction = 0); the run "
                "goes to horizon * the largest; [] = off",
                Kind::list,
                [](LmOptions& o, const std::string& key, const std::string& text) {
                    o.budgets = parse_int_list(key, text);
                },
                [](const LmOptions& o) { return data::AttrValue(int_list_text(o.budgets)); }});
        t.push_back(number_key("data.horizon",
                               "with data.tokens: run horizon * budget steps, [1, 1000]",
                               &LmOptions::horizon));
        t.push_back(number_key("steps", "optimizer steps, [1, 1e9] (ignored when data.tokens > 0)",
                               &LmOptions::steps));
        t.push_back(number_key("batch", "global batch: sequences per optimizer step, [1, 1e9]",
                               &LmOptions::batch));
        t.push_back(number_key("micro_batch",
                               "sequences per forward/backward (0 = batch); must divide batch",
                               &LmOptions::micro_batch));
        t.push_back(number_key("lr", "peak learning rate (> 0)", &LmOptions::lr));
        t.push_back(number_key("adam.beta1", "Adam beta1 in [0, 1)", &LmOptions::beta1));
        t.push_back(number_key("adam.beta2", "Adam beta2 in [0, 1)", &LmOptions::beta2));
        t.push_back(number_key("adam.eps", "Adam epsilon (> 0)", &LmOptions::eps));
        t.push_back(number_key("weight_decay", "decoupled weight decay per unit LR (>= 0)",
                               &LmOptions::weight_decay));
        t.push_back(number_key("grad_clip", "global gradient-norm clipping threshold (0 = off)",
                               &LmOptions::grad_clip));
        t.push_back(Key{"schedule",
                        "constant | cosine | wsd, after a linear warmup from 10% of the peak",
                        Kind::text,
                        [](LmOptions& o, const std::string& key, const std::string& text) {
                            o.schedule = parse_schedule(key, text);
                        },
                        [](const LmOptions& o) {
                            return data::AttrValue(std::string(to_string(o.schedule)));
                        }});
        t.push_back(number_key("warmup.fraction",
                               "warmup length as a fraction of the budget steps, [0, 1)",
                               &LmOptions::warmup_fraction));
        t.push_back(number_key("warmup.tokens",
                               "warmup length in tokens (> 0 replaces warmup.fraction), below "
                               "the smallest budget",
                               &LmOptions::warmup_tokens));
        t.push_back(number_key("decay.fraction",
                               "wsd: decay phase, fraction of budget steps (0, 1]",
                               &LmOptions::decay_fraction));
        t.push_back(number_key("decay.final_fraction",
                               "cosine/wsd: final LR as a fraction of the peak, [0, 1]",
                               &LmOptions::final_lr_fraction));
        t.push_back(
            Key{"ewa.decays", "EWA decays tracked at once, each in [0, 1); risk_ewa = best of them",
                Kind::list,
                [](LmOptions& o, const std::string& key, const std::string& text) {
                    o.ewa_decays = parse_double_list(key, text);
                },
                [](const LmOptions& o) { return data::AttrValue(list_text(o.ewa_decays)); }});
        t.push_back(number_key("eval.every", "also evaluate every k steps (0 = off)",
                               &LmOptions::eval_every));
        t.push_back(number_key("eval.sequences",
                               "validation sequences per evaluation (0 = the whole val shard)",
                               &LmOptions::eval_sequences));
        t.push_back(number_key("eval.dense_fraction",
                               "final fraction of the run evaluated densely, [0, 1]",
                               &LmOptions::dense_fraction));
        t.push_back(number_key("eval.dense_points", "evaluations in that final part, [0, 1e6]",
                               &LmOptions::dense_points));
        t.push_back(number_key("eval.spacing",
                               "> 0: evaluations at most this relative step gap apart over each "
                               "budget's window [(1 - dense_fraction) S, horizon S], [0, 1]",
                               &LmOptions::eval_spacing));
        t.push_back(number_key("log.every", "tokens/s line on stderr every k steps (0 = end only)",
                               &LmOptions::log_every));
        t.push_back(number_key("seed", "seed of the initialisation and the data order (>= 0)",
                               &LmOptions::seed));
        t.push_back(text_key("backend",
                             "cpu (fast: oneDNN, bf16 where the CPU has it) | reference | cuda",
                             &LmOptions::backend));
        return t;
    }();
    return table;
}

std::string attr_text(const data::AttrValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v)) return double_text(*d);
    return std::get<std::string>(v);
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
    auto num = [](double v) { return fmt::format("{}", v); };
    if (train_path.empty()) refuse("data.train", "\"\"", "a training token shard is required");
    if (val_path.empty()) refuse("data.val", "\"\"", "a validation token shard is required");
    if (tokens < 0 || tokens > kMaxTokens)
        refuse("data.tokens", std::to_string(tokens), "must be in [0, 1e18]");
    if (!budgets.empty()) {
        const std::string text = int_list_text(budgets);
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
    if (!(eval_spacing >= 0 && eval_spacing <= 1))
        refuse("eval.spacing", num(eval_spacing), "must be in [0, 1] (0 = off)");
    if (!(horizon >= 1 && horizon <= 1000))
        refuse("data.horizon", num(horizon), "must be in [1, 1000]");
    if (run_tokens() == 0 && (steps < 1 || steps > kMaxSteps))
        refuse("steps", std::to_string(steps), "must be in [1, 1e9]");
    if (batch < 1 || batch > kMaxBatch)
        refuse("batch", std::to_string(batch), "must be in [1, 1e9]");
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
    if (warmup_tokens < 0 || warmup_tokens > kMaxTokens)
        refuse("warmup.tokens", std::to_string(warmup_tokens), "must be in [0, 1e18]");
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
    if (micro_batch < 0) refuse("micro_batch", std::to_string(micro_batch), "must be >= 0");
    if (batch % micro_batch_size() != 0)
        refuse("micro_batch", std::to_string(micro_batch),
               fmt::format("must divide `batch` = {}", batch));
    if (!(lr > 0)) refuse("lr", num(lr), "must be > 0");
    if (!(beta1 >= 0 && beta1 < 1)) refuse("adam.beta1", num(beta1), "must be in [0, 1)");
    if (!(beta2 >= 0 && beta2 < 1)) refuse("adam.beta2", num(beta2), "must be in [0, 1)");
    if (!(eps > 0)) refuse("adam.eps", num(eps), "must be > 0");
    if (!(weight_decay >= 0)) refuse("weight_decay", num(weight_decay), "must be >= 0");
    if (!(grad_clip >= 0)) refuse("grad_clip", num(grad_clip), "must be >= 0 (0 = off)");
    if (!(warmup_fraction >= 0 && warmup_fraction < 1))
        refuse("warmup.fraction", num(warmup_fraction), "must be in [0, 1)");
    if (!(decay_fraction > 0 && decay_fraction <= 1))
        refuse("decay.fraction", num(decay_fraction), "must be in (0, 1]");
    if (!(final_lr_fraction >= 0 && final_lr_fraction <= 1))
        refuse("decay.final_fraction", num(final_lr_fraction), "must be in [0, 1]");
    if (ewa_decays.empty()) refuse("ewa.decays", "[]", "must list at least one decay");
    for (double d : ewa_decays)
        if (!(d >= 0 && d < 1))
            refuse("ewa.decays", list_text(ewa_decays),
                   fmt::format("every decay must be in [0, 1) ({} is not)", d));
    if (eval_every < 0) refuse("eval.every", std::to_string(eval_every), "must be >= 0");
    if (eval_sequences < 0)
        refuse("eval.sequences", std::to_string(eval_sequences), "must be >= 0 (0 = all)");
    if (!(dense_fraction >= 0 && dense_fraction <= 1))
        refuse("eval.dense_fraction", num(dense_fraction), "must be in [0, 1]");
    if (dense_points < 0 || dense_points > 1'000'000)
        refuse("eval.dense_points", std::to_string(dense_points), "must be in [0, 1e6]");
    if (log_every < 0) refuse("log.every", std::to_string(log_every), "must be >= 0");
    if (seed < 0) refuse("seed", std::to_string(seed), "must be >= 0");
    if (backend != "cpu" && backend != "reference" && backend != "cuda")
        refuse("backend", backend, "must be cpu, reference or cuda");
}

std::vector<LmKeyInfo> lm_keys() {
    LmOptions defaults;
    std::vector<LmKeyInfo> out;
    for (const Key& k : keys())
        out.push_back({k.name, attr_text(k.get(defaults)), k.help});
    return out;
}

LmOptions resolve_lm_options(const std::vector<std::pair<std::string, std::string>>& entries) {
    LmOptions o;
    for (const auto& [key, value] : entries) {
        if (key == "simulator") {
            if (value != "lm") refuse(key, value, "must be lm for an LM training run");
            continue;
        }
        const Key* found = nullptr;
        for (const Key& k : keys())
            if (key == k.name) found = &k;
        if (found == nullptr)
            refuse(key, value, "unknown key; `cbs train-lm --help` lists the keys");
        found->set(o, key, value);
    }
    o.validate();
    return o;
}

std::string to_toml(const LmOptions& options) {
    std::string text;
    for (const Key& k : keys()) {
        const data::AttrValue v = k.get(options);
        text +=
            fmt::format("{} = {}\n", k.name,
                        k.kind == Kind::text ? data::quoted_string(attr_text(v)) : attr_text(v));
    }
    return text;
}

std::vector<std::pair<std::string, data::AttrValue>> to_attributes(const LmOptions& options) {
    std::vector<std::pair<std::string, data::AttrValue>> out;
    out.emplace_back("simulator", std::string("lm"));
    for (const Key& k : keys())
        out.emplace_back(k.name, k.get(options));
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
    std::string text = "LM configuration keys (TOML file and/or --set key=value; default in "
                       "brackets):\n";
    for (const LmKeyInfo& k : lm_keys())
        text += fmt::format("  {:<24} [{}]\n      {}\n", k.key, k.default_value, k.help);
    return text;
}

} // namespace cbs::lm
