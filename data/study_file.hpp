// HDF5 study files: the schema of docs/hdf5-schema.md (DESIGN.md "Output").
//
//   /                      attributes schema_version (int64), cbs_version, git_sha, config,
//   created,
//                          and optional further ones (StudyMeta::attrs)
//   /runs/<id>/            one group per run; attributes = the run's parameters (int64, double or
//                          string), plus `diverged` (int64 0/1) and `diverged_step` (int64)
//   /runs/<id>/step        int64 [n]   recorded steps
//   /runs/<id>/samples     int64 [n]   samples (or tokens) seen at each recorded step
//   /runs/<id>/risk        double [n]  excess risk (or val loss) of the raw weights
//   /runs/<id>/risk_ewa    double [n]  same for the EWA weights
//   /runs/<id>/<extra>     double [n]  optional further curves (e.g. risk_se, risk_ewa_se)
//   /cbs/<table>/, /fits/<table>/  tables (see Table): one dataset per column
//
// Writes are atomic: a file is written to "<path>.partial" and renamed over <path> only when
// complete, so an interrupted write never leaves a truncated study behind.
// This module depends only on HDF5 (not on the simulators); callers convert their curves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace cbs::data {

inline constexpr std::int64_t kSchemaVersion = 1;

using AttrValue = std::variant<std::int64_t, double, std::string>;

/// Root metadata of a study file.
struct StudyMeta {
    std::int64_t schema_version = kSchemaVersion;
    std::string cbs_version; ///< e.g. "0.1.0"
    std::string git_sha;     ///< revision cbs was built from
    std::string config;      ///< the resolved configuration text (TOML)
    std::string created;     ///< ISO-8601 UTC time of writing, e.g. "2026-11-21T23:59:59Z"
    /// Further root attributes (e.g. an LM study's machine, wall time and input checksums);
    /// names must differ from the five above. Read back as written.
    std::map<std::string, AttrValue> attrs;
};

/// One run: its parameters and its curves (all curve vectors have the same length).
struct RunRecord {
    std::string id;                                          ///< group name under /runs
    std::map<std::string, AttrValue> attrs;                  ///< parameters, diverged, ...
    std::vector<std::int64_t> step;                          ///< recorded steps
    std::vector<std::int64_t> samples;                       ///< samples seen per recorded step
    std::vector<double> risk;                                ///< raw-weights risk
    std::vector<double> risk_ewa;                            ///< EWA-weights risk
    std::map<std::string, std::vector<double>> extra_curves; ///< optional, same length
};

/// A named table of equal-length columns (measured CBS per group, fits, ...), stored as a group
/// whose datasets are the columns (float64 or variable-length UTF-8 strings) and whose attributes
/// are `attrs` plus `columns` (the column names, comma-separated, in order).
struct Table {
    using Column = std::variant<std::vector<double>, std::vector<std::string>>;
    std::vector<std::pair<std::string, Column>> columns; ///< in display order
    std::map<std::string, AttrValue> attrs;              ///< e.g. units, description
};

struct Study {
    StudyMeta meta;
    std::vector<RunRecord> runs; ///< sorted by id
    /// Tables by path below the root, e.g. "cbs/estimates" or "fits/cbs_vs_data" (at most one
    /// '/', first component "cbs" or "fits").
    std::map<std::string, Table> tables;
};

/// Current UTC time as ISO-8601 ("YYYY-MM-DDTHH:MM:SSZ").
std::string utc_timestamp();

/// Writes `study` to `path` atomically (via "<path>.partial" + rename). Throws cbs::UserError
/// with a one-line message naming the path if it cannot be written (directory missing or not
/// writable, disk full); no partial file is left behind in that case. Throws std::invalid_argument
/// if a run's curves have different lengths or an id is empty / contains '/'.
void write_study(const std::string& path, const Study& study);

/// Reads a whole study file. Throws cbs::UserError naming the path if it is missing, not HDF5, or
/// does not follow the schema (missing root attributes, unknown schema_version, missing datasets).
Study read_study(const std::string& path);

} // namespace cbs::data
