// `cbs advise`: the forecast critical batch size of a planned language-model run of N
// non-embedding parameters on D tokens, from a fitted law B* = c D^alpha N^gamma with a 95%
// prediction interval, and the range of N and D the law was measured on.
//
// Two sources of a law:
//  - the study's published numbers (Zhang et al., ICLR 2025; shared/docs/PAPER.md), embedded from
//    data/reference/: the law B* = c D^alpha (the study's finding: the CBS is set by data, hardly
//    by model size) refitted on its five Chinchilla-setting CBS measurements, so that the
//    forecast carries the fit's uncertainty (t interval on 3 residual degrees of freedom);
//  - a study file of our own (`cbs run` on an LM study): its /fits/lm law (the joint row
//    B* = c D^alpha N^gamma if there is one, else the CBS-vs-D fit at the nearest model size,
//    else the CBS-vs-N fit at the nearest budget), refitted on the /cbs/estimates points it was
//    fitted on, which must reproduce the stored coefficients (that refit gives the covariance the
//    prediction interval needs; the stored table keeps only the exponents' intervals).
//
// Units: D in tokens, N in non-embedding parameters, B* in sequences of the law's context
// (512 tokens for the published law, the study's model.context for a study file). A different
// --context converts at equal tokens per batch: the study found that context length barely
// changes the CBS counted in tokens.
#pragma once

#include "experiments/scaling_fits.hpp"

#include <limits>
#include <string>
#include <vector>

namespace cbs::exp {

/// A fitted CBS law and what it was fitted on.
struct CbsLaw {
    enum class Form {
        tokens, ///< B* = c D^alpha (fit: single, x = tokens)
        params, ///< B* = c N^gamma (fit: single, x = parameters)
        joint,  ///< B* = c D^alpha N^gamma (fit: joint, n = tokens, m = parameters)
    };
    Form form = Form::tokens;
    PowerLawFit single;     ///< for Form::tokens and Form::params, in raw units
    JointPowerLawFit joint; ///< for Form::joint, in raw units
    /// The points fitted: D (tokens), N (non-embedding parameters), B* (sequences of `context`).
    std::vector<double> tokens, params, cbs;
    double context = 512;    ///< tokens per sequence in which B* is counted
    double unit = 1;         ///< D and N are printed in units of this (1e6 for the published law)
    std::string source_kind; ///< "published" or "study"
    std::string source_path; ///< the CSV or study file the points come from
    std::string source;      ///< one line: where the law comes from, e.g. the publication
    /// Tokens per parameter over which the study tested the law's form beyond its own points
    /// (NaN where nothing beyond the points supports it).
    double support_tokens_per_param_min = std::numeric_limits<double>::quiet_NaN();
    double support_tokens_per_param_max = std::numeric_limits<double>::quiet_NaN();
    std::string support; ///< one line on that support ("" if none)
};

/// The published law (data/reference/zhang2025_*.csv, embedded in cbs): B* = c D^alpha refitted
/// on the Chinchilla-setting CBS, context 512.
CbsLaw published_law();

/// The law of a study file (see the file comment). `params` and `tokens` pick the nearest of
/// several one-variable fits when the file has no joint fit. Throws cbs::UserError naming the path
/// if the file cannot be read, holds no LM law, or its fits and estimates disagree.
CbsLaw study_law(const std::string& path, double params, double tokens);

/// The forecast for a run of `params` non-embedding parameters on `tokens` tokens, in sequences
/// of `context` tokens (0 = the law's context).
struct Advice {
    double params = 0, tokens = 0, context = 0;
    double cbs_sequences = 0, cbs_sequences_low = 0, cbs_sequences_high = 0;
    double cbs_tokens = 0, cbs_tokens_low = 0, cbs_tokens_high = 0;
    bool has_interval = false;         ///< false when the law has no residual degrees of freedom
    bool extrapolated = false;         ///< N, D or D/N outside what the law was measured on
    std::vector<std::string> warnings; ///< one line each
};

/// Throws cbs::UserError unless params, tokens > 0 and finite and context >= 0 and finite.
Advice advise(const CbsLaw& law, double params, double tokens, double context = 0);

/// "B* = 22.89 D^0.468 (D in millions of tokens; B* in sequences of 512 tokens)".
std::string law_expression(const CbsLaw& law);

/// Smallest and largest of the law's points: N, D and D/N.
struct MeasuredRange {
    double params_min = 0, params_max = 0;
    double tokens_min = 0, tokens_max = 0;
    double tokens_per_param_min = 0, tokens_per_param_max = 0;
};
MeasuredRange measured_range(const CbsLaw& law);

/// The one sentence that says what the CBS means (text and JSON outputs).
std::string cbs_meaning();

/// The report: text (several lines) or JSON (one object; docs/json.md).
std::string advice_text(const CbsLaw& law, const Advice& advice);
std::string advice_json(const CbsLaw& law, const Advice& advice);

} // namespace cbs::exp
