#include "experiments/cli/prepare_data_command.hpp"

#include "experiments/run_output.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace cbs::exp {

CLI::App* add_prepare_data_command(CLI::App& app, PrepareDataArgs& args) {
    data::PrepareOptions& o = args.options;
    CLI::App* cmd = app.add_subcommand(
        "prepare-data",
        "Tokenize text into llm.c-compatible train/val token shards (256-int32 header, magic "
        "20240520; version 1 = uint16 tokens, version 2 = uint32 for vocabularies over 65536)");
    cmd->add_option("inputs", o.inputs,
                    "Input files, directories (all files below them) or quoted glob patterns. "
                    "*.json, *.jsonl (optionally .gz) are read as JSON lines with a \"text\" field "
                    "(C4); anything else as UTF-8 text (gzip is decompressed whatever the name)")
        ->required();
    cmd->add_option("--out-dir", o.out_dir,
                    "Output directory; must not exist or be empty. Written as <DIR>.partial and "
                    "renamed at the end, so a failed run leaves nothing (a stale <DIR>.partial is "
                    "replaced)")
        ->required();
    cmd->add_option("--tokenizer", args.tokenizer, "byte (vocabulary 256) or sentencepiece")
        ->check(CLI::IsMember({"byte", "sentencepiece"}))
        ->capture_default_str();
    cmd->add_option("--vocab-size", o.vocab_size,
                    "Vocabulary of the SentencePiece BPE model trained on the inputs "
                    "(not with --model or --tokenizer byte)")
        ->each([&args](const std::string&) { args.options.vocab_size_set = true; })
        ->capture_default_str();
    cmd->add_option("--model", o.model,
                    "Load this SentencePiece .model instead of training one (copied to "
                    "tokenizer.model in the output)");
    cmd->add_option("--val-fraction", o.val_fraction,
                    "Share of tokens for the val split, in (0, 0.5]: ~8 KiB segments of text "
                    "(or JSON records) interleaved through the input")
        ->each([&args](const std::string&) { args.options.val_fraction_set = true; })
        ->capture_default_str();
    cmd->add_option("--val-tokens", o.val_tokens,
                    "Instead of --val-fraction: the first segments of the input, at least this "
                    "many tokens, are the val split")
        ->capture_default_str();
    cmd->add_option("--shard-tokens", o.shard_tokens, "Tokens per shard file")
        ->capture_default_str();
    cmd->add_option("--spm-sentences", o.spm_sentences,
                    "SentencePiece training: lines sampled uniformly from the inputs (long lines "
                    "cut at spaces into pieces of at most 4096 bytes)")
        ->capture_default_str();
    cmd->add_option("--seed", o.seed, "Seed of that sample")->capture_default_str();
    cmd->add_option("--threads", o.threads, "SentencePiece training threads (0 = all cores)")
        ->capture_default_str();
    cmd->add_flag("--skip-invalid", o.skip_invalid,
                  "Drop lines with invalid UTF-8 and malformed JSON records (counted in "
                  "manifest.json) instead of failing with FILE:LINE");
    cmd->add_flag("--quiet", args.quiet, "No progress lines on stderr");
    cmd->footer(
        "Output: train_NNNNNN.bin, val_NNNNNN.bin, tokenizer.model (sentencepiece), "
        "manifest.json.\nEach document (a text file, a JSON record) starts with the "
        "tokenizer's document token (SentencePiece <s>, id 1); the byte tokenizer has none and "
        "gets the bytes \"\\n\\n\" instead.\nTrained SentencePiece models: BPE, byte fallback, "
        "identity normalization, whitespace kept, \"\\n\" a piece of its own (id 3), so decoding "
        "gives back the exact text.");
    return cmd;
}

int run_prepare_data_command(const PrepareDataArgs& args) {
    data::PrepareOptions o = args.options;
    o.tokenizer = data::parse_tokenizer_kind(args.tokenizer);
    o.cbs_version = cbs_version() + " (" + cbs_git_sha() + ")";
    if (o.command_line.empty()) { // the resolved options, so the manifest reproduces the run
        std::string& c = o.command_line;
        c = "cbs prepare-data";
        for (const auto& in : o.inputs)
            c += " " + in;
        c += " --out-dir " + o.out_dir + " --tokenizer " + args.tokenizer;
        if (!o.model.empty())
            c += " --model " + o.model;
        else if (o.tokenizer == data::TokenizerKind::sentencepiece)
            c += fmt::format(" --vocab-size {} --spm-sentences {} --seed {}", o.vocab_size,
                             o.spm_sentences, o.seed);
        c += o.val_tokens > 0 ? fmt::format(" --val-tokens {}", o.val_tokens)
                              : fmt::format(" --val-fraction {}", o.val_fraction);
        c += fmt::format(" --shard-tokens {}", o.shard_tokens);
        if (o.skip_invalid) c += " --skip-invalid";
    }
    std::function<void(const std::string&)> log;
    if (!args.quiet) log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
    const data::PrepareSummary s = data::prepare_data(o, log);

    std::int64_t bytes = 0, documents = 0, skipped = 0;
    for (const auto& in : s.inputs) {
        bytes += in.bytes;
        documents += in.documents;
        skipped += in.skipped;
    }
    const std::int64_t tokens = s.train.tokens + s.val.tokens;
    fmt::print("out dir       {}\n", s.out_dir.string());
    fmt::print("tokenizer     {} (vocabulary {}{})\n", s.tokenizer, s.vocab_size,
               s.tokenizer == "sentencepiece" ? (s.trained ? ", trained here" : ", loaded") : "");
    fmt::print("inputs        {} file(s), {} bytes, {} document(s){}\n", s.inputs.size(), bytes,
               documents, skipped ? fmt::format(", {} invalid line(s) skipped", skipped) : "");
    fmt::print("tokens        {} ({:.3f} bytes of text per token)\n", tokens,
               tokens ? static_cast<double>(s.text_bytes) / static_cast<double>(tokens) : 0.0);
    fmt::print("train         {} tokens in {} shard(s)\n", s.train.tokens, s.train.shards.size());
    fmt::print("val           {} tokens in {} shard(s) ({:.4f} of all)\n", s.val.tokens,
               s.val.shards.size(),
               tokens ? static_cast<double>(s.val.tokens) / static_cast<double>(tokens) : 0.0);
    return 0;
}

} // namespace cbs::exp
