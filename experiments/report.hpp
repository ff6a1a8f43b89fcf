// `cbs report`: study files -> DIR/report.html (self-contained, figures embedded), DIR/report.md
// with the figures as PNG files beside it, and DIR/claims.json (the claims table).
//
// The figures are drawn by matplotlib: the embedded script experiments/report/report.py runs
// under Debian's /usr/bin/python3 (or $CBS_PYTHON), which needs python3-numpy, python3-h5py and
// python3-matplotlib. DIR is replaced atomically: a failed report leaves any previous one intact
// and no partial directory behind.
#pragma once

#include <string>
#include <vector>

namespace cbs::exp {

struct ReportOptions {
    std::vector<std::string> studies; ///< study files (HDF5, docs/hdf5-schema.md), at least one
    std::string out_dir;              ///< report directory (created or replaced)
    bool quiet = false;               ///< no summary line on stderr
};

/// The Python interpreter the report runs under: $CBS_PYTHON if set, else /usr/bin/python3.
std::string report_python();

/// Writes the report. Throws cbs::UserError (one line) when the interpreter is missing, a Python
/// module is missing (the message names the Debian package to install), a study file is missing
/// or malformed, or DIR cannot be written; std::runtime_error if the script fails otherwise.
void write_report(const ReportOptions& options);

} // namespace cbs::exp
