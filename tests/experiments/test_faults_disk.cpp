// Disk faults (issue 8) for every command that writes: an output directory that cannot be written
// (a read-only file system, a file where a directory is expected) and a full disk (a per-process
// file-size limit, RLIMIT_FSIZE with SIGXFSZ ignored, so writes fail with EFBIG like ENOSPC; and a
// real 256 KiB tmpfs when this process may mount one). Each gives exit code 2, one line
// "cbs: error: ...", and leaves no partial file; a previous complete output stays intact.
#include "data/study_file.hpp"
#include "data/token_shard.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/paths.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace fs = std::filesystem;
using cbs::test::CliResult;

namespace {

fs::path dir() {
    return cbs::test::scratch_dir("faults_disk");
}

/// Runs cbs under a file-size limit of `blocks` * 512 bytes (dash's `ulimit -f` unit), with
/// SIGXFSZ ignored (inherited through exec) so an oversized write fails with EFBIG instead of
/// killing the process.
CliResult run_cbs_limited(const std::string& args, int blocks) {
    const fs::path d = dir();
    const std::string out = (d / "lim.out").string(), err = (d / "lim.err").string();
    const std::string cmd = "trap '' XFSZ; ulimit -f " + std::to_string(blocks) + "; exec " +
                            cbs::test::binary_dir() + "/cbs " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, cbs::test::slurp(out),
            cbs::test::slurp(err)};
}

/// Exit 2 and exactly one line on stderr, starting "cbs: error: " and containing `part`.
void require_one_line_error(const CliResult& r, const std::string& part) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    const std::size_t at = r.err.find("cbs: error: ");
    REQUIRE(at != std::string::npos);
    const std::string line = r.err.substr(at);
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    CHECK(line.find(part) != std::string::npos);
}

/// No "*.partial*" file or directory anywhere under `root` (recursively).
void require_no_partial(const fs::path& root) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
        INFO(it->path());
        CHECK(it->path().filename().string().find(".partial") == std::string::npos);
    }
}

/// Contents of every regular file under `root`, keyed by relative path.
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> files;
    if (fs::is_regular_file(root)) {
        files[root.filename().string()] = cbs::test::slurp(root);
        return files;
    }
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
            files[fs::relative(e.path(), root).string()] = cbs::test::slurp(e.path());
    return files;
}

/// A study file `cbs report` can read, and LM shards plus a tiny config for train-lm.
struct Inputs {
    fs::path study, lm_config;
};

const Inputs& inputs() {
    static const Inputs in = [] {
        Inputs x;
        x.study = dir() / "input_study.h5";
        const CliResult r = cbs::test::run_cbs("sweep --set batch=[1,4] --set steps=200 "
                                               "--set data.samples=400 --quiet --out " +
                                               x.study.string());
        REQUIRE(r.code == 0);
        std::vector<std::uint32_t> tokens(6000);
        for (std::size_t i = 0; i < tokens.size(); ++i)
            tokens[i] = static_cast<std::uint32_t>((i * 7 + i / 3) % 64);
        cbs::data::write_token_shard(dir() / "train.bin", std::span(tokens.data(), 5000), 64);
        cbs::data::write_token_shard(dir() / "val.bin", std::span(tokens.data() + 5000, 1000), 64);
        x.lm_config = dir() / "lm.toml";
        std::ofstream(x.lm_config)
            << "data.train = \"" << (dir() / "train.bin").string() << "\"\ndata.val = \""
            << (dir() / "val.bin").string() << "\"\nsteps = 6\nbatch = 4\n[model]\nd_model = 16\n"
            << "heads = 2\ncontext = 8\nvocab = 64\nlayers = 1\n";
        return x;
    }();
    return in;
}

const std::string kSample = cbs::test::source_dir() + "/data/samples/moby-dick-head.txt";

/// A writing command: its arguments with OUT standing for the output path.
struct Command {
    std::string name;
    std::string args; ///< with "OUT"
    bool dir_output = false;
};

std::vector<Command> commands() {
    const Inputs& in = inputs();
    const std::string study_toml = (dir() / "small_study.toml").string();
    std::ofstream(study_toml) << "spectrum.a = 2.0\nspectrum.b = 4.0\nquadrature.tol = 1e-3\n"
                              << "[study]\nfamilies = [\"sgd\"]\nbatches = [1, 4, 16]\n"
                              << "lr_grid = [0.25, 0.5, 1.0]\nlr_refine = 1\nbootstrap = 10\n"
                              << "[series.data]\ndata.samples = [500]\n";
    return {
        {"simulate", "simulate --set steps=20000 --set record=all --out OUT", false},
        {"sweep", "sweep --set batch=[1,2] --set steps=20000 --set record=all --quiet --out OUT",
         false},
        {"run", "run " + study_toml + " --no-report --quiet --out OUT", false},
        {"report", "report " + in.study.string() + " --quiet --out OUT", true},
        {"prepare-data", "prepare-data " + kSample + " --tokenizer byte --quiet --out-dir OUT",
         true},
        {"train-lm", "train-lm " + in.lm_config.string() + " --quiet --out OUT", false},
    };
}

std::string with_out(const std::string& args, const fs::path& out) {
    std::string a = args;
    a.replace(a.find("OUT"), 3, out.string());
    return a;
}

} // namespace

TEST_CASE("disk faults: an unwritable output location is one clear error and no file",
          "[faults][disk]") {
    // A file where a directory is expected (refused up front), and a directory on a read-only
    // file system (/proc: even root cannot create files there, unlike a chmod'ed directory).
    const fs::path blocker = dir() / "a_file";
    std::ofstream(blocker) << "not a directory";
    for (const Command& c : commands()) {
        INFO(c.name);
        const CliResult below_file = cbs::test::run_cbs(with_out(c.args, blocker / "out"));
        require_one_line_error(below_file, blocker.string());
        CHECK(fs::is_regular_file(blocker));

        const fs::path in_proc = fs::path("/proc") / ("cbs_faults_" + std::to_string(::getpid()));
        const CliResult proc = cbs::test::run_cbs(with_out(c.args, in_proc));
        require_one_line_error(proc, in_proc.string());
        CHECK_FALSE(fs::exists(in_proc));
    }
    require_no_partial(dir());
}

TEST_CASE("disk faults: a full disk (file-size limit) is one clear error, the previous output "
          "stays intact",
          "[faults][disk]") {
    for (const Command& c : commands()) {
        INFO(c.name);
        const fs::path out = dir() / ("full_" + c.name + (c.dir_output ? "" : ".h5"));
        std::error_code ec;
        fs::remove_all(out, ec);
        // Per-file limit (/bin/sh's ulimit -f counts 512-byte blocks): above the largest file a
        // command writes before its output (report: its embedded script, written to a scratch
        // directory), below the output itself.
        const auto script_bytes = fs::file_size(fs::path(cbs::test::source_dir()) / "experiments" /
                                                "report" / "report.py");
        const int blocks = c.name == "report" ? static_cast<int>(script_bytes / 512) + 16 : 16;
        if (c.name == "prepare-data") {
            // Refuses a non-empty --out-dir, so there is no previous output to keep: the failed
            // run must leave neither the directory nor its .partial twin.
            const CliResult r = run_cbs_limited(with_out(c.args, out), 16);
            require_one_line_error(r, out.string());
            CHECK_FALSE(fs::exists(out));
        } else {
            const CliResult first = cbs::test::run_cbs(with_out(c.args, out));
            REQUIRE(first.code == 0);
            const auto before = snapshot(out);
            const CliResult r = run_cbs_limited(with_out(c.args, out), blocks);
            require_one_line_error(r, out.string());
            CHECK(r.err.find("File too large") != std::string::npos);
            CHECK(snapshot(out) == before); // the previous complete output, untouched
            if (!c.dir_output) CHECK_NOTHROW(cbs::data::read_study(out.string()));
        }
        require_no_partial(dir());
    }
}

TEST_CASE("disk faults: a train-lm checkpoint that cannot be written keeps the previous one",
          "[faults][disk]") {
    const fs::path out = dir() / "ck_run.h5", ck = dir() / "run.ck";
    fs::remove(ck);
    const std::string args = "train-lm " + inputs().lm_config.string() + " --quiet --checkpoint " +
                             ck.string() + " --out " + out.string();
    REQUIRE(cbs::test::run_cbs(args).code == 0);
    const std::string before = cbs::test::slurp(ck);
    const CliResult r = run_cbs_limited(args + " --checkpoint-every 2", 8);
    require_one_line_error(r, "checkpoint '" + ck.string() + "': cannot write");
    CHECK(cbs::test::slurp(ck) == before);
    require_no_partial(dir());
}

TEST_CASE("disk faults: a real full file system (256 KiB tmpfs) when mounting is allowed",
          "[faults][disk]") {
    const fs::path mnt = dir() / "tmpfs";
    fs::create_directories(mnt);
    const std::string mount =
        "mount -t tmpfs -o size=256k cbs_faults " + mnt.string() + " >/dev/null 2>&1";
    if (std::system(mount.c_str()) != 0) {
        WARN("skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); the file-size "
             "limit test covers the same code paths");
        return;
    }
    struct Unmount {
        std::string cmd;
        ~Unmount() { [[maybe_unused]] const int rc = std::system(cmd.c_str()); }
    } unmount{"umount " + mnt.string()};
    const fs::path out = mnt / "study.h5";
    REQUIRE(cbs::test::run_cbs("simulate --set steps=1000 --set record=all --out " + out.string())
                .code == 0);
    const std::string before = cbs::test::slurp(out);
    // record = all over 100000 steps is ~3 MB: the disk fills mid-write.
    const CliResult r =
        cbs::test::run_cbs("simulate --set steps=100000 --set record=all --out " + out.string());
    require_one_line_error(r, "No space left on device");
    CHECK(cbs::test::slurp(out) == before);
    require_no_partial(mnt);
    const CliResult sweep = cbs::test::run_cbs(
        "sweep --set batch=[1,2,4] --set steps=100000 --set record=all --quiet --out " +
        (mnt / "sweep.h5").string());
    require_one_line_error(sweep, "No space left on device");
    require_no_partial(mnt);
}
