#include "gpu/train_loop.hpp"

#include "gpu/backend.hpp"
#include "gpu/checkpoint.hpp"
#include "gpu/param_layout.hpp"
#include "gpu/schedules.hpp"
#include "gpu/token_data.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <sstream>

namespace cbs::lm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// First line where two resolved option texts differ, for the resume message.
std::string first_difference(const std::string& a, const std::string& b) {
    std::istringstream sa(a), sb(b);
    std::string la, lb;
    while (true) {
        const bool ga = static_cast<bool>(std::getline(sa, la));
        const bool gb = static_cast<bool>(std::getline(sb, lb));
        if (!ga && !gb) return "";
        if (!ga || !gb || la != lb)
            return fmt::format("checkpoint has `{}`, this run `{}`", ga ? la : "(nothing)",
                               gb ? lb : "(nothing)");
    }
}

std::vector<StateRef> state_refs(std::size_t decays) {
    std::vector<StateRef> refs{
        {StateKind::params, 0}, {StateKind::adam_m, 0}, {StateKind::adam_v, 0}};
    for (std::size_t k = 0; k < decays; ++k)
        refs.push_back({StateKind::ewa, static_cast<int>(k)});
    return refs;
}

} // namespace

LmRunResult train_lm(const LmOptions& o, const TrainControls& controls) {
    o.validate();
    if (controls.resume && controls.checkpoint_path.empty())
        throw UserError("--resume needs a checkpoint path");
    const ModelConfig& m = o.model;
    const TokenSequences train = load_sequences("data.train", o.train_path, m);
    const TokenSequences val = load_sequences("data.val", o.val_path, m);
    const std::int64_t val_count =
        o.eval_sequences > 0 ? std::min(o.eval_sequences, val.count()) : val.count();

    std::unique_ptr<LmBackend> backend = make_backend(o.backend, m, o.ewa_decays);
    const ParamLayout& layout = backend->layout();
    const std::size_t decays = o.ewa_decays.size();
    const std::string options_toml = to_toml(o);

    LmRunResult result;
    result.risk_ewa_by_decay.assign(decays, {});
    std::int64_t start = 0;
    double loss_sum = 0;
    std::int64_t loss_count = 0;
    if (controls.resume) {
        const LmCheckpoint c = read_checkpoint(controls.checkpoint_path);
        const std::string diff = first_difference(c.options_toml, options_toml);
        if (!diff.empty())
            throw UserError(fmt::format("checkpoint '{}' belongs to a run with other options: {}",
                                        controls.checkpoint_path, diff));
        const auto refs = state_refs(decays);
        if (c.buffers.size() != refs.size() || c.risk_ewa_by_decay.size() != decays)
            throw UserError(fmt::format("checkpoint '{}': wrong number of state buffers",
                                        controls.checkpoint_path));
        for (std::size_t i = 0; i < refs.size(); ++i) {
            if (static_cast<std::int64_t>(c.buffers[i].size()) != layout.total)
                throw UserError(fmt::format("checkpoint '{}': state buffer {} has {} values, the "
                                            "model needs {}",
                                            controls.checkpoint_path, i, c.buffers[i].size(),
                                            layout.total));
            backend->set_state(refs[i], c.buffers[i]);
        }
        start = c.step;
        loss_sum = c.train_loss_sum;
        loss_count = c.train_loss_count;
        result.curve.step = c.curve_step;
        result.curve.samples = c.curve_samples;
        result.curve.risk = c.risk;
        result.curve.risk_ewa = c.risk_ewa;
        result.train_loss = c.train_loss;
        result.risk_ewa_by_decay = c.risk_ewa_by_decay;
        if (c.diverged_step >= 0) {
            result.curve.diverged = true;
            result.curve.diverged_step = c.diverged_step;
        }
    } else {
        backend->set_state({StateKind::params, 0},
                           init_parameters(layout, static_cast<std::uint64_t>(o.seed)));
    }

    auto save = [&](std::int64_t step) {
        LmCheckpoint c;
        c.options_toml = options_toml;
        c.step = step;
        c.train_loss_sum = loss_sum;
        c.train_loss_count = loss_count;
        c.diverged_step = result.curve.diverged_step;
        c.curve_step = result.curve.step;
        c.curve_samples = result.curve.samples;
        c.risk = result.curve.risk;
        c.risk_ewa = result.curve.risk_ewa;
        c.train_loss = result.train_loss;
        c.risk_ewa_by_decay = result.risk_ewa_by_decay;
        for (const StateRef& r : state_refs(decays)) {
            std::vector<float> b(static_cast<std::size_t>(layout.total));
            backend->get_state(r, b);
            c.buffers.push_back(std::move(b));
        }
        write_checkpoint(controls.checkpoint_path, c);
    };

    const std::int64_t total = o.total_steps(), batch = o.batch, mb = o.micro_batch_size();
    const std::int64_t micro_steps = batch / mb, seq_len = m.context + 1;
    const std::vector<std::int64_t> evals = eval_steps(o);
    DataOrder order(train.count(), static_cast<std::uint64_t>(o.seed));
    std::vector<std::uint32_t> tokens(static_cast<std::size_t>(mb * seq_len));

    // Validation loss over the first val_count val sequences, in micro-batches (token-weighted).
    auto validate = [&](int ewa_index, std::int64_t updates) {
        double sum = 0;
        for (std::int64_t first = 0; first < val_count; first += mb) {
            const std::int64_t rows = std::min(mb, val_count - first);
            for (std::int64_t r = 0; r < rows; ++r)
                val.copy(first + r, tokens.data() + r * seq_len);
            sum += static_cast<double>(rows) *
                   backend->evaluate(
                       std::span(tokens.data(), static_cast<std::size_t>(rows * seq_len)), rows,
                       ewa_index, updates);
        }
        return sum / static_cast<double>(val_count);
    };

    const bool finished_before = result.curve.diverged || start >= total;
    double train_seconds = 0, eval_seconds = 0;
    std::int64_t tokens_trained = 0;
    std::int64_t step = start;
    auto log_line = [&](std::int64_t t, double loss, double lr) {
        if (controls.quiet) return;
        fmt::print(stderr, "train-lm: step {}/{} loss {:.4f} lr {:.3g} | {:.0f} tokens/s\n", t,
                   total, loss, lr,
                   static_cast<double>(tokens_trained) / std::max(train_seconds, 1e-9));
    };
    for (; !finished_before && step < total; ++step) {
        const auto t0 = Clock::now();
        backend->zero_grad();
        double loss = 0;
        for (std::int64_t micro = 0; micro < micro_steps; ++micro) {
            for (std::int64_t r = 0; r < mb; ++r) {
                const std::int64_t position = step * batch + micro * mb + r;
                train.copy(order.sequence(position), tokens.data() + r * seq_len);
            }
            loss += backend->forward_backward(tokens, mb, 1.0 / static_cast<double>(micro_steps));
        }
        loss /= static_cast<double>(micro_steps);
        const double norm = std::sqrt(backend->grad_norm_squared());
        OptimizerStep s;
        s.lr = learning_rate(o, step);
        s.beta1 = o.beta1;
        s.beta2 = o.beta2;
        s.eps = o.eps;
        s.weight_decay = o.weight_decay;
        s.grad_scale = o.grad_clip > 0 && norm > o.grad_clip ? o.grad_clip / norm : 1.0;
        s.step = step + 1;
        const bool bad = !std::isfinite(loss) || !std::isfinite(norm);
        if (!bad) backend->optimizer_step(s);
        train_seconds += seconds_since(t0);
        tokens_trained += batch * m.context;
        const std::int64_t t = step + 1;
        loss_sum += loss;
        ++loss_count;
        if (bad) {
            result.curve.diverged = true;
            result.curve.diverged_step = t;
            ++step;
            break;
        }
        if (std::binary_search(evals.begin(), evals.end(), t)) {
            const auto e0 = Clock::now();
            const double raw = validate(-1, t);
            double best = std::numeric_limits<double>::infinity();
            for (std::size_t k = 0; k < decays; ++k) {
                const double v = validate(static_cast<int>(k), t);
                result.risk_ewa_by_decay[k].push_back(v);
                best = std::isfinite(v) ? std::min(best, v) : best;
            }
            result.curve.step.push_back(t);
            result.curve.samples.push_back(t * batch * m.context);
            result.curve.risk.push_back(raw);
            result.curve.risk_ewa.push_back(best);
            result.train_loss.push_back(loss_sum / static_cast<double>(loss_count));
            loss_sum = 0;
            loss_count = 0;
            eval_seconds += seconds_since(e0);
            if (!std::isfinite(raw)) {
                result.curve.diverged = true;
                result.curve.diverged_step = t;
                ++step;
                break;
            }
        }
        if (o.log_every > 0 && t % o.log_every == 0) log_line(t, loss, s.lr);
        const int signal = controls.stop_flag != nullptr ? *controls.stop_flag : 0;
        if (signal != 0 && t < total) result.stopped_by = signal;
        const bool stop = (controls.stop_after > 0 && t >= controls.stop_after && t < total) ||
                          (signal != 0 && t < total);
        if (!controls.checkpoint_path.empty() &&
            ((controls.checkpoint_every > 0 && t % controls.checkpoint_every == 0) || stop ||
             t == total))
            save(t);
        if (stop) {
            ++step;
            break;
        }
    }
    if (result.curve.diverged && !controls.checkpoint_path.empty() && !finished_before) save(step);
    result.steps_done = step;
    result.finished = result.curve.diverged || step >= total;
    result.train_seconds = train_seconds;
    result.eval_seconds = eval_seconds;
    result.tokens_per_second =
        train_seconds > 0 ? static_cast<double>(tokens_trained) / train_seconds : 0.0;
    if (!controls.quiet && tokens_trained > 0)
        fmt::print(stderr,
                   "train-lm: {} steps on {} ({} params), {:.0f} tokens/s, train {:.2f} s, eval "
                   "{:.2f} s\n",
                   step - start, backend->name(), m.total_parameters(), result.tokens_per_second,
                   train_seconds, eval_seconds);
    if (controls.keep_final_params) {
        result.final_params.resize(static_cast<std::size_t>(layout.total));
        backend->get_state({StateKind::params, 0}, result.final_params);
    }
    return result;
}

data::RunRecord make_lm_run_record(const LmOptions& options, const LmRunResult& result) {
    data::RunRecord run;
    run.id = run_id(options);
    for (auto& [key, value] : to_attributes(options))
        run.attrs[key] = value;
    run.attrs["diverged"] = std::int64_t{result.curve.diverged ? 1 : 0};
    run.attrs["diverged_step"] = result.curve.diverged_step;
    run.attrs["tokens_per_second"] = result.tokens_per_second;
    run.step = result.curve.step;
    run.samples = result.curve.samples;
    run.risk = result.curve.risk;
    run.risk_ewa = result.curve.risk_ewa;
    run.extra_curves["train_loss"] = result.train_loss;
    for (std::size_t k = 0; k < result.risk_ewa_by_decay.size(); ++k)
        run.extra_curves[fmt::format("risk_ewa_{}", k)] = result.risk_ewa_by_decay[k];
    return run;
}

} // namespace cbs::lm
