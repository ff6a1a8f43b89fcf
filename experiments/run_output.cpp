#include "experiments/run_output.hpp"

#include "experiments/sim_config.hpp"

#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

namespace cbs::exp {

namespace {

/// The deepest existing ancestor of `dir` (itself if it exists); empty if none exists.
std::filesystem::path deepest_existing(std::filesystem::path dir) {
    std::error_code ec;
    while (!dir.empty() && !std::filesystem::exists(dir, ec)) {
        if (dir == dir.parent_path()) return {};
        dir = dir.parent_path();
    }
    return dir;
}

} // namespace

void check_output_path(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::absolute(fs::path(path)).parent_path();
    std::error_code ec;
    if (fs::is_directory(fs::path(path), ec))
        throw UserError(fmt::format("--out '{}': is a directory, must be a file path", path));
    const fs::path existing = deepest_existing(parent);
    if (!existing.empty() && !fs::is_directory(existing, ec))
        throw UserError(
            fmt::format("--out '{}': '{}' is a file, not a directory", path, existing.string()));
    // A directory still to be created needs a writable parent (root may write anywhere).
    if (existing != parent && !existing.empty() && ::access(existing.c_str(), W_OK | X_OK) != 0)
        throw UserError(fmt::format("--out '{}': cannot create directory '{}': '{}' is not "
                                    "writable",
                                    path, parent.string(), existing.string()));
}

void make_output_directory(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::absolute(fs::path(path)).parent_path();
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec || !fs::is_directory(parent))
        throw UserError(fmt::format("--out '{}': cannot create directory '{}': {}", path,
                                    parent.string(),
                                    ec ? ec.message() : std::string("not a directory")));
}

// cbs_version() and cbs_git_sha() are in the generated build_info.cpp (experiments/CMakeLists.txt).

std::string run_id(const sim::SimOptions& options) {
    std::uint64_t hash = fnv1a(to_toml(options));
    // A spectrum file is named by its path in the TOML; its numbers make the run, so they are
    // part of the id too (an edited file is a new run, not a finished one). Its hash's bytes
    // are folded in low byte first.
    if (options.spectrum) {
        unsigned char bytes[8];
        for (int k = 0; k < 8; ++k)
            bytes[k] = static_cast<unsigned char>(options.spectrum->content_hash >> (8 * k));
        hash = fnv1a(bytes, sizeof bytes, hash);
    }
    return fmt::format("r{:016x}", hash);
}

data::RunRecord make_run_record(const sim::SimOptions& options, const sim::Curve& curve) {
    data::RunRecord run;
    run.id = run_id(options);
    for (auto& [key, value] : to_attributes(options))
        run.attrs[key] = value;
    run.attrs["diverged"] = std::int64_t{curve.diverged ? 1 : 0};
    run.attrs["diverged_step"] = curve.diverged_step;
    run.attrs["grid_points"] = curve.grid_points;
    if (options.target_risk > 0.0) {
        run.attrs["target_step"] = curve.target_step;
        run.attrs["target_step_interp"] = curve.target_step_interp;
    }
    run.step = curve.step;
    run.samples = curve.samples;
    run.risk = curve.risk;
    run.risk_ewa = curve.risk_ewa;
    if (!curve.risk_se.empty()) run.extra_curves["risk_se"] = curve.risk_se;
    if (!curve.risk_ewa_se.empty()) run.extra_curves["risk_ewa_se"] = curve.risk_ewa_se;
    return run;
}

data::StudyMeta make_study_meta(const std::string& config) {
    data::StudyMeta meta;
    meta.cbs_version = cbs_version();
    meta.git_sha = cbs_git_sha();
    meta.config = config;
    meta.created = data::utc_timestamp();
    return meta;
}

} // namespace cbs::exp
