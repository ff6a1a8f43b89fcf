// Critical-batch-size estimators (PAPER.md, "Definition 1"): the a + b/B fit in log space, its
// closed-form threshold rule, the direct rule on measured points, a percentile bootstrap over the
// points, and the steps-to-target CSV reader.
//
// The fit: minimise F(a, b) = sum_k (log f_k - log(a + b/B_k))^2 over a, b >= 0. Interior
// minimisers are found by Levenberg-Marquardt in (u, v) = (log a, log b), where the Jacobian is
// well scaled (entries are the shares a/(a + b/B) and (b/B)/(a + b/B), both in [0, 1]). The two
// boundaries have closed forms in log space (a = 0: log b = mean(log f + log B); b = 0:
// log a = mean(log f)) and compete with the interior result; the smallest objective wins.
#include "experiments/cbs_estimators.hpp"

#include "theory/check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <string_view>

namespace cbs::exp {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Rejects points a caller could not have measured: B must be finite and > 0, f must be > 0 and
/// either finite or +inf ("never reached the target").
void validate_points(const std::vector<BatchPoint>& points, const char* where) {
    for (std::size_t k = 0; k < points.size(); ++k) {
        const BatchPoint& p = points[k];
        if (!(std::isfinite(p.batch) && p.batch > 0))
            throw UserError(fmt::format("{}: point {} has batch = {}: must be finite and > 0",
                                        where, k, p.batch));
        if (!(p.steps > 0)) // also rejects NaN
            throw UserError(
                fmt::format("{}: point {} (batch {}) has steps = {}: must be > 0 or inf", where, k,
                            p.batch, p.steps));
    }
}

void validate_theta(double theta, const char* where) {
    if (!(std::isfinite(theta) && theta >= 0))
        throw UserError(
            fmt::format("{}: threshold theta = {}: must be finite and >= 0", where, theta));
}

/// log(exp(p) + exp(q)) without overflow; exact for p or q = -inf.
double log_add_exp(double p, double q) {
    const double hi = std::max(p, q);
    if (hi == -kInf) return -kInf;
    return hi + std::log1p(std::exp(-std::abs(p - q)));
}

/// The finite points in log form: y = log f, z = log(1/B) = -log B.
struct LogData {
    std::vector<double> y;
    std::vector<double> z;
};

/// F(u, v) = sum_k (y_k - log(e^u + e^(v + z_k)))^2.
double objective(const LogData& d, double u, double v) {
    double sum = 0;
    for (std::size_t k = 0; k < d.y.size(); ++k) {
        const double r = d.y[k] - log_add_exp(u, v + d.z[k]);
        sum += r * r;
    }
    return sum;
}

struct Candidate {
    double a = 0;
    double b = 0;
    double objective = kInf;
};

/// Levenberg-Marquardt on (u, v) = (log a, log b) from (a0, b0) > 0. Residual r_k = y_k - m_k,
/// m_k = log(a + b/B_k); dm/du = w_k = a/(a + b/B_k), dm/dv = 1 - w_k (computed directly, not by
/// subtraction, so that both shares keep full relative precision when one of them is tiny).
Candidate levenberg_marquardt(const LogData& d, double a0, double b0) {
    CBS_CHECK(a0 > 0 && b0 > 0 && std::isfinite(a0) && std::isfinite(b0), "a0 = ", a0,
              ", b0 = ", b0);
    double u = std::log(a0);
    double v = std::log(b0);
    double f = objective(d, u, v);
    double lambda = 1e-3;
    const std::size_t n = d.y.size();
    for (int iter = 0; iter < 500; ++iter) {
        // Normal equations J^T J delta = -J^T r with J = -[w, 1 - w] (r = y - m).
        double huu = 0, huv = 0, hvv = 0, gu = 0, gv = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double m = log_add_exp(u, v + d.z[k]);
            const double w = std::exp(u - m);
            const double w1 = std::exp(v + d.z[k] - m);
            const double r = d.y[k] - m;
            huu += w * w;
            huv += w * w1;
            hvv += w1 * w1;
            gu += w * r; // -J^T r
            gv += w1 * r;
        }
        const double floor = 1e-15 * (huu + hvv);
        bool improved = false;
        double step = 0;
        while (lambda < 1e20) {
            const double a11 = huu + lambda * (huu + floor);
            const double a22 = hvv + lambda * (hvv + floor);
            const double det = a11 * a22 - huv * huv;
            if (!(det > 0)) {
                lambda *= 4;
                continue;
            }
            const double du = (a22 * gu - huv * gv) / det;
            const double dv = (a11 * gv - huv * gu) / det;
            const double f_new = objective(d, u + du, v + dv);
            if (f_new < f) {
                u += du;
                v += dv;
                step = std::max(std::abs(du), std::abs(dv));
                f = f_new;
                lambda = std::max(lambda / 3, 1e-12);
                improved = true;
                break;
            }
            lambda *= 4;
        }
        // Stop when no step lowers F (at a minimum to rounding) or the step is at rounding level.
        if (!improved || step <= 1e-15 * (1 + std::max(std::abs(u), std::abs(v)))) break;
    }
    return Candidate{std::exp(u), std::exp(v), f};
}

/// Linear interpolation percentile (type 7) of sorted values; handles +inf entries.
double percentile(const std::vector<double>& sorted, double q) {
    CBS_CHECK(!sorted.empty());
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto i = static_cast<std::size_t>(std::floor(pos));
    const double t = pos - static_cast<double>(i);
    if (i + 1 >= sorted.size() || t == 0 || sorted[i] == sorted[i + 1]) return sorted[i];
    return sorted[i] + t * (sorted[i + 1] - sorted[i]);
}

Interval percentile_interval(std::vector<double> values) {
    if (values.empty()) return Interval{kNaN, kNaN};
    std::sort(values.begin(), values.end());
    return Interval{percentile(values, 0.025), percentile(values, 0.975)};
}

int distinct_finite_batches(const std::vector<BatchPoint>& points) {
    std::set<double> batches;
    for (const BatchPoint& p : points)
        if (std::isfinite(p.steps)) batches.insert(p.batch);
    return static_cast<int>(batches.size());
}

std::string_view trim(std::string_view s) {
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = line.find(',', start);
        if (comma == std::string_view::npos) {
            fields.push_back(trim(line.substr(start)));
            return fields;
        }
        fields.push_back(trim(line.substr(start, comma - start)));
        start = comma + 1;
    }
}

bool is_inf_word(std::string_view s) {
    std::string lower(s);
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower == "inf" || lower == "+inf" || lower == "infinity" || lower == "+infinity";
}

/// Parses a whole field as a finite double > 0 (or +inf if allow_inf and the field spells it).
double parse_positive(std::string_view field, const char* column, bool allow_inf,
                      const std::string& where) {
    if (allow_inf && is_inf_word(field)) return kInf;
    double value = 0;
    const char* first = field.data();
    const char* last = field.data() + field.size();
    const auto [end, ec] = std::from_chars(first, last, value);
    if (field.empty() || ec != std::errc() || end != last || !std::isfinite(value))
        throw UserError(fmt::format("{}: {} = '{}': not a finite number{}", where, column, field,
                                    allow_inf ? " or inf" : ""));
    if (!(value > 0))
        throw UserError(fmt::format("{}: {} = '{}': must be > 0", where, column, field));
    return value;
}

} // namespace

StepsFit fit_steps_vs_batch(const std::vector<BatchPoint>& points) {
    validate_points(points, "fit_steps_vs_batch");
    LogData d;
    std::vector<double> f, x; // finite steps and 1/B, for the linear start
    for (const BatchPoint& p : points) {
        if (!std::isfinite(p.steps)) continue;
        d.y.push_back(std::log(p.steps));
        d.z.push_back(-std::log(p.batch));
        f.push_back(p.steps);
        x.push_back(1 / p.batch);
    }
    if (distinct_finite_batches(points) < 2)
        throw UserError(fmt::format(
            "fit_steps_vs_batch: {} finite points with {} distinct batch sizes: need >= 2 finite "
            "points with distinct batch sizes",
            d.y.size(), distinct_finite_batches(points)));
    const std::size_t n = d.y.size();
    const double nd = static_cast<double>(n);

    // Boundary b = 0 (constant): log a = mean(log f). Boundary a = 0 (pure b/B): log b =
    // mean(log f + log B).
    double mean_y = 0, mean_yb = 0;
    for (std::size_t k = 0; k < n; ++k) {
        mean_y += d.y[k] / nd;
        mean_yb += (d.y[k] - d.z[k]) / nd;
    }
    const Candidate constant{std::exp(mean_y), 0, objective(d, mean_y, -kInf)};
    const Candidate pure{0, std::exp(mean_yb), objective(d, -kInf, mean_yb)};

    // Interior: LM from (1) the linear least-squares fit of f on 1/B, clamped positive (exact on
    // exact data), and (2) half of each boundary fit (a start that does not depend on the sign
    // pattern of the linear fit).
    double mean_x = 0, mean_f = 0;
    for (std::size_t k = 0; k < n; ++k) {
        mean_x += x[k] / nd;
        mean_f += f[k] / nd;
    }
    double sxx = 0, sxf = 0;
    for (std::size_t k = 0; k < n; ++k) {
        sxx += (x[k] - mean_x) * (x[k] - mean_x);
        sxf += (x[k] - mean_x) * (f[k] - mean_f);
    }
    CBS_CHECK(sxx > 0, "distinct batch sizes must give a positive spread of 1/B");
    const double min_f = *std::min_element(f.begin(), f.end());
    const double max_b = *std::max_element(x.begin(), x.end()); // 1 / smallest B
    double b_lin = sxf / sxx;
    double a_lin = mean_f - b_lin * mean_x;
    if (!(a_lin > 0)) a_lin = 1e-3 * min_f;
    if (!(b_lin > 0)) b_lin = 1e-3 * min_f / max_b;

    Candidate best = levenberg_marquardt(d, a_lin, b_lin);
    const Candidate second = levenberg_marquardt(d, constant.a / 2, pure.b / 2);
    if (second.objective < best.objective) best = second;
    // A boundary wins ties up to rounding: an interior run that drifts towards a = 0 or b = 0
    // only approaches the boundary's objective from above.
    for (const Candidate& boundary : {constant, pure})
        if (boundary.objective <= best.objective * (1 + 1e-9) + nd * 1e-28) best = boundary;

    StepsFit fit;
    fit.a = best.a;
    fit.b = best.b;
    fit.rms_log_residual = std::sqrt(best.objective / nd);
    fit.points_used = static_cast<int>(n);
    return fit;
}

double fitted_cbs(const StepsFit& fit, double theta, double b_opt) {
    validate_theta(theta, "fitted_cbs");
    if (!(std::isfinite(b_opt) && b_opt > 0))
        throw UserError(fmt::format("fitted_cbs: b_opt = {}: must be finite and > 0", b_opt));
    CBS_CHECK(fit.a >= 0 && fit.b >= 0, "a = ", fit.a, ", b = ", fit.b);
    if (fit.a == 0) return kInf;
    return theta * fit.b / fit.a + (1 + theta) * b_opt;
}

double direct_cbs(const std::vector<BatchPoint>& points, double theta, double b_opt) {
    validate_points(points, "direct_cbs");
    validate_theta(theta, "direct_cbs");
    // Repeated batch sizes collapse to their fewest steps (f is "best over the sweep at B").
    std::map<double, double> steps_at;
    for (const BatchPoint& p : points) {
        const auto [it, inserted] = steps_at.emplace(p.batch, p.steps);
        if (!inserted) it->second = std::min(it->second, p.steps);
    }
    const auto anchor = steps_at.find(b_opt);
    if (anchor == steps_at.end())
        throw UserError(
            fmt::format("direct_cbs: b_opt = {}: must be one of the points' batch sizes", b_opt));
    if (!std::isfinite(anchor->second)) return kNaN;

    // Overhead over linear scaling: f(B) B / (f(b_opt) b_opt); +inf where f is +inf.
    const double reference = anchor->second * anchor->first;
    const double limit = 1 + theta;
    const auto ratio = [&](std::map<double, double>::const_iterator it) {
        return it->second * it->first / reference;
    };
    auto last = steps_at.cend();
    for (auto it = std::next(anchor); it != steps_at.cend(); ++it)
        if (ratio(it) <= limit) last = it;
    if (last == steps_at.cend()) return b_opt;
    const auto next = std::next(last);
    if (next == steps_at.cend()) return last->first;
    const double r_last = ratio(last);
    const double r_next = ratio(next); // > limit, since `last` is the largest qualifying point
    CBS_CHECK(r_next > limit && r_last <= limit, "r_last = ", r_last, ", r_next = ", r_next);
    if (!std::isfinite(r_next)) return last->first; // interpolation towards +inf stays at `last`
    const double t = (limit - r_last) / (r_next - r_last);
    if (t == 0) return last->first;
    return std::exp(std::log(last->first) + t * (std::log(next->first) - std::log(last->first)));
}

CbsEstimates estimate_cbs(const std::vector<BatchPoint>& points, double b_opt_override,
                          int bootstrap_samples, std::uint64_t seed) {
    validate_points(points, "estimate_cbs");
    if (bootstrap_samples < 0)
        throw UserError(
            fmt::format("estimate_cbs: bootstrap_samples = {}: must be >= 0", bootstrap_samples));
    if (!(b_opt_override >= 0) || !std::isfinite(b_opt_override))
        throw UserError(fmt::format(
            "estimate_cbs: b_opt = {}: must be > 0 (a measured batch size) or 0 (automatic)",
            b_opt_override));

    // Anchor: the override (a measured batch with a finite f), else the smallest finite batch.
    // Among repeated batch sizes the fewest steps win, as in direct_cbs.
    std::size_t anchor = points.size();
    for (std::size_t k = 0; k < points.size(); ++k) {
        const BatchPoint& p = points[k];
        if (!std::isfinite(p.steps)) continue;
        if (b_opt_override > 0 && p.batch != b_opt_override) continue;
        const bool better = anchor == points.size() || p.batch < points[anchor].batch ||
                            (p.batch == points[anchor].batch && p.steps < points[anchor].steps);
        if (better) anchor = k;
    }
    if (anchor == points.size()) {
        if (b_opt_override > 0)
            throw UserError(fmt::format("estimate_cbs: b_opt = {}: must be a measured batch size "
                                        "with finite steps (linear-scaling anchor)",
                                        b_opt_override));
        throw UserError("estimate_cbs: no point with finite steps: need >= 2 to fit");
    }

    CbsEstimates out;
    out.b_opt = points[anchor].batch;
    out.fit = fit_steps_vs_batch(points);
    out.study = fitted_cbs(out.fit, 0.2, out.b_opt);
    out.direct = direct_cbs(points, 0.2, out.b_opt);
    out.anchor_zero = out.fit.a == 0 ? kInf : out.fit.b / (5 * out.fit.a);
    out.b_noise = out.fit.a == 0 ? kInf : out.fit.b / out.fit.a;
    for (const double theta : {0.1, 0.2, 0.5}) {
        out.study_by_threshold[theta] = fitted_cbs(out.fit, theta, out.b_opt);
        out.direct_by_threshold[theta] = direct_cbs(points, theta, out.b_opt);
    }

    // Percentile bootstrap: the anchor plus n - 1 draws with replacement from all n points.
    // Indices come from rng() % n (bias ~ n / 2^64) so resamples do not depend on the standard
    // library's distribution implementation.
    std::mt19937_64 rng(seed);
    const std::size_t n = points.size();
    std::vector<double> study_values, direct_values;
    std::vector<BatchPoint> resample(n);
    for (int s = 0; s < bootstrap_samples; ++s) {
        resample[0] = points[anchor];
        for (std::size_t k = 1; k < n; ++k)
            resample[k] = points[static_cast<std::size_t>(rng() % n)];
        if (distinct_finite_batches(resample) < 2) continue;
        const StepsFit fit = fit_steps_vs_batch(resample);
        study_values.push_back(fitted_cbs(fit, 0.2, out.b_opt));
        direct_values.push_back(direct_cbs(resample, 0.2, out.b_opt));
    }
    out.bootstrap_samples = static_cast<int>(study_values.size());
    out.study_ci = percentile_interval(std::move(study_values));
    out.direct_ci = percentile_interval(std::move(direct_values));
    return out;
}

std::map<std::string, std::vector<BatchPoint>> read_steps_csv(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw UserError(fmt::format("{}: cannot open steps-to-target CSV", path));

    std::map<std::string, std::vector<BatchPoint>> groups;
    std::string line;
    int line_number = 0;
    std::size_t columns = 0; // 0 until the header is read
    std::size_t rows = 0;
    while (std::getline(in, line)) {
        ++line_number;
        const std::string_view text = trim(line);
        if (text.empty()) continue; // blank lines, including a trailing one
        const std::string where = fmt::format("{}:{}", path, line_number);
        const std::vector<std::string_view> fields = split_fields(text);
        if (columns == 0) {
            const bool with_group = fields.size() == 3 && fields[0] == "group" &&
                                    fields[1] == "batch" && fields[2] == "steps";
            const bool without_group =
                fields.size() == 2 && fields[0] == "batch" && fields[1] == "steps";
            if (!with_group && !without_group)
                throw UserError(fmt::format(
                    "{}: header '{}': must be 'group,batch,steps' or 'batch,steps'", where, text));
            columns = fields.size();
            continue;
        }
        if (fields.size() != columns)
            throw UserError(fmt::format("{}: row '{}' has {} fields: the header has {}", where,
                                        text, fields.size(), columns));
        std::string group = "all";
        if (columns == 3) {
            if (fields[0].empty())
                throw UserError(fmt::format("{}: row '{}': group must not be empty", where, text));
            group = std::string(fields[0]);
        }
        BatchPoint point;
        point.batch = parse_positive(fields[columns - 2], "batch", false, where);
        point.steps = parse_positive(fields[columns - 1], "steps", true, where);
        groups[group].push_back(point);
        ++rows;
    }
    if (in.bad()) throw UserError(fmt::format("{}: read error", path));
    if (columns == 0)
        throw UserError(
            fmt::format("{}:{}: missing header: must be 'group,batch,steps' or 'batch,steps'", path,
                        line_number + 1));
    if (rows == 0)
        throw UserError(fmt::format("{}:{}: no data rows after the header", path, line_number + 1));
    return groups;
}

} // namespace cbs::exp
