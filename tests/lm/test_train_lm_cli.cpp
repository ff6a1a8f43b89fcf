// `cbs train-lm` end to end: a run writes the shared schema; bad input exits 2 with one line and
// no output file.
#include "data/study_file.hpp"
#include "lm_test_util.hpp"
#include "tests/support/paths.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <sys/wait.h>

using namespace lmtest;

namespace {
struct Result {
    int code;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Result run_cbs(const std::string& args) {
    const fs::path dir = scratch_dir("cli");
    const std::string cmd = cbs::test::binary_dir() + "/cbs " + args + " >" +
                            (dir / "out.txt").string() + " 2>" + (dir / "err.txt").string();
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"),
            slurp(dir / "err.txt")};
}
} // namespace

TEST_CASE("cbs train-lm writes the shared curve schema and refuses bad input", "[lm][cli]") {
    const fs::path dir = scratch_dir("cli_run");
    write_split(dir, synthetic_tokens(8000, 64, 4), 64);
    const fs::path config = dir / "lm.toml";
    std::ofstream(config) << "data.train = \"" << (dir / "train.bin").string() << "\"\n"
                          << "data.val = \"" << (dir / "val.bin").string() << "\"\n"
                          << "steps = 8\nbatch = 4\n[model]\nd_model = 16\nheads = 2\n"
                          << "context = 8\nvocab = 64\nlayers = 1\n";
    const fs::path out = dir / "run.h5";
    const Result ok = run_cbs("train-lm " + config.string() + " --set micro_batch=2 --out " +
                              out.string() + " --quiet");
    INFO(ok.out << ok.err);
    REQUIRE(ok.code == 0);
    const cbs::data::Study study = cbs::data::read_study(out.string());
    REQUIRE(study.runs.size() == 1u);
    const cbs::data::RunRecord& run = study.runs.front();
    CHECK(run.step.back() == 8);
    CHECK(run.samples.back() == 8 * 4 * 8); // tokens seen
    CHECK(run.risk.size() == run.step.size());
    CHECK(run.risk_ewa.size() == run.step.size());
    CHECK(run.extra_curves.at("train_loss").size() == run.step.size());
    CHECK(std::get<std::string>(run.attrs.at("simulator")) == "lm");
    CHECK(study.meta.config.find("micro_batch = 2") != std::string::npos);

    const fs::path bad_out = dir / "bad.h5";
    for (const char* bad : {"--set micro_batch=3", "--set no.such=1", "--set model.vocab=32",
                            "--set adam.beta2=1", "--set data.val=/nonexistent.bin"}) {
        INFO(bad);
        const Result r =
            run_cbs("train-lm " + config.string() + " " + bad + " --out " + bad_out.string());
        CHECK(r.code == 2);
        CHECK(r.err.rfind("cbs: error: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(fs::exists(bad_out));
        CHECK_FALSE(fs::exists(bad_out.string() + ".partial"));
    }
}
