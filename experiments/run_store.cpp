// RunStore (run_store.hpp): a study file plus a journal directory of one-run files.
//
// Durability: add() writes PATH.journal/<id>.h5 with write_study (temporary file, fsync, rename)
// and then fsyncs the journal directory, so once add() returns the run survives kill -9 and power
// loss. checkpoint() writes PATH the same way, fsyncs PATH's directory, and only then deletes the
// journal files whose runs PATH now holds: at every instant each finished run is in PATH, in the
// journal, or in both.
//
// Concurrency inside one process: lookups and the in-memory study are guarded by mutex_. The
// journal write of add() happens outside mutex_ (so threads fsync in parallel) but under a shared
// lock of journal_lock(). checkpoint() takes that lock exclusively only while it takes its
// snapshot, writes PATH with no lock held (a checkpoint of a large study takes a while; adds and
// lookups continue), and then deletes only the journal files that are still the ones it listed:
// a file that a concurrent add() replaced (same id, new content) is kept.
//
// Several processes (job-array shards, MPI ranks) may add() into one journal directory at the same
// time: each run has its own file and write_study's temporary name is per file. They must not
// checkpoint the same PATH concurrently (each rewrites PATH from its own view); run_sweep leaves
// shards' runs in the journal for `cbs merge` / MPI rank 0 to gather (see sweep.cpp).
//
// Extensions of the header's contract:
//   - an empty `config` keeps the configuration already stored (in PATH, else in the first
//     journal file), which is what `cbs merge` wants;
//   - checkpoint() also gathers journal files written by other processes since this store was
//     opened;
//   - stale "*.partial" files (left by a killed write) older than ten minutes are removed at
//     checkpoint; younger ones may be another process's write in flight and are left alone.
#include "experiments/run_store.hpp"

#include "experiments/run_output.hpp"
#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cbs::exp {

namespace {

namespace fs = std::filesystem;

/// Shared by every store of the process: add() holds it shared while it writes a journal file,
/// checkpoint() exclusively. (Process-wide rather than per store only because the class layout is
/// fixed by the header; contention between different stores is harmless.)
std::shared_mutex& journal_lock() {
    static std::shared_mutex lock;
    return lock;
}

/// Serialises checkpoints (of any store in the process; see journal_lock()).
std::mutex& checkpoint_lock() {
    static std::mutex lock;
    return lock;
}

/// Which file a path names: a journal file replaced by rename has a new inode (allocated while
/// the old one still existed, so never the same number).
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileIdentity&) const = default;
};

std::optional<FileIdentity> identify(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return std::nullopt;
    return FileIdentity{st.st_dev, st.st_ino};
}

std::string journal_dir(const std::string& path) {
    return path + ".journal";
}

bool is_journal_file(const fs::directory_entry& entry) {
    std::error_code ec;
    return entry.path().extension() == ".h5" && entry.is_regular_file(ec);
}

/// Journal files in name order (deterministic loading order); empty if the directory is absent.
std::vector<fs::path> journal_files(const std::string& path) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::directory_iterator it(journal_dir(path), ec);
    if (ec) return files;
    for (const fs::directory_entry& entry : it)
        if (is_journal_file(entry)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

/// fsync a directory so that a rename inside it is durable; best effort (some file systems
/// refuse fsync on directories, and the data itself is already synced by write_study).
void sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
}

bool by_id(const data::RunRecord& x, const data::RunRecord& y) {
    return x.id < y.id;
}

/// Inserts or replaces `run` in `runs`, which is kept sorted by id.
void upsert(std::vector<data::RunRecord>& runs, const data::RunRecord& run) {
    const auto at = std::lower_bound(runs.begin(), runs.end(), run, by_id);
    if (at != runs.end() && at->id == run.id)
        *at = run;
    else
        runs.insert(at, run);
}

const data::RunRecord* lookup(const std::vector<data::RunRecord>& runs, const std::string& id) {
    const auto at = std::lower_bound(
        runs.begin(), runs.end(), id,
        [](const data::RunRecord& run, const std::string& key) { return run.id < key; });
    return at != runs.end() && at->id == id ? &*at : nullptr;
}

void check_table_name(const std::string& name) {
    const std::size_t slash = name.find('/');
    const std::string top = name.substr(0, slash);
    const std::string rest = slash == std::string::npos ? "" : name.substr(slash + 1);
    if ((top != "cbs" && top != "fits") || rest.empty() || rest.find('/') != std::string::npos)
        throw std::invalid_argument("table name '" + name + "': must be cbs/<name> or fits/<name>");
}

} // namespace

RunStore::RunStore(std::string path, std::string config)
    : path_(std::move(path)), config_(std::move(config)) {
    std::error_code ec;
    const fs::path parent = fs::absolute(fs::path(path_), ec).parent_path();
    if (ec || !fs::is_directory(parent, ec))
        throw UserError(
            fmt::format("study file '{}': directory '{}' does not exist", path_, parent.string()));
    if (::access(parent.c_str(), W_OK | X_OK) != 0)
        throw UserError(
            fmt::format("study file '{}': directory '{}' is not writable", path_, parent.string()));
    if (fs::is_directory(path_, ec))
        throw UserError(fmt::format("study file '{}': is a directory, must be a file path", path_));
    const std::string journal = journal_dir(path_);
    if (fs::exists(journal, ec) && !fs::is_directory(journal, ec))
        throw UserError(
            fmt::format("study file '{}': '{}' exists but is not a directory", path_, journal));

    std::string stored_config;
    std::map<std::string, data::AttrValue> root_attrs;
    bool have_stored_config = false;
    if (fs::exists(path_, ec)) {
        data::Study stored = data::read_study(path_); // UserError naming the path if unreadable
        study_.runs = std::move(stored.runs);
        study_.tables = std::move(stored.tables);
        std::sort(study_.runs.begin(), study_.runs.end(), by_id);
        stored_config = std::move(stored.meta.config);
        root_attrs = std::move(stored.meta.attrs);
        have_stored_config = true;
    }
    // Journal files are newer than PATH (written after its last checkpoint): they win.
    for (const fs::path& file : journal_files(path_)) {
        data::Study part = data::read_study(file.string());
        for (const data::RunRecord& run : part.runs)
            upsert(study_.runs, run);
        if (!have_stored_config) {
            stored_config = std::move(part.meta.config);
            have_stored_config = true;
        }
    }
    if (config_.empty()) config_ = std::move(stored_config);
    study_.meta = make_study_meta(config_);
    study_.meta.attrs = std::move(root_attrs);
}

std::map<std::string, data::AttrValue> RunStore::root_attrs() const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return study_.meta.attrs;
}

void RunStore::set_root_attrs(const std::map<std::string, data::AttrValue>& attrs) {
    const std::lock_guard<std::mutex> guard(mutex_);
    for (const auto& [name, value] : attrs)
        study_.meta.attrs[name] = value;
}

bool RunStore::contains(const std::string& id) const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return lookup(study_.runs, id) != nullptr;
}

std::optional<data::RunRecord> RunStore::find(const std::string& id) const {
    const std::lock_guard<std::mutex> guard(mutex_);
    if (const data::RunRecord* run = lookup(study_.runs, id)) return *run;
    return std::nullopt;
}

std::vector<data::RunRecord> RunStore::runs() const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return study_.runs;
}

std::size_t RunStore::size() const {
    const std::lock_guard<std::mutex> guard(mutex_);
    return study_.runs.size();
}

void RunStore::add(const data::RunRecord& run) {
    const std::shared_lock<std::shared_mutex> journal_guard(journal_lock());
    const std::string dir = journal_dir(path_);
    std::error_code ec;
    fs::create_directories(dir, ec); // several threads or processes may race here: fine
    if (!fs::is_directory(dir, ec))
        throw UserError(
            fmt::format("study file '{}': cannot create journal directory '{}'", path_, dir));
    data::Study one;
    one.meta = make_study_meta(config_);
    one.runs.push_back(run);
    // Validates the run (std::invalid_argument) before anything reaches the disk.
    data::write_study((fs::path(dir) / (run.id + ".h5")).string(), one);
    sync_directory(dir);
    const std::lock_guard<std::mutex> guard(mutex_);
    upsert(study_.runs, run);
}

void RunStore::add(const std::vector<data::RunRecord>& runs) {
    if (runs.empty()) return;
    const std::shared_lock<std::shared_mutex> journal_guard(journal_lock());
    const std::string dir = journal_dir(path_);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir, ec))
        throw UserError(
            fmt::format("study file '{}': cannot create journal directory '{}'", path_, dir));
    data::Study batch;
    batch.meta = make_study_meta(config_);
    for (const data::RunRecord& run : runs) // an id given twice: the last wins, as with add()
        upsert(batch.runs, run);
    // Named after the first id and a hash of all of them: two batches share a file name only if
    // they hold the same runs. Not a plain id, so checkpoint() reads the file instead of assuming
    // that the run of that id stands for its whole content.
    std::uint64_t ids_hash = kFnv1aBasis;
    for (const data::RunRecord& run : batch.runs)
        ids_hash = fnv1a(run.id + "\n", ids_hash);
    const std::string name = fmt::format("{}+{:016x}.h5", batch.runs.front().id, ids_hash);
    data::write_study((fs::path(dir) / name).string(), batch);
    sync_directory(dir);
    const std::lock_guard<std::mutex> guard(mutex_);
    for (const data::RunRecord& run : batch.runs)
        upsert(study_.runs, run);
}

std::optional<data::Table> RunStore::table(const std::string& name) const {
    const std::lock_guard<std::mutex> guard(mutex_);
    const auto it = study_.tables.find(name);
    if (it == study_.tables.end()) return std::nullopt;
    return it->second;
}

void RunStore::set_table(const std::string& name, const data::Table& table) {
    check_table_name(name);
    const std::lock_guard<std::mutex> guard(mutex_);
    study_.tables[name] = table;
}

void RunStore::checkpoint() {
    const std::lock_guard<std::mutex> one_at_a_time(checkpoint_lock());

    // 1. Snapshot, with adds held off so that every journal file listed holds a run the snapshot
    //    has (an add between its rename and its insertion would break that). Journal files this
    //    store has not seen are other processes' runs: read them in.
    data::Study snapshot;
    std::vector<std::pair<fs::path, FileIdentity>> included;
    {
        const std::unique_lock<std::shared_mutex> journal_guard(journal_lock());
        const std::lock_guard<std::mutex> guard(mutex_);
        for (const fs::path& file : journal_files(path_)) {
            const std::optional<FileIdentity> identity = identify(file);
            if (!identity) continue; // removed meanwhile (e.g. by `cbs merge`)
            if (lookup(study_.runs, file.stem().string()) == nullptr) {
                const data::Study part = data::read_study(file.string());
                for (const data::RunRecord& run : part.runs)
                    upsert(study_.runs, run);
            }
            included.emplace_back(file, *identity);
        }
        std::map<std::string, data::AttrValue> root_attrs = std::move(study_.meta.attrs);
        study_.meta = make_study_meta(config_);
        study_.meta.attrs = std::move(root_attrs);
        snapshot = study_;
    }

    // 2. Write PATH without holding any lock: adds and lookups go on meanwhile.
    data::write_study(path_, snapshot);
    sync_directory(fs::absolute(fs::path(path_)).parent_path());

    // 3. PATH now holds every listed run: delete those journal files, unless a concurrent add
    //    replaced one (a rename gives it a new inode; its new content is not in PATH yet).
    std::error_code ec;
    for (const auto& [file, identity] : included)
        if (identify(file) == identity) fs::remove(file, ec);
    const std::string dir = journal_dir(path_);
    const auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        std::error_code time_ec;
        const auto written = fs::last_write_time(p, time_ec);
        if (p.extension() == ".partial" && !time_ec && now - written > std::chrono::minutes(10))
            fs::remove(p, time_ec);
    }
    // Only succeeds when empty (another process may still be adding). Held exclusively: an add()
    // of this process between making sure the directory exists and creating its file there would
    // otherwise find it gone.
    const std::unique_lock<std::shared_mutex> journal_guard(journal_lock());
    fs::remove(dir, ec);
}

void remove_run_store(const std::string& path) noexcept {
    std::error_code ec;
    fs::remove(path, ec);
    fs::remove_all(journal_dir(path), ec);
}

} // namespace cbs::exp
