// Configuration keys: parsing, validation messages, round trip of the resolved TOML.
#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>

using namespace cbs::exp;

namespace {
cbs::sim::SimOptions resolve_set(const std::string& argument) {
    return resolve_sim_options({parse_set_argument(argument)});
}

/// The one-line message of the UserError `argument` provokes ("" if none).
std::string refusal(const std::string& argument) {
    try {
        resolve_set(argument);
    } catch (const cbs::UserError& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("each rule is refused with a message naming key, value and rule", "[config]") {
    struct Case {
        const char* argument;
        const char* expected;
    };
    const Case cases[] = {
        {"spectrum.a=1", "`spectrum.a` = 1: must be a finite number > 1"},
        {"spectrum.a=0.5", "`spectrum.a` = 0.5: must be a finite number > 1"},
        {"spectrum.b=1.0", "`spectrum.b` = 1: must be a finite number > 1"},
        {"noise.sigma2=-0.1", "`noise.sigma2` = -0.1: must be a finite number >= 0"},
        {"ewa.decay=1", "`ewa.decay` = 1: must be in [0, 1)"},
        {"ewa.decay=-0.5", "`ewa.decay` = -0.5: must be in [0, 1)"},
        {"ewa.decay=1.2", "`ewa.decay` = 1.2: must be in [0, 1)"},
        {"batch=0", "`batch` = 0: must be an integer in [1, 1e12]"},
        {"batch=2.5", "`batch` = 2.5: must be an integer"},
        {"lr=0", "`lr` = 0: must be a finite number > 0"},
        {"lr=abc", "`lr` = abc: must be a finite number"},
        {"momentum=1", "`momentum` = 1: must be in [0, 1)"},
        {"precond.power=1", "`precond.power` = 1: must be in [0, 1)"},
        {"precond.power=0.9", "`precond.power` = 0.9: must be < 1 - 1/(2a) when model.size = inf"},
        {"model.size=0", "`model.size` = 0: must be an integer >= 1 or inf"},
        {"steps=0", "`steps` = 0: must be an integer >= 1"},
        {"schedule=linear", "`schedule` = linear: must be one of constant, cosine, wsd"},
        {"simulator=exact", "`simulator` = exact: must be one of recursion, montecarlo"},
        {"record=1", "`record` = 1: must be all, log or an integer in [2, 1e6]"},
        {"record=1000000000000",
         "`record` = 1000000000000: must be all, log or an integer in [2, 1e6]"},
        {"warmup.fraction=1", "`warmup.fraction` = 1: must be in [0, 1)"},
        {"montecarlo.seeds=1", "`montecarlo.seeds` = 1: must be an integer >= 2"},
        {"quadrature.tol=0.5", "`quadrature.tol` = 0.5: must be in [1e-12, 1e-2]"},
        {"spectrum.c=2", "`spectrum.c` = 2: unknown key"},
        {"average=mean", "`average` = mean: must be one of ewa, uniform, tail"},
        {"tail.fraction=0", "`tail.fraction` = 0: must be in (0, 1]"},
        {"tail.fraction=1.5", "`tail.fraction` = 1.5: must be in (0, 1]"},
    };
    for (const Case& c : cases) {
        INFO(c.argument);
        const std::string message = refusal(c.argument);
        CHECK(message.rfind(c.expected, 0) == 0); // starts with the expected text
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("montecarlo needs a finite model size", "[config]") {
    const ConfigEntries entries{parse_set_argument("simulator=montecarlo")};
    CHECK_THROWS_WITH(resolve_sim_options(entries),
                      Catch::StartsWith("`model.size` = inf: must be an integer <= 100000"));
    const ConfigEntries ok{parse_set_argument("simulator=montecarlo"),
                           parse_set_argument("model.size=200")};
    CHECK(resolve_sim_options(ok).model_size == 200.0);
}

TEST_CASE("set arguments (key=value) are parsed strictly", "[config]") {
    CHECK(parse_set_argument("lr=0.1").value == "0.1");
    CHECK(parse_set_argument(" lr = 0.1 ").key == "lr");
    CHECK(parse_set_argument("schedule=\"cosine\"").value == "cosine");
    CHECK_THROWS_AS(parse_set_argument("lr"), cbs::UserError);
    CHECK_THROWS_AS(parse_set_argument("=0.1"), cbs::UserError);
    CHECK_THROWS_AS(parse_set_argument("lr="), cbs::UserError);
    // Values must be TOML text: they are written into every output file's resolved config,
    // which must parse again (fuzz regressions: tests/fuzz/regressions/fuzz_set_argument/).
    CHECK(refusal(std::string("spectrum.file=a\x01"
                              "b")) ==
          "--set spectrum.file=...: control character 0x01 at byte 15 of the argument; values "
          "must be UTF-8 text without control characters");
    CHECK(refusal(std::string("spectrum.file=a\xff")) ==
          "--set spectrum.file=...: invalid UTF-8 at byte 15 of the argument; values must be "
          "UTF-8 text without control characters");
    CHECK(refusal(std::string("l\x7fr=1")) ==
          "--set: control character 0x7f at byte 1 of the key; keys and values must be UTF-8 "
          "text without control characters");
    CHECK(parse_set_argument("spectrum.file=caf\xc3\xa9\tx.txt").value == "caf\xc3\xa9\tx.txt");
}

TEST_CASE("TOML tables and dotted keys map onto the same options, later entries win", "[config]") {
    const auto entries = parse_toml("lr = 0.2\nbatch = 32\nschedule = \"wsd\"\n"
                                    "[spectrum]\na = 1.5\nb = 2.5\n[model]\nsize = 400\n",
                                    "test.toml");
    ConfigEntries all = entries;
    all.push_back(parse_set_argument("batch=64"));
    const auto o = resolve_sim_options(all);
    CHECK(o.lr == 0.2);
    CHECK(o.batch == 64);
    CHECK(o.a == 1.5);
    CHECK(o.b == 2.5);
    CHECK(o.model_size == 400.0);
    CHECK(o.schedule == cbs::sim::Schedule::wsd);
    CHECK(resolve_set("model.size=inf").model_size == INFINITY);
    CHECK(resolve_set("batch=1e3").batch == 1000);
    CHECK(resolve_set("record=all").record_mode == cbs::sim::RecordMode::all);
    CHECK(resolve_set("record=17").record_points == 17);
}

TEST_CASE("TOML syntax errors and unknown keys in files name the source", "[config]") {
    CHECK_THROWS_WITH(parse_toml("lr = = 2\n", "bad.toml"), Catch::StartsWith("bad.toml:1:"));
    CHECK_THROWS_WITH(resolve_sim_options(parse_toml("[spectrum]\nalpha = 2\n", "x.toml")),
                      Catch::Contains("`spectrum.alpha` = 2: unknown key (from x.toml:2)"));
    CHECK_THROWS_WITH(load_toml_file("/nonexistent/dir/c.toml"),
                      Catch::Contains("'/nonexistent/dir/c.toml'"));
}

TEST_CASE("the resolved TOML reproduces the options exactly", "[config]") {
    ConfigEntries entries{parse_set_argument("lr=0.123456789012345"),
                          parse_set_argument("model.size=777"),
                          parse_set_argument("schedule=cosine"), parse_set_argument("record=33"),
                          parse_set_argument("spectrum.a=2")};
    const auto o = resolve_sim_options(entries);
    const std::string text = to_toml(o);
    const auto again = resolve_sim_options(parse_toml(text, "resolved"));
    CHECK(to_toml(again) == text);
    CHECK(again.lr == o.lr);
    CHECK(again.model_size == 777.0);
    CHECK(again.record_points == 33);
    CHECK(text.find("spectrum.a = 2.0\n") != std::string::npos);
    // infinite model size survives as a TOML float
    const auto inf_text = to_toml(resolve_sim_options({}));
    CHECK(inf_text.find("model.size = inf\n") != std::string::npos);
    CHECK(std::isinf(resolve_sim_options(parse_toml(inf_text, "r")).model_size));
}

TEST_CASE("help lists every key with its default", "[config]") {
    const std::string help = keys_help();
    for (const KeyInfo& k : simulation_keys()) {
        INFO(k.key);
        CHECK(help.find(k.key) != std::string::npos);
        CHECK(help.find("[" + k.default_value + "]") != std::string::npos);
    }
    CHECK(simulation_keys().size() >= 20);
}

TEST_CASE("widenet keys are refused with key, value and rule, and only apply to widenet",
          "[config][widenet]") {
    const auto refused = [](std::vector<std::string> arguments) {
        ConfigEntries entries;
        for (const std::string& a : arguments)
            entries.push_back(parse_set_argument(a));
        try {
            resolve_sim_options(entries);
        } catch (const cbs::UserError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(refused({"net.width=64"}) ==
          "`net.width` = 64: applies only to simulator = widenet (simulator = recursion)");
    CHECK(refused({"simulator=widenet", "net.width=1"}) ==
          "`net.width` = 1: must be an integer in [2, 16384]");
    CHECK(refused({"simulator=widenet", "net.depth=4"}) ==
          "`net.depth` = 4: must be 1, 2 or 3 hidden layers");
    CHECK(refused({"simulator=widenet", "net.param=xyz"}) ==
          "`net.param` = xyz: must be one of sp, mup, ntk");
    CHECK(refused({"simulator=widenet", "model.size=10"}) ==
          "`model.size` = 10: does not apply to simulator = widenet (the model size is net.width)");
    CHECK(refused({"simulator=widenet", "optimizer=adam", "momentum=0.9"}) ==
          "`momentum` = 0.9: must be 0 with optimizer = adam (its first moment is adam.beta1)");
    CHECK(refused({"simulator=widenet", "adam.beta2=1"}) == "`adam.beta2` = 1: must be in [0, 1)");
    CHECK(refused({"simulator=lm"})
              .rfind("`simulator` = lm: language models run in `cbs sweep`", 0) == 0);
    // Valid widenet options resolve, and the net block is what was asked for.
    ConfigEntries ok{parse_set_argument("simulator=widenet"), parse_set_argument("net.width=128"),
                     parse_set_argument("net.param=sp"), parse_set_argument("optimizer=adam")};
    const cbs::sim::SimOptions o = resolve_sim_options(ok);
    CHECK(o.net.width == 128);
    CHECK(o.net.param == cbs::sim::Parameterization::sp);
    CHECK(o.net.optimizer == cbs::sim::Optimizer::adam);
}

TEST_CASE("average keys: in the attributes always, in the TOML and run id only when not ewa",
          "[config][average]") {
    // r230aedffa579d80a is the id the build before `average` existed (commit e655933) gave this
    // EWA run: the ids of stored EWA runs, and so every resumable study file, stay valid.
    const auto ewa =
        resolve_sim_options({parse_set_argument("steps=10"), parse_set_argument("model.size=20")});
    CHECK(run_id(ewa) == "r230aedffa579d80a");
    CHECK(to_toml(ewa).find("average") == std::string::npos);
    bool has_average = false, has_fraction = false;
    for (const auto& [key, value] : to_attributes(ewa)) {
        if (key == "average") has_average = std::get<std::string>(value) == "ewa";
        if (key == "tail.fraction") has_fraction = true;
    }
    CHECK(has_average);
    CHECK_FALSE(has_fraction);

    auto uniform = ewa;
    uniform.average = cbs::sim::Average::uniform;
    auto tail = ewa;
    tail.average = cbs::sim::Average::tail;
    auto tail_quarter = tail;
    tail_quarter.tail_fraction = 0.25;
    const std::string text = to_toml(tail_quarter);
    CHECK(text.find("average = \"tail\"") != std::string::npos);
    CHECK(text.find("tail.fraction = 0.25") != std::string::npos);
    CHECK(to_toml(uniform).find("tail.fraction") == std::string::npos);
    const std::set<std::string> ids{run_id(ewa), run_id(uniform), run_id(tail),
                                    run_id(tail_quarter)};
    CHECK(ids.size() == 4);
    // The TOML reads back to the same options.
    const auto again = resolve_sim_options(parse_toml(text, "test"));
    CHECK(again.average == cbs::sim::Average::tail);
    CHECK(again.tail_fraction == 0.25);
}
