// `cbs prepare-data` end to end through the executable: a run on the committed sample, --help,
// and refusals with exit code 2, one error line and no output directory left behind.
#include "data/token_shard.hpp"
#include "tests/support/paths.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Result {
    int code;
    std::string out;
    std::string err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path scratch() {
    const fs::path dir =
        fs::temp_directory_path() / ("cbs_prepare_cli_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

Result run_cbs(const std::string& args) {
    const fs::path exe = fs::path(cbs::test::binary_dir()) / "cbs";
    REQUIRE(fs::exists(exe)); // built with the whole tree (`ninja`), not by test_data alone
    const fs::path dir = scratch();
    const std::string cmd = exe.string() + " " + args + " >" + (dir / "out.txt").string() + " 2>" +
                            (dir / "err.txt").string();
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"),
            slurp(dir / "err.txt")};
}

const std::string kSample = cbs::test::source_dir() + "/data/samples/moby-dick-head.txt";

} // namespace

TEST_CASE("cbs prepare-data writes shards, model and manifest from the sample", "[cli]") {
    const fs::path out = scratch() / "spm";
    fs::remove_all(out);
    const Result r = run_cbs("prepare-data " + kSample + " --vocab-size 400 --val-fraction 0.05 " +
                             "--threads 1 --out-dir " + out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("sentencepiece (vocabulary 400, trained here)") != std::string::npos);
    CHECK(r.err.find("prepare-data: training a SentencePiece BPE model") != std::string::npos);
    for (const char* f : {"train_000000.bin", "val_000000.bin", "tokenizer.model", "manifest.json"})
        CHECK(fs::exists(out / f));
    const auto info = cbs::data::inspect_token_shard(out / "train_000000.bin");
    CHECK(info.version == 1);
    CHECK(info.num_tokens > 50000);
    const std::string manifest = slurp(out / "manifest.json");
    CHECK(manifest.find("--vocab-size 400") != std::string::npos);
    CHECK(manifest.find("\"trained\": true") != std::string::npos);

    const Result quiet = run_cbs("prepare-data " + kSample + " --tokenizer byte --quiet " +
                                 "--out-dir " + (scratch() / "byte").string());
    CHECK(quiet.code == 0);
    CHECK(quiet.err.empty());
    fs::remove_all(out);
    fs::remove_all(scratch() / "byte");
}

TEST_CASE("cbs prepare-data refuses bad input with exit code 2 and leaves nothing", "[cli]") {
    const fs::path dir = scratch();
    const fs::path out = dir / "refused";
    fs::remove_all(out);
    std::ofstream(dir / "latin1.txt", std::ios::binary) << "caf\xE9\n";
    std::ofstream(dir / "foreign.model") << "not a model";
    const std::string o = " --out-dir " + out.string();
    for (const std::string& args :
         {"prepare-data " + kSample + " --tokenizer bpe" + o,
          "prepare-data " + kSample + " --tokenizer byte --vocab-size 1000" + o,
          "prepare-data " + kSample + " --val-fraction 0.1 --val-tokens 100" + o,
          "prepare-data " + kSample + " --val-fraction 0" + o,
          "prepare-data " + kSample + " --vocab-size 10" + o,
          "prepare-data " + kSample + " --model " + (dir / "foreign.model").string() + o,
          "prepare-data " + (dir / "missing.txt").string() + o,
          "prepare-data " + (dir / "latin1.txt").string() + " --tokenizer byte" + o,
          "prepare-data " + kSample + " --bogus" + o, "prepare-data " + kSample}) {
        INFO(args);
        const Result r = run_cbs(args);
        CHECK(r.code == 2);
        // Progress lines may come first; the error is one line, the last.
        REQUIRE_FALSE(r.err.empty());
        const std::size_t last = r.err.rfind('\n', r.err.size() - 2);
        const std::string last_line = r.err.substr(last == std::string::npos ? 0 : last + 1);
        CHECK(last_line.rfind("cbs: error: ", 0) == 0);
        CHECK(r.err.find("cbs: error: ") == r.err.rfind("cbs: error: "));
        CHECK(r.err.back() == '\n');
        CHECK_FALSE(fs::exists(out));
        CHECK_FALSE(fs::exists(out.string() + ".partial"));
    }
    const Result utf8 =
        run_cbs("prepare-data " + (dir / "latin1.txt").string() + " --tokenizer byte" + o);
    CHECK(utf8.err.find("latin1.txt:1: invalid UTF-8") != std::string::npos);
}

TEST_CASE("cbs prepare-data --help lists every option with its default", "[cli]") {
    const Result r = run_cbs("prepare-data --help");
    CHECK(r.code == 0);
    for (const char* s : {"--out-dir", "--tokenizer", "=sentencepiece", "--vocab-size", "=4096",
                          "--model", "--val-fraction", "=0.01", "--val-tokens", "--shard-tokens",
                          "=100000000", "--spm-sentences", "=1000000", "--seed", "--threads",
                          "--skip-invalid", "--quiet", "json", "manifest.json"})
        CHECK(r.out.find(s) != std::string::npos);
}
