// Tests of sweeps (experiments/sweep.hpp) and `cbs sweep` / `cbs merge` through their library
// entry points: axis expansion, shards, resume, failures, signals, and kill -9 mid-sweep.
#include "experiments/sweep.hpp"

#include "experiments/cli/sweep_command.hpp"
#include "experiments/config_source.hpp"
#include "experiments/run_output.hpp"
#include "experiments/sim_config.hpp"
#include "tests/support/same_run.hpp"
#include "tests/support/user_error.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace cbs::exp;
namespace fs = std::filesystem;
using cbs::sim::Curve;
using cbs::sim::SimOptions;

namespace {

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("cbs_test_sweep_" + std::to_string(stamp) + "_" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

ConfigEntry entry(const std::string& key, const std::string& value) {
    return {key, value, "test"};
}

std::vector<std::string> values_of(const std::vector<ConfigEntries>& points,
                                   const std::string& key) {
    std::vector<std::string> out;
    for (const ConfigEntries& p : points)
        for (const ConfigEntry& e : p)
            if (e.key == key) out.push_back(e.value);
    return out;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

/// Resolved options of the grid batch x lr (4 x 3 = 12 runs by default).
std::vector<SimOptions> grid(const std::string& batches = "[1, 2, 4, 8]",
                             const std::string& lrs = "[0.1, 0.2, 3.0]") {
    std::vector<SimOptions> runs;
    for (const ConfigEntries& p : expand_axes({entry("batch", batches), entry("lr", lrs)}))
        runs.push_back(resolve_sim_options(p));
    return runs;
}

/// A cheap deterministic stand-in for a simulator; lr > 1 "diverges" at step 8.
Curve fake_curve(const SimOptions& o) {
    Curve c;
    for (std::int64_t s = 1; s <= 64; s *= 2) {
        if (o.lr > 1.0 && s >= 8) {
            c.diverged = true;
            c.diverged_step = 8;
            break;
        }
        c.step.push_back(s);
        c.samples.push_back(s * o.batch);
        const double r = 1.0 / (1.0 + o.lr * static_cast<double>(s * o.batch));
        c.risk.push_back(r);
        c.risk_ewa.push_back(0.9 * r + 1e-3 * o.lr);
    }
    return c;
}

/// Counts calls and remembers which ids were simulated.
struct CountingFake {
    std::atomic<int> calls{0};
    std::mutex mutex;
    std::set<std::string> ids;
    Curve operator()(const SimOptions& o) {
        ++calls;
        {
            const std::lock_guard<std::mutex> guard(mutex);
            ids.insert(run_id(o));
        }
        return fake_curve(o);
    }
    std::function<Curve(const SimOptions&)> fn() {
        return [this](const SimOptions& o) { return (*this)(o); };
    }
};

SweepProgress quiet() {
    SweepProgress p;
    p.enabled = false;
    return p;
}

/// Every stored run equals the record an uninterrupted fake run produces for it.
void require_runs_complete(const RunStore& store, const std::vector<SimOptions>& runs) {
    std::map<std::string, const SimOptions*> by_id;
    for (const SimOptions& o : runs)
        by_id[run_id(o)] = &o;
    for (const cbs::data::RunRecord& r : store.runs()) {
        REQUIRE(by_id.count(r.id) == 1);
        cbs::test::require_same_run(r,
                                    make_run_record(*by_id.at(r.id), fake_curve(*by_id.at(r.id))));
    }
}

} // namespace

// ---- axes -----------------------------------------------------------------------------------

TEST_CASE("sweep: list values are recognised and split", "[sweep]") {
    CHECK(is_list_value("[1, 2, 4]"));
    CHECK(is_list_value(" [1] "));
    CHECK_FALSE(is_list_value("1"));
    CHECK_FALSE(is_list_value("[1, 2"));
    CHECK_FALSE(is_list_value("cosine"));
    CHECK(list_items("batch", "[1, 2, 4]") == std::vector<std::string>{"1", "2", "4"});
    CHECK(list_items("batch", "[16,32]") == std::vector<std::string>{"16", "32"});
    CHECK(list_items("schedule", "[\"cosine\", 'wsd', constant]") ==
          std::vector<std::string>{"cosine", "wsd", "constant"});
    CHECK(list_items("x", "[\"a,b\", c]") == std::vector<std::string>{"a,b", "c"});
    CHECK(list_items("lr", "[ 0.5 ]") == std::vector<std::string>{"0.5"});
}

TEST_CASE("sweep: malformed lists are UserErrors naming the key", "[sweep]") {
    for (const char* bad : {"[]", "[ ]", "[[1, 2], [3]]", "[1, [2]]", "[1,,2]", "[1, 2,]",
                            "[\"open, 2]", "[1, 2", "1, 2]"}) {
        INFO(bad);
        const std::string msg = cbs::test::user_error([&] { list_items("batch", bad); });
        CHECK(contains(msg, "`batch`"));
        CHECK(contains(msg, bad));
        // expand_axes refuses the same values, including the half-bracketed ones.
        CHECK_THROWS_AS(expand_axes({entry("lr", "0.5"), entry("batch", bad)}), cbs::UserError);
    }
}

TEST_CASE("sweep: expand_axes is the cartesian product, first axis slowest", "[sweep]") {
    const ConfigEntries entries = {entry("spectrum.a", "2.5"), entry("batch", "[1, 2, 4]"),
                                   entry("schedule", "cosine"), entry("lr", "[0.1, 0.2]")};
    const std::vector<ConfigEntries> points = expand_axes(entries);
    REQUIRE(points.size() == 6);
    CHECK(values_of(points, "batch") == std::vector<std::string>{"1", "1", "2", "2", "4", "4"});
    CHECK(values_of(points, "lr") ==
          std::vector<std::string>{"0.1", "0.2", "0.1", "0.2", "0.1", "0.2"});
    for (const ConfigEntries& p : points) {
        REQUIRE(p.size() == 4); // scalars copied, original order kept
        CHECK(p[0].key == "spectrum.a");
        CHECK(p[0].value == "2.5");
        CHECK(p[1].key == "batch");
        CHECK(p[2].value == "cosine");
        CHECK(p[3].key == "lr");
    }
    // Every point resolves (the values are plain scalars again).
    for (const ConfigEntries& p : points)
        CHECK_NOTHROW(resolve_sim_options(p));

    SECTION("no axes: one point equal to the entries") {
        const std::vector<ConfigEntries> one = expand_axes({entry("batch", "4")});
        REQUIRE(one.size() == 1);
        CHECK(one[0][0].value == "4");
        CHECK(expand_axes({}).size() == 1);
    }
    SECTION("three axes: 2 x 3 x 2 = 12 points, last axis fastest") {
        const auto p =
            expand_axes({entry("a", "[x, y]"), entry("b", "[1, 2, 3]"), entry("c", "[p, q]")});
        REQUIRE(p.size() == 12);
        CHECK(values_of(p, "a")[5] == "x");
        CHECK(values_of(p, "a")[6] == "y");
        CHECK(values_of(p, "b")[2] == "2");
        CHECK(values_of(p, "c")[1] == "q");
    }
    SECTION("a later key wins, whether it is a list or a scalar") {
        auto p =
            expand_axes({entry("batch", "[1, 2, 4]"), entry("lr", "0.5"), entry("batch", "8")});
        REQUIRE(p.size() == 1);
        CHECK(values_of(p, "batch") == std::vector<std::string>{"8"});
        CHECK(p[0].size() == 2);
        p = expand_axes({entry("batch", "8"), entry("batch", "[1, 2]")});
        CHECK(values_of(p, "batch") == std::vector<std::string>{"1", "2"});
    }
    SECTION("TOML arrays from a file and --set lists expand alike") {
        ConfigEntries from_file = parse_toml("batch = [16, 32]\n[ewa]\ndecay = [0.9, 0.99]\n", "t");
        from_file.push_back(parse_set_argument("lr=[0.25,0.5]"));
        const auto p = expand_axes(from_file);
        REQUIRE(p.size() == 8);
        // parse_toml sorts keys: batch, ewa.decay, lr (fastest).
        CHECK(values_of(p, "ewa.decay")[1] == "0.9");
        CHECK(values_of(p, "ewa.decay")[2] == "0.99");
        CHECK(values_of(p, "lr")[1] == "0.5");
        CHECK(resolve_sim_options(p[7]).batch == 32);
    }
}

TEST_CASE("sweep: parse_shard accepts i/K and refuses the rest", "[sweep]") {
    CHECK(parse_shard("0/1").index == 0);
    CHECK(parse_shard("0/1").count == 1);
    CHECK(parse_shard("3/4").index == 3);
    CHECK(parse_shard("3/4").count == 4);
    CHECK(parse_shard("17/100").count == 100);
    for (const char* bad : {"4/4", "5/4", "-1/4", "1/0", "0/0", "a/b", "1", "1/2/3", "", "/2", "1/",
                            " 1/2", "1/99999999999"}) {
        INFO(bad);
        const std::string msg = cbs::test::user_error([&] { parse_shard(bad); });
        CHECK(msg.rfind(std::string("--shard '") + bad + "'", 0) == 0);
    }
}

// ---- run_sweep ------------------------------------------------------------------------------

TEST_CASE("sweep: runs every point once, records divergence, then resumes with no work",
          "[sweep]") {
    TempDir dir;
    const std::string path = dir.file("study.h5");
    const std::vector<SimOptions> runs = grid();
    {
        RunStore store(path, "cfg");
        CountingFake fake;
        const SweepSummary s = run_sweep(runs, store, {}, quiet(), fake.fn());
        CHECK(s.total == 12);
        CHECK(s.skipped == 0);
        CHECK(s.ran == 12);
        CHECK(s.diverged == 4); // lr = 3.0 diverges for each of the 4 batch sizes
        CHECK(fake.calls == 12);
        CHECK(store.size() == 12);
        require_runs_complete(store, runs);
    }
    // The final checkpoint wrote everything to PATH and emptied the journal.
    CHECK_FALSE(fs::exists(path + ".journal"));
    const cbs::data::Study study = cbs::data::read_study(path);
    REQUIRE(study.runs.size() == 12);
    int diverged = 0;
    for (const auto& r : study.runs)
        diverged += static_cast<int>(std::get<std::int64_t>(r.attrs.at("diverged")));
    CHECK(diverged == 4);

    RunStore again(path, "cfg");
    CountingFake fake;
    const SweepSummary s = run_sweep(runs, again, {}, quiet(), fake.fn());
    CHECK(fake.calls == 0);
    CHECK(s.total == 12);
    CHECK(s.skipped == 12);
    CHECK(s.ran == 0);

    SECTION("a grown grid runs only the new points") {
        const std::vector<SimOptions> bigger = grid("[1, 2, 4, 8, 16]");
        const SweepSummary more = run_sweep(bigger, again, {}, quiet(), fake.fn());
        CHECK(more.total == 15);
        CHECK(more.skipped == 12);
        CHECK(fake.calls == 3);
        for (const std::string& id : fake.ids)
            CHECK(std::get<std::int64_t>(again.find(id)->attrs.at("batch")) == 16);
    }
}

TEST_CASE("sweep: a point listed twice runs once", "[sweep]") {
    TempDir dir;
    RunStore store(dir.file("study.h5"), "");
    CountingFake fake;
    const SweepSummary s = run_sweep(grid("[4, 4, 8]", "[0.1]"), store, {}, quiet(), fake.fn());
    CHECK(s.total == 2);
    CHECK(fake.calls == 2);
    CHECK(store.size() == 2);
}

TEST_CASE("sweep: shards partition the runs and merge gathers them", "[sweep]") {
    TempDir dir;
    const std::string path = dir.file("study.h5");
    const std::vector<SimOptions> runs = grid("[1, 2, 4, 8, 16]", "[0.1, 0.2, 0.4]"); // 15
    std::set<std::string> all;
    std::size_t total = 0;
    for (int i = 0; i < 4; ++i) {
        RunStore store(path, "cfg"); // each shard a separate "process", one shared --out
        CountingFake fake;
        const SweepSummary s = run_sweep(runs, store, {i, 4}, quiet(), fake.fn());
        CHECK(s.total == (i < 3 ? 4u : 3u)); // indices k with k % 4 == i
        CHECK(s.skipped == 0);
        CHECK(fake.calls == static_cast<int>(s.total));
        for (const std::string& id : fake.ids)
            CHECK(all.insert(id).second); // disjoint
        total += s.total;
        // Shards never rewrite PATH: other shards may be writing to the same journal.
        CHECK_FALSE(fs::exists(path));
    }
    CHECK(total == 15);
    std::set<std::string> expected;
    for (const SimOptions& o : runs)
        expected.insert(run_id(o));
    CHECK(all == expected); // union = all

    MergeArgs merge;
    merge.path = path;
    CHECK(run_merge_command(merge) == 0);
    CHECK_FALSE(fs::exists(path + ".journal"));
    const cbs::data::Study study = cbs::data::read_study(path);
    CHECK(study.runs.size() == 15);
    CHECK(study.meta.config == "cfg"); // merge keeps the stored configuration
    RunStore store(path, "cfg");
    require_runs_complete(store, runs);

    const std::string msg =
        cbs::test::user_error([&] { run_merge_command(MergeArgs{dir.file("absent.h5")}); });
    CHECK(contains(msg, "absent.h5"));
}

TEST_CASE("sweep: a failing run stops the sweep, is rethrown, and finished runs are kept",
          "[sweep]") {
    TempDir dir;
    const std::string path = dir.file("study.h5");
    const std::vector<SimOptions> runs = grid("[1, 2, 4, 8, 16, 32]", "[0.1, 0.2]"); // 12
    std::atomic<int> calls{0};
    std::atomic<int> finished{0};
    const auto failing = [&](const SimOptions& o) -> Curve {
        if (++calls == 5) throw std::runtime_error("simulator exploded");
        Curve c = fake_curve(o);
        ++finished;
        return c;
    };
    {
        RunStore store(path, "");
        CHECK_THROWS_WITH(run_sweep(runs, store, {}, quiet(), failing), "simulator exploded");
        // Runs in flight when the failure happened still finish (at most one per other thread).
        CHECK(store.size() == static_cast<std::size_t>(finished.load()));
        CHECK(finished >= 4);
        CHECK(finished < 11);
    }
    RunStore store(path, "");
    CHECK(store.size() == static_cast<std::size_t>(finished.load()));
    require_runs_complete(store, runs);
    CountingFake fake;
    const SweepSummary s = run_sweep(runs, store, {}, quiet(), fake.fn());
    CHECK(fake.calls == 12 - finished.load());
    CHECK(s.skipped == static_cast<std::size_t>(finished.load()));
    CHECK(store.size() == 12);
}

namespace {
volatile std::sig_atomic_t g_test_handler_calls = 0;
extern "C" void test_sigint_handler(int) {
    g_test_handler_calls = g_test_handler_calls + 1;
}
} // namespace

TEST_CASE("sweep: SIGINT finishes runs in flight, checkpoints, throws, restores handlers",
          "[sweep]") {
    TempDir dir;
    const std::string path = dir.file("study.h5");
    const std::vector<SimOptions> runs = grid("[1, 2, 4, 8, 16, 32]", "[0.1, 0.2]"); // 12
    struct sigaction mine {};
    mine.sa_handler = test_sigint_handler;
    sigemptyset(&mine.sa_mask);
    struct sigaction before {};
    REQUIRE(sigaction(SIGINT, &mine, &before) == 0);

    std::atomic<int> calls{0};
    const auto interrupting = [&](const SimOptions& o) {
        if (++calls == 3) std::raise(SIGINT);
        return fake_curve(o);
    };
    std::size_t stored = 0;
    {
        RunStore store(path, "");
        const std::string msg =
            cbs::test::user_error([&] { run_sweep(runs, store, {}, quiet(), interrupting); });
        CHECK(contains(msg, "interrupted by SIGINT"));
        CHECK(contains(msg, path));
        stored = store.size();
        CHECK(stored >= 3); // the run that saw the signal finished too
        CHECK(stored < 12);
        CHECK(g_test_handler_calls == 0); // run_sweep's handler took it
    }
    // Checkpointed before throwing.
    CHECK(cbs::data::read_study(path).runs.size() == stored);
    CHECK_FALSE(fs::exists(path + ".journal"));

    struct sigaction after {};
    REQUIRE(sigaction(SIGINT, nullptr, &after) == 0);
    CHECK(after.sa_handler == test_sigint_handler);
    std::raise(SIGINT);
    CHECK(g_test_handler_calls == 1);
    sigaction(SIGINT, &before, nullptr);

    RunStore store(path, "");
    CountingFake fake;
    run_sweep(runs, store, {}, quiet(), fake.fn());
    CHECK(fake.calls == static_cast<int>(12 - stored));
    require_runs_complete(store, runs);
}

TEST_CASE("sweep: progress lines on stderr follow the documented format", "[sweep]") {
    TempDir dir;
    const std::string log = dir.file("stderr.txt");
    RunStore store(dir.file("study.h5"), "");
    store.add(make_run_record(grid()[0], fake_curve(grid()[0]))); // one skipped
    SweepProgress progress;
    progress.min_interval_s = 0; // a line per run
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    ::dup2(fd, 2);
    ::close(fd);
    SweepSummary s;
    try {
        s = run_sweep(grid(), store, {}, progress, fake_curve);
    } catch (...) {
        std::fflush(stderr);
        ::dup2(saved, 2);
        throw;
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);

    std::ifstream in(log);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line))
        lines.push_back(line);
    REQUIRE(lines.size() == 12); // 11 runs + the final line
    const std::regex format(
        R"(sweep: (\d+)/12 runs \(1 skipped, (\d+) diverged\), \d+\.\d runs/s, ETA (\d+(\.\d)? (s|min|h)|\?))");
    for (const std::string& l : lines) {
        INFO(l);
        CHECK(std::regex_match(l, format));
    }
    std::smatch m;
    REQUIRE(std::regex_match(lines.back(), m, format));
    CHECK(m[1] == "12");
    CHECK(m[2] == "4");
    CHECK(contains(lines.back(), "ETA 0 s"));
    CHECK(s.ran == 11);
}

// ---- kill -9 --------------------------------------------------------------------------------

namespace {

const char* const kChildStoreVar = "CBS_TEST_SWEEP_KILL_STORE";

std::vector<SimOptions> kill_test_runs() {
    return grid("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]", "[0.1, 0.2, 0.3, 3.0]"); // 48
}

std::size_t files_in(const fs::path& dir, const std::string& extension) {
    std::size_t n = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == extension) ++n;
    return n;
}

} // namespace

// Not a test on its own (hidden): the child process of the kill -9 test, started by exec so it
// gets a fresh OpenMP runtime (libgomp's thread pool does not survive fork).
TEST_CASE("sweep: kill -9 child (internal)", "[.][sweep_kill_child]") {
    const char* path = std::getenv(kChildStoreVar);
    REQUIRE(path != nullptr);
    RunStore store(path, "cfg");
    const auto slow = [](const SimOptions& o) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        return fake_curve(o);
    };
    run_sweep(kill_test_runs(), store, {}, quiet(), slow, 0.03); // checkpoints often
}

TEST_CASE("sweep: kill -9 mid-sweep loses only runs in flight and resuming completes the study",
          "[sweep]") {
    TempDir dir;
    const std::string path = dir.file("killed.h5");
    const std::vector<SimOptions> runs = kill_test_runs();

    // Everything the child needs is prepared before fork: between fork and exec it may only call
    // async-signal-safe functions (other threads of this process may hold the allocator's lock).
    std::vector<std::string> env_text = {std::string(kChildStoreVar) + "=" + path};
    for (char** e = environ; *e != nullptr; ++e)
        env_text.emplace_back(*e);
    std::vector<char*> env;
    for (std::string& e : env_text)
        env.push_back(e.data());
    env.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::string filter = "[sweep_kill_child]";
    char* const argv[] = {exe.data(), filter.data(), nullptr};

    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execve(exe.c_str(), argv, env.data());
        ::_exit(127);
    }
    // Kill once the child has stored a few runs (journal files or a checkpoint), mid-way.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline && files_in(path + ".journal", ".h5") < 3 &&
           !fs::exists(path))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status)); // killed, not finished (or failed) on its own
    CHECK(WTERMSIG(status) == SIGKILL);

    if (fs::exists(path)) CHECK_NOTHROW(cbs::data::read_study(path)); // a complete file
    std::size_t stored = 0;
    {
        RunStore store(path, "cfg");
        stored = store.size();
        CHECK(stored >= 1);
        CHECK(stored < runs.size());
        require_runs_complete(store, runs); // every stored run is whole and correct
    }
    RunStore store(path, "cfg");
    CountingFake fake;
    const SweepSummary s = run_sweep(runs, store, {}, quiet(), fake.fn());
    CHECK(s.skipped == stored);
    CHECK(fake.calls == static_cast<int>(runs.size() - stored));

    // The same study run without interruption.
    RunStore clean(dir.file("clean.h5"), "cfg");
    run_sweep(runs, clean, {}, quiet(), fake_curve);
    const std::vector<cbs::data::RunRecord> got = cbs::data::read_study(path).runs;
    const std::vector<cbs::data::RunRecord> want = cbs::data::read_study(dir.file("clean.h5")).runs;
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        cbs::test::require_same_run(got[i], want[i]);
}

// ---- the CLI entry points -------------------------------------------------------------------

TEST_CASE("sweep command: bad values are refused before anything is written", "[sweep]") {
    TempDir dir;
    const std::string out = dir.file("study.h5");
    for (const std::vector<std::string>& sets : {std::vector<std::string>{"batch=[16, 0]"},
                                                 {"lr=[0.5, -1]"},
                                                 {"no.such.key=[1, 2]"},
                                                 {"batch=[]"},
                                                 {"batch=[1, [2]]"},
                                                 {"ewa.decay=[0.9, 1.5]", "batch=[1, 2]"}}) {
        INFO(sets.front());
        SweepArgs args;
        args.sets = sets;
        args.out_path = out;
        args.quiet = true;
        CHECK_THROWS_AS(run_sweep_command(args), cbs::UserError);
        CHECK_FALSE(fs::exists(out));
        CHECK_FALSE(fs::exists(out + ".journal"));
    }
    SweepArgs args;
    args.sets = {"batch=[1, 2]"};
    args.quiet = true;
    args.shard = "2/2";
    args.out_path = out;
    CHECK(contains(cbs::test::user_error([&] { run_sweep_command(args); }), "--shard '2/2'"));
    args.shard.clear();
    // A missing directory would be created; a file where a directory must be is refused.
    std::ofstream(dir.file("a_file")) << "not a directory";
    args.out_path = dir.file("a_file/study.h5");
    CHECK(contains(cbs::test::user_error([&] { run_sweep_command(args); }),
                   "a_file' is a file, not a directory"));
    args.out_path = out;
    args.config_path = dir.file("absent.toml");
    CHECK(contains(cbs::test::user_error([&] { run_sweep_command(args); }), "absent.toml"));
    CHECK_FALSE(fs::exists(out));
}

TEST_CASE("sweep command: a small real sweep writes every run and resumes", "[sweep]") {
    TempDir dir;
    const std::string config = dir.file("study.toml");
    std::ofstream(config) << "steps = 64\nrecord = 8\n[spectrum]\na = [1.5, 2.0]\n";
    SweepArgs args;
    args.config_path = config;
    args.sets = {"batch=[1, 4]", "lr=0.25"};
    args.out_path = dir.file("study.h5");
    args.quiet = true;
    REQUIRE(run_sweep_command(args) == 0);
    const cbs::data::Study study = cbs::data::read_study(args.out_path);
    REQUIRE(study.runs.size() == 4);
    CHECK(contains(study.meta.config, "[spectrum]\na = [1.5, 2.0]\n"));
    CHECK(contains(study.meta.config, "# --set batch=[1, 4]\n"));
    CHECK(contains(study.meta.config, "# --set lr=0.25\n"));
    std::set<std::pair<double, std::int64_t>> points;
    for (const auto& r : study.runs) {
        points.insert({std::get<double>(r.attrs.at("spectrum.a")),
                       std::get<std::int64_t>(r.attrs.at("batch"))});
        CHECK(std::get<double>(r.attrs.at("lr")) == 0.25);
        CHECK(r.step.size() >= 2);
        CHECK(r.step.back() == 64);
    }
    CHECK(points ==
          std::set<std::pair<double, std::int64_t>>{{1.5, 1}, {1.5, 4}, {2.0, 1}, {2.0, 4}});
    // The recorded curves are those of simulate_any on the resolved point.
    const SimOptions first =
        resolve_sim_options({entry("steps", "64"), entry("record", "8"), entry("spectrum.a", "1.5"),
                             entry("batch", "1"), entry("lr", "0.25")});
    const auto found = std::find_if(study.runs.begin(), study.runs.end(),
                                    [&](const auto& r) { return r.id == run_id(first); });
    REQUIRE(found != study.runs.end());
    CHECK(found->risk == simulate_any(first).risk);

    // Resume: nothing to run, the runs are unchanged.
    REQUIRE(run_sweep_command(args) == 0);
    const cbs::data::Study again = cbs::data::read_study(args.out_path);
    REQUIRE(again.runs.size() == 4);
    for (std::size_t i = 0; i < 4; ++i)
        cbs::test::require_same_run(again.runs[i], study.runs[i]);
}
