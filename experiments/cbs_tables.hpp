// The /cbs/estimates and /fits/cbs tables of a study file (docs/hdf5-schema.md), built from plain
// rows so that every study kind (least squares, wide networks, language models) writes the same
// columns and `cbs report` reads them all the same way.
#pragma once

#include "data/json_writer.hpp"
#include "data/study_file.hpp"
#include "experiments/cbs_estimators.hpp"
#include "experiments/scaling_fits.hpp"

#include <string>
#include <vector>

namespace cbs::exp {

/// One group's CBS measurement.
struct EstimateRow {
    std::string series, group, family, note;
    double n = 0;      ///< data size (samples; tokens for LM studies)
    double m = 0;      ///< model size (features M; non-embedding parameters for LM studies)
    double width = 0;  ///< hidden width N of wide networks; NaN otherwise
    double target = 0; ///< target risk used for steps-to-target
    double r_opt = 0;  ///< best EWA risk at the budget
    bool measurable = false;
    CbsEstimates cbs; ///< read only if measurable
};

/// One power-law fit of the CBS (or of R_opt / T*) against a variable.
struct FitRow {
    std::string series, family, variable;
    PowerLawFit fit;
    double predicted = 0; ///< THEORY.md exponent, NaN if none applies
};

data::Table estimates_table(const std::vector<EstimateRow>& rows);
data::Table fits_table(const std::vector<FitRow>& rows);

/// The `--json` object of one group's CBS estimates (docs/json.md): b_opt, fit {a, b} and cbs
/// {study, study_ci, direct, direct_ci, anchor_zero, b_noise}; non-finite numbers are null.
struct CbsJson {
    data::Json b_opt, fit, cbs;
};
CbsJson cbs_estimates_json(const CbsEstimates& c);

} // namespace cbs::exp
