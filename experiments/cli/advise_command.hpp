// `cbs advise --params N --tokens D [--context T] [--from STUDY.h5] [--json]`: the forecast
// critical batch size of a planned LM run, with a 95% interval, from the study's published law or
// a study file's fitted law (experiments/advise.hpp).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace cbs::exp {

struct AdviseArgs {
    // Numbers are taken as text and parsed here, so that a bad value is refused in one line that
    // names the flag, the value and the rule (exit 2).
    std::string params;  ///< non-embedding parameters N (required)
    std::string tokens;  ///< training tokens D (required)
    std::string context; ///< tokens per sequence (if context_given; else the law's: 512 for the
                         ///< published law, the study's with --from)
    bool context_given = false;
    std::string from; ///< study file whose /fits/lm law to use (if from_given; else the
                      ///< published law)
    bool from_given = false;
    bool json = false;
};

CLI::App* add_advise_command(CLI::App& app, AdviseArgs& args);
int run_advise_command(const AdviseArgs& args);

} // namespace cbs::exp
