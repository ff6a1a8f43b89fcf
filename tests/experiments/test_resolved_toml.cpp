// The resolved TOML written into every output file (strings by toml++'s serializer, through the
// key registry) reads back to the same options and the same text, for string values with
// quotes, backslashes, non-ASCII text, tabs and newlines; and run ids of plain values stay as
// they were before the registry.
#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "gpu/lm_options.hpp"

#include "tests/support/cli.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <toml++/toml.h>

namespace fs = std::filesystem;
using namespace cbs;

namespace {

const std::vector<std::string> kAwkward = {
    "plain.bin",
    "say \"hi\".bin",
    "back\\slash\\dir\\x.bin",
    "'single' and '''triple'''.bin",
    "tab\there.bin",
    "new\nline.bin",
    "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80.bin", // é, a check mark, an emoji
    "# not a comment = 1.bin",
    "\"\"\".bin",
};

std::vector<std::pair<std::string, std::string>> pairs(const exp::ConfigEntries& entries) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : entries)
        out.emplace_back(e.key, e.value);
    return out;
}

} // namespace

TEST_CASE("LM resolved TOML round-trips awkward strings", "[config]") {
    for (const std::string& name : kAwkward) {
        INFO(name);
        const lm::LmOptions o =
            lm::resolve_lm_options({{"data.train", name}, {"data.val", "v/" + name}});
        const std::string text = lm::to_toml(o);
        // toml++ reads it as the same strings ...
        const toml::table table = toml::parse(text);
        CHECK(table["data"]["train"].value<std::string>() == name);
        CHECK(table["data"]["val"].value<std::string>() == "v/" + name);
        // ... and the options, their TOML and their run id come back unchanged.
        const lm::LmOptions again = lm::resolve_lm_options(pairs(exp::parse_toml(text, "r")));
        CHECK(again.train_path == name);
        CHECK(again.val_path == "v/" + name);
        CHECK(lm::to_toml(again) == text);
        CHECK(lm::run_id(again) == lm::run_id(o));
    }
}

TEST_CASE("simulation resolved TOML round-trips an awkward spectrum.file path", "[config]") {
    const fs::path dir = test::scratch_dir("resolved_toml");
    for (const std::string& name : kAwkward) {
        INFO(name);
        const fs::path file = dir / name;
        std::ofstream(file) << "1.0 0.5\n0.5 0.25\n";
        const sim::SimOptions o = exp::resolve_sim_options({{"spectrum.file", file.string(), "t"}});
        const std::string text = exp::to_toml(o);
        const toml::table table = toml::parse(text);
        CHECK(table["spectrum"]["file"].value<std::string>() == file.string());
        const sim::SimOptions again = exp::resolve_sim_options(exp::parse_toml(text, "r"));
        CHECK(exp::to_toml(again) == text);
        CHECK(exp::run_id(again) == exp::run_id(o));
    }
}

TEST_CASE("resolved TOML and run ids of plain options are those of before the registry",
          "[config]") {
    // Texts and ids written by the hand-made writer before the key registry (commit 49438ca);
    // runs stored then must be found again (resume, merge) by the same ids.
    // `cbs train-lm --set data.train=a/train.bin --set data.val=a/val.bin --set lr=0.001 --set
    // steps=2` wrote this config and run id.
    const lm::LmOptions lm_options = lm::resolve_lm_options({{"data.train", "a/train.bin"},
                                                             {"data.val", "a/val.bin"},
                                                             {"lr", "0.001"},
                                                             {"steps", "2"}});
    CHECK(lm::to_toml(lm_options) == "model.d_model = 64\n"
                                     "model.layers = 2\n"
                                     "model.heads = 4\n"
                                     "model.context = 64\n"
                                     "model.vocab = 256\n"
                                     "model.parameterization = \"sp\"\n"
                                     "model.mup_base_width = 64\n"
                                     "model.init_std = 0.02\n"
                                     "model.rope_base = 10000.0\n"
                                     "data.train = \"a/train.bin\"\n"
                                     "data.val = \"a/val.bin\"\n"
                                     "data.tokens = 0\n"
                                     "data.budgets = []\n"
                                     "data.horizon = 1.0\n"
                                     "steps = 2\n"
                                     "batch = 16\n"
                                     "micro_batch = 0\n"
                                     "lr = 0.001\n"
                                     "adam.beta1 = 0.9\n"
                                     "adam.beta2 = 0.95\n"
                                     "adam.eps = 1e-08\n"
                                     "weight_decay = 0.0\n"
                                     "grad_clip = 1.0\n"
                                     "schedule = \"constant\"\n"
                                     "warmup.fraction = 0.1\n"
                                     "warmup.tokens = 0\n"
                                     "decay.fraction = 0.2\n"
                                     "decay.final_fraction = 0.0\n"
                                     "ewa.decays = [0.99, 0.999]\n"
                                     "eval.every = 0\n"
                                     "eval.sequences = 64\n"
                                     "eval.dense_fraction = 0.1\n"
                                     "eval.dense_points = 10\n"
                                     "eval.spacing = 0.0\n"
                                     "log.every = 0\n"
                                     "seed = 0\n"
                                     "backend = \"cpu\"\n");
    CHECK(lm::run_id(lm_options) == "rdd971e7f12b22bbf");
    // `cbs simulate --set lr=0.25 --set schedule=wsd` wrote this run id.
    CHECK(exp::run_id(exp::resolve_sim_options({{"lr", "0.25", "t"}, {"schedule", "wsd", "t"}})) ==
          "rbe4d53f489eb1e3b");
}
