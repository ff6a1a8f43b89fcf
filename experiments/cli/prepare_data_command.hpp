// `cbs prepare-data`: text files (plain UTF-8 or C4 *.json.gz lines) -> tokenizer -> llm.c-style
// train/val token shards, a tokenizer model and manifest.json (data/prepare_data.hpp).
#pragma once

#include "data/prepare_data.hpp"

#include <string>

namespace CLI {
class App;
}

namespace cbs::exp {

struct PrepareDataArgs {
    data::PrepareOptions options;
    std::string tokenizer = "sentencepiece"; ///< parsed into options.tokenizer
    bool quiet = false;                      ///< no progress lines on stderr
};

/// Registers the subcommand and its options on `app`; `args` receives the parsed values.
CLI::App* add_prepare_data_command(CLI::App& app, PrepareDataArgs& args);

/// Runs it: progress on stderr, a summary on stdout. Throws cbs::UserError on bad input, with
/// nothing left under --out-dir.
int run_prepare_data_command(const PrepareDataArgs& args);

} // namespace cbs::exp
