#include "experiments/cli/train_lm_command.hpp"

#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/stop_signals.hpp"
#include "gpu/train_loop.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <fmt/format.h>

namespace cbs::exp {

CLI::App* add_train_lm_command(CLI::App& app, TrainLmArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "train-lm", "Train one decoder-only language model (backend = cpu: the fast CPU "
                    "backend; reference; cuda) on token shards and write its validation curves "
                    "(raw and EWA weights) to HDF5");
    cmd->add_option("config", args.config_path, "TOML file with LM configuration keys (optional)");
    cmd->add_option("--set", args.sets, "Override one key: --set key=value (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--out", args.out_path,
                    "Write the run to this HDF5 file (atomically; missing directories are created)")
        ->required();
    cmd->add_option("--checkpoint", args.checkpoint_path,
                    "Checkpoint file: written at the end, every --checkpoint-every steps and "
                    "on SIGINT/SIGTERM (then exit 2; rerun with --resume)");
    cmd->add_option("--checkpoint-every", args.checkpoint_every,
                    "Also checkpoint every k steps (0 = only at the end)")
        ->capture_default_str();
    cmd->add_flag("--resume", args.resume, "Continue the run stored in --checkpoint");
    // SIGINT/SIGTERM (Ctrl-C, a scheduler's stop) end the step in flight, write --checkpoint,
    // and exit with code 2 and a resume hint.
    cmd->add_flag("--quiet", args.quiet, "No progress lines on stderr");
    cmd->footer(lm::lm_keys_help());
    return cmd;
}

int run_train_lm_command(const TrainLmArgs& args) {
    ConfigEntries entries;
    if (!args.config_path.empty()) entries = load_toml_file(args.config_path);
    for (const std::string& s : args.sets)
        entries.push_back(parse_set_argument(s));
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const ConfigEntry& e : entries)
        pairs.emplace_back(e.key, e.value);
    const lm::LmOptions options = lm::resolve_lm_options(pairs);
    check_output_path(args.out_path);
    if (args.checkpoint_every < 0)
        throw UserError(fmt::format("--checkpoint-every {}: must be >= 0", args.checkpoint_every));
    if ((args.resume || args.checkpoint_every > 0) && args.checkpoint_path.empty())
        throw UserError("--resume and --checkpoint-every need --checkpoint PATH");
    make_output_directory(args.out_path);

    lm::TrainControls controls;
    controls.checkpoint_path = args.checkpoint_path;
    controls.checkpoint_every = args.checkpoint_every;
    controls.resume = args.resume;
    controls.quiet = args.quiet;
    controls.stop_flag = StopSignals::flag();
    const lm::ModelConfig& m = options.model;
    fmt::print("cbs train-lm: d_model={} layers={} heads={} context={} vocab={} {} | {} params "
               "({} non-embedding) | B={} (micro {}) lr={} schedule={} | {} steps on {}\n",
               m.d_model, m.layers, m.heads, m.context, m.vocab, lm::to_string(m.parameterization),
               m.total_parameters(), m.non_embedding_parameters(), options.batch,
               options.micro_batch_size(), options.lr, lm::to_string(options.schedule),
               options.total_steps(), options.backend);
    lm::LmRunResult result;
    {
        // SIGINT/SIGTERM: finish the step in flight, checkpoint, stop (exit 2, below).
        const StopSignals signals;
        result = lm::train_lm(options, controls);
    }
    if (result.stopped_by != 0) {
        if (args.checkpoint_path.empty())
            throw UserError(fmt::format(
                "interrupted by {} at step {} of {}; nothing was written (run with --checkpoint "
                "PATH to make a run resumable)",
                StopSignals::name(result.stopped_by), result.steps_done, options.total_steps()));
        throw UserError(fmt::format("interrupted by {} at step {} of {}; checkpoint '{}' holds "
                                    "it: rerun the same command with --resume to continue",
                                    StopSignals::name(result.stopped_by), result.steps_done,
                                    options.total_steps(), args.checkpoint_path));
    }

    fmt::print("{:>10} {:>14} {:>12} {:>12} {:>12}\n", "step", "tokens", "train loss", "val loss",
               "val (EWA)");
    const std::size_t n = result.curve.step.size();
    for (std::size_t i = 0; i < n; ++i) {
        // Every power of two, and the last few records.
        const std::int64_t s = result.curve.step[i];
        if ((s & (s - 1)) != 0 && i + 3 < n) continue;
        fmt::print("{:>10} {:>14} {:>12.4f} {:>12.4f} {:>12.4f}\n", s, result.curve.samples[i],
                   result.train_loss[i], result.curve.risk[i], result.curve.risk_ewa[i]);
    }
    if (result.curve.diverged)
        fmt::print("DIVERGED at step {} (non-finite loss or gradient)\n",
                   result.curve.diverged_step);
    fmt::print("{:.0f} tokens/s ({} backend)\n", result.tokens_per_second, options.backend);

    data::Study study;
    study.meta = make_study_meta(lm::to_toml(options));
    study.runs.push_back(lm::make_lm_run_record(options, result));
    data::write_study(args.out_path, study);
    fmt::print("wrote {} (run {})\n", args.out_path, study.runs.front().id);
    return 0;
}

} // namespace cbs::exp
