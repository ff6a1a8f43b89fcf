#include "experiments/cli/advise_command.hpp"

#include "experiments/advise.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace cbs::exp {

namespace {

/// The whole of `text` as a finite number > 0, else cbs::UserError naming the flag and value.
double positive_number(const std::string& flag, const std::string& text, const char* what) {
    const char* begin = text.c_str();
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (text.empty() || end == begin || *end != '\0' || !std::isfinite(v) || !(v > 0))
        throw UserError(fmt::format("{} '{}': must be a finite number > 0 ({})", flag, text, what));
    return v;
}

} // namespace

CLI::App* add_advise_command(CLI::App& app, AdviseArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "advise",
        "Forecast critical batch size of a planned LM run (N non-embedding parameters, D tokens), "
        "in sequences and tokens with a 95% interval, from the study's published law (Zhang et "
        "al. 2025, refitted on data/reference/) or from a study file's fitted law (--from); says "
        "the range of N and D the law was measured on and warns when the request extrapolates");
    cmd->add_option("--params", args.params,
                    "non-embedding parameters N of the planned model, e.g. 1.2e9")
        ->type_name("N")
        ->required();
    cmd->add_option("--tokens", args.tokens, "training tokens D of the planned run, e.g. 24.6e9")
        ->type_name("D")
        ->required();
    cmd->add_option("--context", args.context,
                    "tokens per sequence: the batch is counted in sequences of this length "
                    "(default: the law's: 512 for the published law, the study's model.context "
                    "with --from)")
        ->type_name("T")
        ->each([&args](const std::string&) { args.context_given = true; });
    cmd->add_option("--from", args.from,
                    "an LM study file (cbs run): use its fitted law (/fits/lm) instead of the "
                    "published one (default: the published law)")
        ->type_name("STUDY.h5")
        ->each([&args](const std::string&) { args.from_given = true; });
    cmd->add_flag("--json", args.json, "print the forecast as JSON (docs/json.md)");
    return cmd;
}

int run_advise_command(const AdviseArgs& args) {
    const double params = positive_number("--params", args.params, "non-embedding parameters");
    const double tokens = positive_number("--tokens", args.tokens, "training tokens");
    const double context = args.context_given
                               ? positive_number("--context", args.context, "tokens per sequence")
                               : 0.0;
    CbsLaw law;
    if (!args.from_given) {
        law = published_law();
    } else {
        try {
            law = study_law(args.from, params, tokens);
        } catch (const UserError& e) {
            throw UserError(fmt::format("--from: {}", e.what())); // the message names the file
        }
    }
    const Advice advice = advise(law, params, tokens, context);
    fmt::print("{}", args.json ? advice_json(law, advice) : advice_text(law, advice));
    return 0;
}

} // namespace cbs::exp
