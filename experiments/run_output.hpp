// Turns simulator results into study-file records (data/study_file.hpp), with the provenance
// every output file carries: cbs version, git revision, resolved config and creation time.
#pragma once

#include "data/study_file.hpp"
#include "simulators/curve.hpp"
#include "simulators/sim_options.hpp"

#include <string>

namespace cbs::exp {

/// Stable id of a run: "r" + 16 hex digits of a 64-bit FNV-1a hash of its resolved TOML, so the
/// same parameters always map to the same group name (sweeps use it to skip finished runs).
std::string run_id(const sim::SimOptions& options);

/// The run's record: parameters as attributes (plus diverged, diverged_step, grid_points) and
/// its curves (risk_se / risk_ewa_se as extra curves for Monte Carlo).
data::RunRecord make_run_record(const sim::SimOptions& options, const sim::Curve& curve);

/// Root metadata for a file whose resolved configuration text is `config`.
data::StudyMeta make_study_meta(const std::string& config);

/// Refuses (cbs::UserError, "--out '<path>': ...") an output path that names a directory, or
/// whose missing directories could not be created: a component of its directory is a file, or
/// the deepest existing directory is not writable. Creates nothing, so commands call it with the
/// rest of their input validation, before doing any work.
void check_output_path(const std::string& path);

/// Creates the missing directories of an output path (as `mkdir -p` does); a no-op when they
/// exist. Commands call it once their input is validated, just before they start writing, so
/// refused input leaves no directory behind. Throws cbs::UserError("--out '<path>': cannot create
/// directory '<dir>': <reason>").
void make_output_directory(const std::string& path);

/// cbs version and the git revision it was configured from.
std::string cbs_version();
std::string cbs_git_sha();

} // namespace cbs::exp
