#include "experiments/cli/report_command.hpp"

#include "data/config_registry.hpp"
#include "data/json_text.hpp"
#include "experiments/cli/measure_command.hpp"
#include "experiments/curve_measure.hpp"
#include "experiments/report.hpp"
#include "theory/check.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <memory>

namespace cbs::exp {

CLI::App* add_report_command(CLI::App& app, ReportArgs& args) {
    CLI::App* cmd = app.add_subcommand(
        "report", "Write the theory-vs-experiment report of study files (and of other trainers' "
                  "curves, measured first: docs/logs.md): DIR/report.html "
                  "(self-contained), DIR/report.md with PNG figures beside it, DIR/claims.json");
    cmd->add_option("studies", args.studies,
                    "Study files (HDF5) written by cbs run / cbs sweep, or other trainers' curves "
                    "(curve CSV, JSON lines, TensorBoard directory; docs/logs.md)")
        ->required();
    cmd->add_option(
           "--out", args.out_dir,
           "Report directory (replaced atomically; missing parent directories are created)")
        ->capture_default_str();
    cmd->add_flag("--quiet", args.quiet, "No summary line on stderr");
    add_curve_options(cmd, args.target, args.budget, args.tag, args.runs, args.skip_invalid);
    cmd->add_option("--target-multiple", args.target_multiple,
                    "curves: target = this multiple of R_opt")
        ->capture_default_str();
    cmd->add_option("--bootstrap", args.bootstrap, "curves: bootstrap resamples")
        ->capture_default_str();
    cmd->footer("Figures are drawn by matplotlib under /usr/bin/python3 (override with the "
                "environment variable CBS_PYTHON); it needs Debian's python3-numpy, "
                "python3-h5py and python3-matplotlib.");
    return cmd;
}

namespace {
/// A private temporary directory for the study files made from curves, removed afterwards.
struct CurveScratch {
    std::filesystem::path path;
    CurveScratch() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "cbs-curves-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throw UserError("cannot create a temporary directory: " +
                            std::string(std::strerror(errno)));
        path = pattern;
    }
    ~CurveScratch() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    CurveScratch(const CurveScratch&) = delete;
    CurveScratch& operator=(const CurveScratch&) = delete;
};
} // namespace

int run_report_command(const ReportArgs& args) {
    if (args.bootstrap < 0)
        throw UserError(fmt::format("--bootstrap {}: must be >= 0", args.bootstrap));
    std::vector<std::string> studies;
    std::unique_ptr<CurveScratch> scratch;
    bool any_curves = false, any_tensorboard = false;
    for (const std::string& input : args.studies) {
        if (!is_curve_input(input)) {
            studies.push_back(input);
            continue;
        }
        any_curves = true;
        if (!scratch) scratch = std::make_unique<CurveScratch>();
        // The TensorBoard options go to the log directories among the inputs (a report may set
        // a CSV export beside TensorBoard logs).
        const bool directory = std::filesystem::is_directory(input);
        any_tensorboard = any_tensorboard || directory;
        const data::CurveLog log = read_curve_input(
            input, directory ? CurveInputOptions{args.tag, args.runs, args.skip_invalid}
                             : CurveInputOptions{});
        const std::vector<CurveGroup> groups = measure_curves(
            log, {args.target, args.budget, args.target_multiple, 0.0, args.bootstrap});
        // The report names each file: "<input name> (curves).h5", numbered if two inputs share it.
        std::string name = std::filesystem::path(input).filename().string();
        if (name.empty() || name == ".") name = "curves";
        std::filesystem::path path = scratch->path / (name + " (curves).h5");
        for (int k = 2; std::filesystem::exists(path); ++k)
            path = scratch->path / fmt::format("{} {} (curves).h5", name, k);
        const std::string config = fmt::format(
            "# cbs report: curves measured from {} ({})\ninput = {}\ntarget = {}\nbudget = {}\n"
            "target_multiple = {}\ntag = {}\nruns = {}\nskip_invalid = {}\nbootstrap = {}\n",
            config::string_text(input), log.format, config::string_text(input), args.target,
            args.budget, args.target_multiple, config::string_text(args.tag),
            config::string_text(args.runs), args.skip_invalid, args.bootstrap);
        data::write_study(path.string(), curves_study(log, groups, config));
        studies.push_back(path.string());
    }
    if (!any_curves && (args.target != 0 || args.budget != 0 || args.target_multiple != 1.0))
        throw UserError("--target, --budget and --target-multiple apply to curves (docs/logs.md), "
                        "and no input is curves");
    if (!any_tensorboard && (!args.tag.empty() || !args.runs.empty() || args.skip_invalid))
        throw UserError("--tag, --runs and --skip-invalid apply to TensorBoard log directories, "
                        "and no input is one");
    write_report({studies, args.out_dir, args.quiet});
    return 0;
}

} // namespace cbs::exp
