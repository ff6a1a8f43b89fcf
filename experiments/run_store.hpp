// A study file that grows run by run and survives interruption (DESIGN.md: "a sweep is resumable;
// writes are atomic so an interrupted study loses at most the runs in flight").
//
// Layout on disk for a study at PATH:
//   PATH             the study file (data/study_file.hpp), rewritten atomically at checkpoints;
//   PATH.journal/    one small study file per run finished since the last checkpoint, each
//                    written atomically (<id>.h5), so a kill -9 loses only runs still in flight.
// Opening a store loads both; finished runs are recognised by id (run ids are hashes of the
// resolved parameters, so the same command finds its own runs again).
#pragma once

#include "data/study_file.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace cbs::exp {

class RunStore {
public:
    /// Opens or creates the store. `config` is the resolved study configuration text written to
    /// the root `config` attribute. Throws cbs::UserError naming PATH if its directory does not
    /// exist or is not writable, or an existing PATH / journal file is unreadable (a journal file
    /// that is itself truncated — impossible with atomic writes, but possible if copied — is
    /// reported, not silently dropped).
    RunStore(std::string path, std::string config);

    const std::string& path() const { return path_; }

    /// Thread-safe lookups over stored runs (file + journal + added).
    bool contains(const std::string& id) const;
    std::optional<data::RunRecord> find(const std::string& id) const;
    std::vector<data::RunRecord> runs() const; ///< sorted by id
    std::size_t size() const;

    /// Thread-safe: records a finished run durably (journal file written and renamed before it
    /// returns). Adding an id that already exists replaces it.
    void add(const data::RunRecord& run);

    /// Thread-safe: records several finished runs durably in one journal file (one write and
    /// one fsync for all of them, named "<first id>+<hash of the ids>.h5"), for callers that
    /// finish many small runs a second. An id given twice in `runs`: the last wins. An id
    /// already stored may come again only with the same content (a reopened store reads journal
    /// files in name order, not in the order they were written). No-op if empty.
    void add(const std::vector<data::RunRecord>& runs);

    /// Thread-safe: a stored table (loaded from PATH or set since), if any.
    std::optional<data::Table> table(const std::string& name) const;

    /// Sets a table (e.g. "cbs/estimates"); written at the next checkpoint.
    void set_table(const std::string& name, const data::Table& table);

    /// Thread-safe: root attributes beyond the schema's own (data::StudyMeta::attrs), kept from
    /// the stored file when reopened; `set_root_attrs` adds or replaces the given ones, written
    /// at the next checkpoint.
    std::map<std::string, data::AttrValue> root_attrs() const;
    void set_root_attrs(const std::map<std::string, data::AttrValue>& attrs);

    /// Thread-safe: rewrites PATH atomically with every run and table, then deletes the journal
    /// files it now contains (and the journal directory when empty).
    void checkpoint();

private:
    std::string path_;
    std::string config_;
    mutable std::mutex mutex_;
    data::Study study_; ///< everything known, runs sorted by id at checkpoint
};

/// Deletes the store at PATH: the file and its journal directory (what exists of them). For stores
/// that only serve to resume a computation, once its result is safely elsewhere (`cbs run`'s
/// OUT.cells.h5). Best effort: never throws.
void remove_run_store(const std::string& path) noexcept;

} // namespace cbs::exp
