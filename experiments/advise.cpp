// `cbs advise`: laws (published, or a study file's), the forecast with its interval, and the
// text and JSON reports. See advise.hpp for what each law is and why.
#include "experiments/advise.hpp"

#include "data/study_file.hpp"
#include "experiments/report_assets.hpp"
#include "theory/check.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

namespace cbs::exp {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

/// A CSV of data/reference/: '#' comment lines, then a header, then rows; no quoting (the files
/// hold none). Rows as name -> cell.
std::vector<std::map<std::string, std::string>> parse_reference_csv(std::string_view name) {
    const auto& assets = report_assets();
    const auto it = std::find_if(assets.begin(), assets.end(),
                                 [&](const EmbeddedFile& f) { return f.name == name; });
    CBS_CHECK(it != assets.end(), "reference file ", name, " is not embedded in cbs");
    std::istringstream in{std::string(it->content)};
    std::vector<std::string> header;
    std::vector<std::map<std::string, std::string>> rows;
    std::string line;
    const auto split = [](const std::string& text) {
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream ss(text);
        while (std::getline(ss, cell, ','))
            cells.push_back(cell);
        return cells;
    };
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        if (header.empty()) {
            header = split(line);
            continue;
        }
        const std::vector<std::string> cells = split(line);
        CBS_CHECK(cells.size() == header.size(), name, ": row '", line, "' has ", cells.size(),
                  " cells, header ", header.size());
        std::map<std::string, std::string> row;
        for (std::size_t k = 0; k < cells.size(); ++k)
            row[header[k]] = cells[k];
        rows.push_back(std::move(row));
    }
    return rows;
}

double cell_number(const std::map<std::string, std::string>& row, const std::string& column,
                   std::string_view file) {
    const auto it = row.find(column);
    CBS_CHECK(it != row.end(), file, " has no column ", column);
    std::size_t used = 0;
    const double v = std::stod(it->second, &used);
    CBS_CHECK(used == it->second.size(), file, ": ", column, " = '", it->second,
              "' is not a number");
    return v;
}

/// 85M, 1.2B, 24.6B, 1.34M: three significant digits with a k/M/B/T suffix.
std::string si(double v) {
    if (!std::isfinite(v)) return fmt::format("{}", v);
    const double a = std::abs(v);
    if (a >= 1e12) return fmt::format("{:.3g}T", v / 1e12);
    if (a >= 1e9) return fmt::format("{:.3g}B", v / 1e9);
    if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
    if (a >= 1e3) return fmt::format("{:.3g}k", v / 1e3);
    return fmt::format("{:.3g}", v);
}

/// 5.6, 20, 1042, 2609: three significant digits, whole numbers from 100 to 1e6.
std::string plain(double v) {
    if (std::abs(v) >= 100 && std::abs(v) < 1e6) return fmt::format("{:.0f}", v);
    return fmt::format("{:.3g}", v);
}

std::string unit_words(double unit, const char* what) {
    if (unit == 1) return what;
    if (unit == 1e6) return fmt::format("millions of {}", what);
    return fmt::format("units of {:g} {}", unit, what);
}

// --- study files --------------------------------------------------------------------------

const data::Table& table_of(const data::Study& study, const std::string& name,
                            const std::string& path) {
    const auto it = study.tables.find(name);
    if (it == study.tables.end())
        throw UserError(fmt::format("'{}': has no table /{}", path, name));
    return it->second;
}

template <typename T>
const std::vector<T>& column_of(const data::Table& table, const std::string& table_name,
                                const std::string& column, const std::string& path) {
    for (const auto& [name, values] : table.columns)
        if (name == column) {
            if (const auto* v = std::get_if<std::vector<T>>(&values)) return *v;
            throw UserError(fmt::format("'{}': column '{}' of /{} has the wrong type: must be {}",
                                        path, column, table_name,
                                        std::is_same_v<T, double> ? "numbers" : "strings"));
        }
    throw UserError(fmt::format("'{}': table /{} has no column '{}'", path, table_name, column));
}

bool same_value(double a, double b) {
    return std::abs(a - b) <= 1e-12 * std::abs(b);
}

/// The context (tokens per sequence) of the study's LM runs; one value required.
double study_context(const data::Study& study, const std::string& path) {
    std::vector<double> contexts;
    for (const data::RunRecord& run : study.runs) {
        const auto sim = run.attrs.find("simulator");
        if (sim == run.attrs.end() || !std::holds_alternative<std::string>(sim->second) ||
            std::get<std::string>(sim->second) != "lm")
            continue;
        const auto it = run.attrs.find("model.context");
        if (it == run.attrs.end()) continue;
        double c = kNan;
        if (const auto* i = std::get_if<std::int64_t>(&it->second)) c = static_cast<double>(*i);
        if (const auto* d = std::get_if<double>(&it->second)) c = *d;
        if (std::isfinite(c) && std::find(contexts.begin(), contexts.end(), c) == contexts.end())
            contexts.push_back(c);
    }
    if (contexts.empty())
        throw UserError(fmt::format("'{}': no LM run records model.context: the sequence length "
                                    "in which its CBS is counted is unknown",
                                    path));
    if (contexts.size() > 1)
        throw UserError(fmt::format("'{}': its LM runs use {} different contexts ({:g}, {:g}, "
                                    "...): a law over mixed sequence lengths is not usable",
                                    path, contexts.size(), contexts[0], contexts[1]));
    return contexts[0];
}

void check_refit(double stored, double refit, const char* what, const std::string& path) {
    // Same points, same code: only summation order may differ, ~1e-15 relative.
    if (!(std::abs(stored - refit) <= 1e-9 * (1 + std::abs(stored))))
        throw UserError(fmt::format("'{}': /fits/lm's {} = {} does not match {} refitted on "
                                    "/cbs/estimates: the file's tables disagree",
                                    path, what, stored, refit));
}

} // namespace

std::string cbs_meaning() {
    return "The critical batch size is the largest batch at which training still scales almost "
           "linearly: past it, doubling the batch costs more than 20% extra optimizer steps over "
           "linear scaling (the study's 20% rule).";
}

CbsLaw published_law() {
    const std::string_view cbs_file = "zhang2025_chinchilla_cbs.csv";
    const std::string_view fits_file = "zhang2025_fits.csv";
    CbsLaw law;
    law.form = CbsLaw::Form::tokens;
    law.context = 512; // the study's sequences (PAPER.md: context 512 tokens)
    law.unit = 1e6;    // the study writes its laws with N and D in millions
    for (const auto& row : parse_reference_csv(cbs_file)) {
        law.params.push_back(cell_number(row, "params_millions", cbs_file) * 1e6);
        law.tokens.push_back(cell_number(row, "tokens_millions", cbs_file) * 1e6);
        law.cbs.push_back(cell_number(row, "cbs_sequences", cbs_file));
    }
    law.single = fit_power_law(law.tokens, law.cbs);
    law.source_kind = "published";
    law.source_path = "data/reference/zhang2025_chinchilla_cbs.csv (embedded in cbs)";

    std::map<std::string, std::map<std::string, std::string>> published;
    for (auto& row : parse_reference_csv(fits_file))
        published[row["setting"]] = row;
    CBS_CHECK(published.count("chinchilla") && published.count("data_size") &&
                  published.count("model_size"),
              fits_file, " lacks a setting");
    const auto law_text = [&](const std::string& setting) {
        const auto& r = published[setting];
        return fmt::format("B* = {} {}^{}", r.at("coefficient"), r.at("variable"),
                           r.at("exponent"));
    };
    const auto fixed_text = [&](const std::string& setting) {
        return published[setting].at("fixed");
    };
    law.source =
        fmt::format("Zhang et al., ICLR 2025 (arXiv 2410.21676): B* = c D^alpha refitted on its {} "
                    "Chinchilla-setting CBS measurements; published: {} ({}) and {} ({})",
                    law.cbs.size(), law_text("data_size"), fixed_text("data_size"),
                    law_text("chinchilla"), fixed_text("chinchilla"));
    // PAPER.md, "Fitted laws": at N = 302M the study varied D from 0.28x to 4x the Chinchilla
    // budget (20 tokens per parameter), i.e. 5.6 to 80 tokens per parameter, and measured the
    // same exponent of D (0.47) as on the Chinchilla line; at fixed D it measured a nearly flat
    // dependence on N. That is what lets the law leave N out away from D = 20 N.
    law.support_tokens_per_param_min = 0.28 * 20;
    law.support_tokens_per_param_max = 4 * 20;
    law.support = fmt::format(
        "the study also varied D at {} from {} to {} tokens per parameter (published {}), "
        "and N at {} (published {}, almost flat), so the law leaves N out",
        fixed_text("data_size"), plain(law.support_tokens_per_param_min),
        plain(law.support_tokens_per_param_max), law_text("data_size"), fixed_text("model_size"),
        law_text("model_size"));
    return law;
}

CbsLaw study_law(const std::string& path, double params, double tokens) {
    const data::Study study = data::read_study(path);
    if (!study.tables.count("fits/lm")) {
        if (study.tables.count("fits/cbs"))
            throw UserError(fmt::format(
                "'{}': holds no language-model law (/fits/lm): its /fits/cbs fits are of a "
                "simulator study, in samples and features, not tokens and parameters",
                path));
        throw UserError(fmt::format("'{}': holds no fitted law (/fits/lm): `cbs run` on an LM "
                                    "study writes one once >= 3 budgets or model sizes are "
                                    "measured",
                                    path));
    }
    const std::string fits_name = "fits/lm";
    const data::Table& fits = table_of(study, fits_name, path);
    const auto& variable = column_of<std::string>(fits, fits_name, "variable", path);
    const auto& exponent = column_of<double>(fits, fits_name, "exponent", path);
    const auto& coefficient = column_of<double>(fits, fits_name, "c", path);
    const auto& fixed_value = column_of<double>(fits, fits_name, "fixed_value", path);
    const auto& gamma = column_of<double>(fits, fits_name, "gamma", path);

    // The row: joint if present; else CBS vs D at the nearest model size; else CBS vs N at the
    // nearest budget.
    std::size_t row = variable.size();
    for (std::size_t k = 0; k < variable.size(); ++k)
        if (variable[k] == "joint") row = k;
    for (const auto& [name, near] :
         {std::pair{"data.samples", params}, std::pair{"model.size", tokens}}) {
        if (row < variable.size()) break;
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t k = 0; k < variable.size(); ++k)
            if (variable[k] == name && fixed_value[k] > 0) {
                const double distance = std::abs(std::log(fixed_value[k] / near));
                if (distance < best) best = distance, row = k;
            }
    }
    if (row == variable.size())
        throw UserError(fmt::format("'{}': /fits/lm holds no fit of the CBS (no row with variable "
                                    "joint, data.samples or model.size)",
                                    path));

    // The points that law was fitted on (experiments/lm_study.cpp: measured LM groups with a
    // finite, positive CBS), and the refit that must reproduce it.
    const std::string est_name = "cbs/estimates";
    const data::Table& est = table_of(study, est_name, path);
    const auto& series = column_of<std::string>(est, est_name, "series", path);
    const auto& n = column_of<double>(est, est_name, "n", path);
    const auto& m = column_of<double>(est, est_name, "M", path);
    const auto& cbs = column_of<double>(est, est_name, "cbs_study", path);
    CbsLaw law;
    law.form = variable[row] == "joint"          ? CbsLaw::Form::joint
               : variable[row] == "data.samples" ? CbsLaw::Form::tokens
                                                 : CbsLaw::Form::params;
    for (std::size_t k = 0; k < series.size(); ++k) {
        if (series[k] != "lm" || !(std::isfinite(cbs[k]) && cbs[k] > 0)) continue;
        if (law.form == CbsLaw::Form::tokens && !same_value(m[k], fixed_value[row])) continue;
        if (law.form == CbsLaw::Form::params && !same_value(n[k], fixed_value[row])) continue;
        law.tokens.push_back(n[k]);
        law.params.push_back(m[k]);
        law.cbs.push_back(cbs[k]);
    }
    const int stored_points =
        static_cast<int>(column_of<double>(fits, fits_name, "points", path)[row]);
    if (static_cast<int>(law.cbs.size()) != stored_points)
        throw UserError(fmt::format("'{}': /fits/lm's {} fit has {} points but /cbs/estimates "
                                    "holds {} matching measured groups: the tables disagree",
                                    path, variable[row], stored_points, law.cbs.size()));
    if (law.form == CbsLaw::Form::joint) {
        law.joint = fit_joint_power_law(law.tokens, law.params, law.cbs);
        check_refit(coefficient[row], law.joint.c, "c", path);
        check_refit(exponent[row], law.joint.alpha, "exponent", path);
        check_refit(gamma[row], law.joint.gamma, "gamma", path);
    } else {
        law.single =
            fit_power_law(law.form == CbsLaw::Form::tokens ? law.tokens : law.params, law.cbs);
        check_refit(coefficient[row], law.single.c, "c", path);
        check_refit(exponent[row], law.single.alpha, "exponent", path);
    }
    law.context = study_context(study, path);
    law.source_kind = "study";
    law.source_path = path;
    switch (law.form) {
    case CbsLaw::Form::joint:
        law.source = fmt::format("study file '{}': its /fits/lm joint fit over {} measured (N, D) "
                                 "groups",
                                 path, law.cbs.size());
        break;
    case CbsLaw::Form::tokens:
        law.source = fmt::format("study file '{}': its /fits/lm fit of the CBS against D at "
                                 "N = {} (the file has no joint fit)",
                                 path, si(fixed_value[row]));
        break;
    case CbsLaw::Form::params:
        law.source = fmt::format("study file '{}': its /fits/lm fit of the CBS against N at "
                                 "D = {} tokens (the file has no joint fit)",
                                 path, si(fixed_value[row]));
        break;
    }
    return law;
}

MeasuredRange measured_range(const CbsLaw& law) {
    CBS_CHECK(!law.cbs.empty() && law.tokens.size() == law.cbs.size() &&
              law.params.size() == law.cbs.size());
    MeasuredRange r;
    r.params_min = *std::min_element(law.params.begin(), law.params.end());
    r.params_max = *std::max_element(law.params.begin(), law.params.end());
    r.tokens_min = *std::min_element(law.tokens.begin(), law.tokens.end());
    r.tokens_max = *std::max_element(law.tokens.begin(), law.tokens.end());
    r.tokens_per_param_min = std::numeric_limits<double>::infinity();
    r.tokens_per_param_max = 0;
    for (std::size_t k = 0; k < law.cbs.size(); ++k) {
        r.tokens_per_param_min = std::min(r.tokens_per_param_min, law.tokens[k] / law.params[k]);
        r.tokens_per_param_max = std::max(r.tokens_per_param_max, law.tokens[k] / law.params[k]);
    }
    return r;
}

Advice advise(const CbsLaw& law, double params, double tokens, double context) {
    if (!(std::isfinite(params) && params > 0))
        throw UserError(fmt::format("params = {}: must be a finite number > 0", params));
    if (!(std::isfinite(tokens) && tokens > 0))
        throw UserError(fmt::format("tokens = {}: must be a finite number > 0", tokens));
    if (!(std::isfinite(context) && context >= 0))
        throw UserError(fmt::format("context = {}: must be a finite number > 0", context));
    Advice a;
    a.params = params;
    a.tokens = tokens;
    a.context = context > 0 ? context : law.context;

    Forecast f;
    int dof = 0;
    switch (law.form) {
    case CbsLaw::Form::tokens:
        f = forecast(law.single, law.tokens, tokens);
        dof = law.single.points - 2;
        break;
    case CbsLaw::Form::params:
        f = forecast(law.single, law.params, params);
        dof = law.single.points - 2;
        break;
    case CbsLaw::Form::joint:
        f = forecast(law.joint, tokens, params);
        dof = law.joint.points - 3;
        break;
    }
    a.has_interval = dof >= 1;
    // B* counts sequences of law.context tokens; a batch of the same tokens in sequences of
    // a.context tokens (the CBS in tokens barely depends on context: PAPER.md).
    a.cbs_tokens = f.value * law.context;
    a.cbs_tokens_low = f.low * law.context;
    a.cbs_tokens_high = f.high * law.context;
    a.cbs_sequences = a.cbs_tokens / a.context;
    a.cbs_sequences_low = a.cbs_tokens_low / a.context;
    a.cbs_sequences_high = a.cbs_tokens_high / a.context;

    // Extrapolation: outside the points' N and D (a relative 1e-9 slack for values typed from the
    // printed range), and for the published law outside the tokens per parameter it was tested at.
    const MeasuredRange r = measured_range(law);
    const double slack = 1e-9;
    const char* extrapolates =
        "the forecast extrapolates, and its interval assumes the law still holds there";
    const auto outside = [&](double v, double low, double high, const std::string& what,
                             const std::string& unit) {
        if (low == high && law.form != CbsLaw::Form::joint) {
            if (std::abs(v - low) > slack * low)
                a.warnings.push_back(fmt::format(
                    "{} = {} {}: the law was measured at {} = {} alone and does not model it, so "
                    "the forecast assumes it does not matter",
                    what, si(v), unit, what, si(low)));
            else
                return;
        } else if (v < low * (1 - slack)) {
            a.warnings.push_back(fmt::format("{} = {} {} is below the smallest the law was "
                                             "measured on ({}, {:.3g}x): {}",
                                             what, si(v), unit, si(low), v / low, extrapolates));
        } else if (v > high * (1 + slack)) {
            a.warnings.push_back(fmt::format("{} = {} {} is above the largest the law was "
                                             "measured on ({}, {:.3g}x): {}",
                                             what, si(v), unit, si(high), v / high, extrapolates));
        } else {
            return;
        }
        a.extrapolated = true;
    };
    outside(params, r.params_min, r.params_max, "N", "non-embedding parameters");
    outside(tokens, r.tokens_min, r.tokens_max, "D", "tokens");
    const double ratio = tokens / params;
    if (std::isfinite(law.support_tokens_per_param_min) &&
        (ratio < law.support_tokens_per_param_min || ratio > law.support_tokens_per_param_max)) {
        a.warnings.push_back(fmt::format(
            "D/N = {} tokens per parameter is outside {} to {}, where the study checked that "
            "the CBS follows D alone: {}",
            plain(ratio), plain(law.support_tokens_per_param_min),
            plain(law.support_tokens_per_param_max), extrapolates));
        a.extrapolated = true;
    }
    if (!a.has_interval)
        a.warnings.push_back("no interval: the law has as many coefficients as points, so no "
                             "residual scale to size one");
    return a;
}

std::string law_expression(const CbsLaw& law) {
    // c in the printed units: c_raw D^alpha = (c_raw unit^alpha) (D / unit)^alpha.
    switch (law.form) {
    case CbsLaw::Form::tokens:
        return fmt::format("B* = {:.4g} D^{:.3f} (D in {}; B* in sequences of {:g} tokens)",
                           law.single.c * std::pow(law.unit, law.single.alpha), law.single.alpha,
                           unit_words(law.unit, "tokens"), law.context);
    case CbsLaw::Form::params:
        return fmt::format("B* = {:.4g} N^{:.3f} (N in {}; B* in sequences of {:g} tokens)",
                           law.single.c * std::pow(law.unit, law.single.alpha), law.single.alpha,
                           unit_words(law.unit, "non-embedding parameters"), law.context);
    case CbsLaw::Form::joint:
        return fmt::format(
            "B* = {:.4g} D^{:.3f} N^{:.3f} (D in {}, N in {}; B* in sequences of {:g} tokens)",
            law.joint.c * std::pow(law.unit, law.joint.alpha + law.joint.gamma), law.joint.alpha,
            law.joint.gamma, unit_words(law.unit, "tokens"),
            unit_words(law.unit, "non-embedding parameters"), law.context);
    }
    return "";
}

std::string advice_text(const CbsLaw& law, const Advice& a) {
    std::string out = fmt::format(
        "Critical batch size for N = {} non-embedding parameters trained on D = {} tokens:\n",
        si(a.params), si(a.tokens));
    if (a.has_interval)
        out += fmt::format("  {} sequences of {:g} tokens (95% interval {} to {})"
                           " = {} tokens per batch ({} to {})\n",
                           plain(a.cbs_sequences), a.context, plain(a.cbs_sequences_low),
                           plain(a.cbs_sequences_high), si(a.cbs_tokens), si(a.cbs_tokens_low),
                           si(a.cbs_tokens_high));
    else
        out += fmt::format("  {} sequences of {:g} tokens = {} tokens per batch\n",
                           plain(a.cbs_sequences), a.context, si(a.cbs_tokens));
    out += cbs_meaning() + "\n";
    std::string exponents;
    if (law.form == CbsLaw::Form::joint)
        exponents =
            fmt::format("exponent of D {:.3f} [{:.3f}, {:.3f}], of N {:.3f} [{:.3f}, "
                        "{:.3f}], R^2 {:.3f}, {} points",
                        law.joint.alpha, law.joint.alpha_low, law.joint.alpha_high, law.joint.gamma,
                        law.joint.gamma_low, law.joint.gamma_high, law.joint.r2, law.joint.points);
    else
        exponents = fmt::format("exponent of {} {:.3f} [{:.3f}, {:.3f}], R^2 {:.3f}, {} points",
                                law.form == CbsLaw::Form::tokens ? "D" : "N", law.single.alpha,
                                law.single.alpha_low, law.single.alpha_high, law.single.r2,
                                law.single.points);
    out += fmt::format("Law: {}; {} (95% intervals)\n", law_expression(law), exponents);
    out += fmt::format("Source: {}\n", law.source);
    const MeasuredRange r = measured_range(law);
    const auto span = [](const std::string& low, const std::string& high) {
        return low == high ? low : low + " to " + high;
    };
    out += fmt::format("Measured on: N {} non-embedding parameters, D {} tokens, {} tokens per "
                       "parameter{}\n",
                       span(si(r.params_min), si(r.params_max)),
                       span(si(r.tokens_min), si(r.tokens_max)),
                       span(plain(r.tokens_per_param_min), plain(r.tokens_per_param_max)),
                       law.support.empty() ? "" : "; " + law.support);
    if (a.context != law.context)
        out += fmt::format("Note: converted from sequences of {:g} tokens at equal tokens per "
                           "batch (the study found context length barely changes the CBS in "
                           "tokens)\n",
                           law.context);
    for (const std::string& w : a.warnings)
        out += "Warning: " + w + "\n";
    return out;
}

std::string advice_json(const CbsLaw& law, const Advice& a) {
    using nlohmann::ordered_json;
    const auto number = [](double v) { return std::isfinite(v) ? ordered_json(v) : nullptr; };
    ordered_json j;
    j["params"] = a.params;
    j["tokens"] = a.tokens;
    j["context"] = a.context;
    j["cbs_sequences"] = number(a.cbs_sequences);
    j["cbs_sequences_low"] = number(a.cbs_sequences_low);
    j["cbs_sequences_high"] = number(a.cbs_sequences_high);
    j["cbs_tokens"] = number(a.cbs_tokens);
    j["cbs_tokens_low"] = number(a.cbs_tokens_low);
    j["cbs_tokens_high"] = number(a.cbs_tokens_high);
    j["interval"] = a.has_interval ? ordered_json(0.95) : nullptr;
    j["meaning"] = cbs_meaning();
    ordered_json l;
    l["expression"] = law_expression(law);
    const bool joint = law.form == CbsLaw::Form::joint;
    l["form"] = joint ? "joint" : law.form == CbsLaw::Form::tokens ? "tokens" : "params";
    const bool has_d = law.form != CbsLaw::Form::params;
    const bool has_n = law.form != CbsLaw::Form::tokens;
    l["coefficient"] = joint ? law.joint.c : law.single.c;
    l["tokens_exponent"] =
        !has_d ? ordered_json(nullptr) : ordered_json(joint ? law.joint.alpha : law.single.alpha);
    l["tokens_exponent_low"] =
        !has_d ? ordered_json(nullptr)
               : ordered_json(joint ? law.joint.alpha_low : law.single.alpha_low);
    l["tokens_exponent_high"] =
        !has_d ? ordered_json(nullptr)
               : ordered_json(joint ? law.joint.alpha_high : law.single.alpha_high);
    l["params_exponent"] =
        !has_n ? ordered_json(nullptr) : ordered_json(joint ? law.joint.gamma : law.single.alpha);
    l["params_exponent_low"] =
        !has_n ? ordered_json(nullptr)
               : ordered_json(joint ? law.joint.gamma_low : law.single.alpha_low);
    l["params_exponent_high"] =
        !has_n ? ordered_json(nullptr)
               : ordered_json(joint ? law.joint.gamma_high : law.single.alpha_high);
    l["context"] = law.context;
    l["r2"] = joint ? law.joint.r2 : law.single.r2;
    l["points"] = joint ? law.joint.points : law.single.points;
    j["law"] = l;
    j["source"] = {{"kind", law.source_kind}, {"path", law.source_path}, {"text", law.source}};
    const MeasuredRange r = measured_range(law);
    j["measured_range"] = {{"params_min", r.params_min},
                           {"params_max", r.params_max},
                           {"tokens_min", r.tokens_min},
                           {"tokens_max", r.tokens_max},
                           {"tokens_per_param_min", r.tokens_per_param_min},
                           {"tokens_per_param_max", r.tokens_per_param_max}};
    j["extrapolated"] = a.extrapolated;
    j["warnings"] = a.warnings;
    return j.dump(2) + "\n";
}

} // namespace cbs::exp
