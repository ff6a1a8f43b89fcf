// Files embedded in the cbs executable at build time (experiments/report/embed_files.cmake): the
// report script and the published reference numbers it plots, so `cbs report` works from any
// directory without the source tree.
#pragma once

#include <string_view>
#include <vector>

namespace cbs::exp {

struct EmbeddedFile {
    std::string_view name;    ///< file name, e.g. "report.py" or "zhang2025_fits.csv"
    std::string_view content; ///< the file's bytes (UTF-8 text)
};

/// report.py first, then the CSV files of data/reference/.
const std::vector<EmbeddedFile>& report_assets();

} // namespace cbs::exp
