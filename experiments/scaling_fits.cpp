// Power-law fits in log space: y = c x^alpha and y = c n^alpha m^gamma by ordinary least squares
// on logarithms, with 95% Student-t intervals on the residual degrees of freedom (n - 2 and n - 3).
// Sums are taken on centred logarithms so that the normal equations stay well conditioned when
// x spans a few decades far from 1.
#include "experiments/scaling_fits.hpp"

#include "theory/check.hpp"

#include <boost/math/distributions/students_t.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cbs::exp {

namespace {

/// Two-sided 95% quantile of Student's t with `dof` degrees of freedom (dof >= 1).
double t_quantile_975(int dof) {
    CBS_CHECK(dof >= 1, "dof = ", dof);
    const boost::math::students_t distribution(static_cast<double>(dof));
    return boost::math::quantile(distribution, 0.975);
}

void check_same_size(std::size_t expected, std::size_t got, const char* where, const char* name,
                     const char* reference) {
    if (got != expected)
        throw UserError(fmt::format("{}: {} has {} values: must have as many as {} ({})", where,
                                    name, got, reference, expected));
}

/// log of every entry; each must be finite and > 0.
std::vector<double> logs(const std::vector<double>& values, const char* where, const char* name) {
    std::vector<double> out(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
        if (!(std::isfinite(values[k]) && values[k] > 0))
            throw UserError(
                fmt::format("{}: {}[{}] = {}: must be finite and > 0", where, name, k, values[k]));
        out[k] = std::log(values[k]);
    }
    return out;
}

double mean(const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

/// Sum of squared deviations from the mean; exactly-equal entries can leave a rounding residue of
/// ~eps |v| per entry (the mean itself is rounded), so a spread below 1e-12 (1 + max |v|) per
/// entry counts as none.
double spread(const std::vector<double>& v, double mean_v) {
    double sum = 0, largest = 0;
    for (const double value : v) {
        sum += (value - mean_v) * (value - mean_v);
        largest = std::max(largest, std::abs(value));
    }
    const double floor = 1e-12 * (1 + largest);
    return sum <= static_cast<double>(v.size()) * floor * floor ? 0.0 : sum;
}

/// 1 - SSR/SST; a constant response fitted exactly counts as r2 = 1.
double r_squared(double ssr, double sst) {
    if (sst == 0) return ssr == 0 ? 1.0 : 0.0;
    return 1 - ssr / sst;
}

} // namespace

PowerLawFit fit_power_law(const std::vector<double>& x, const std::vector<double>& y) {
    const char* where = "fit_power_law";
    check_same_size(x.size(), y.size(), where, "y", "x");
    if (x.size() < 2) throw UserError(fmt::format("{}: {} points: need >= 2", where, x.size()));
    const std::vector<double> lx = logs(x, where, "x");
    const std::vector<double> ly = logs(y, where, "y");
    const double mx = mean(lx);
    const double my = mean(ly);
    const double sxx = spread(lx, mx);
    double sxy = 0, syy = 0;
    for (std::size_t k = 0; k < lx.size(); ++k) {
        sxy += (lx[k] - mx) * (ly[k] - my);
        syy += (ly[k] - my) * (ly[k] - my);
    }
    if (!(sxx > 0))
        throw UserError(fmt::format("{}: all {} x values equal {}: need >= 2 distinct x", where,
                                    x.size(), x[0]));
    PowerLawFit fit;
    fit.points = static_cast<int>(x.size());
    fit.alpha = sxy / sxx;
    fit.c = std::exp(my - fit.alpha * mx);
    double ssr = 0;
    for (std::size_t k = 0; k < lx.size(); ++k) {
        const double r = ly[k] - my - fit.alpha * (lx[k] - mx);
        ssr += r * r;
    }
    fit.r2 = r_squared(ssr, syy);
    const int dof = fit.points - 2;
    fit.alpha_low = fit.alpha_high = fit.alpha;
    if (dof >= 1) {
        fit.alpha_se = std::sqrt(ssr / dof / sxx);
        const double half = t_quantile_975(dof) * fit.alpha_se;
        fit.alpha_low = fit.alpha - half;
        fit.alpha_high = fit.alpha + half;
    }
    return fit;
}

Forecast forecast(const PowerLawFit& fit, const std::vector<double>& x_fitted, double x) {
    const char* where = "forecast";
    if (static_cast<int>(x_fitted.size()) != fit.points || fit.points < 2)
        throw UserError(
            fmt::format("{}: x_fitted has {} values: must be the {} x values of the fit", where,
                        x_fitted.size(), fit.points));
    if (!(std::isfinite(x) && x > 0))
        throw UserError(fmt::format("{}: x = {}: must be finite and > 0", where, x));
    const std::vector<double> lx = logs(x_fitted, where, "x_fitted");
    const double mx = mean(lx);
    const double sxx = spread(lx, mx);
    if (!(sxx > 0))
        throw UserError(fmt::format("{}: x_fitted values all equal: need >= 2 distinct", where));

    Forecast out;
    const double log_value = std::log(fit.c) + fit.alpha * std::log(x);
    out.value = out.low = out.high = std::exp(log_value);
    const int dof = fit.points - 2;
    if (dof < 1) return out; // two points: no residual scale, as for alpha_low/high
    // Residual scale recovered from the fit: alpha_se^2 = s^2 / Sxx. Prediction interval of a new
    // observation at x: s sqrt(1 + 1/n + (log x - mean log x)^2 / Sxx).
    const double s = fit.alpha_se * std::sqrt(sxx);
    const double d = std::log(x) - mx;
    const double half =
        t_quantile_975(dof) * s * std::sqrt(1 + 1 / static_cast<double>(fit.points) + d * d / sxx);
    out.low = std::exp(log_value - half);
    out.high = std::exp(log_value + half);
    return out;
}

JointPowerLawFit fit_joint_power_law(const std::vector<double>& n, const std::vector<double>& m,
                                     const std::vector<double>& y) {
    const char* where = "fit_joint_power_law";
    check_same_size(n.size(), m.size(), where, "m", "n");
    check_same_size(n.size(), y.size(), where, "y", "n");
    if (n.size() < 3) throw UserError(fmt::format("{}: {} points: need >= 3", where, n.size()));
    const std::vector<double> ln = logs(n, where, "n");
    const std::vector<double> lm = logs(m, where, "m");
    const std::vector<double> ly = logs(y, where, "y");
    const double mn = mean(ln), mm = mean(lm), my = mean(ly);
    const double snn = spread(ln, mn), smm = spread(lm, mm);
    double snm = 0, sny = 0, smy = 0, syy = 0;
    for (std::size_t k = 0; k < ln.size(); ++k) {
        const double dn = ln[k] - mn, dm = lm[k] - mm, dy = ly[k] - my;
        snm += dn * dm;
        sny += dn * dy;
        smy += dm * dy;
        syy += dy * dy;
    }
    // Collinear (log n, log m): the centred Gram matrix is singular, i.e. the squared correlation
    // snm^2 / (snn smm) is 1 (to rounding, hence the 1e-10 margin on 1 - corr^2).
    const double det = snn * smm - snm * snm;
    if (!(snn > 0 && smm > 0 && det > 1e-10 * snn * smm))
        throw UserError(fmt::format("{}: (log n, log m) of the {} points are collinear: alpha and "
                                    "gamma cannot be separated",
                                    where, n.size()));

    JointPowerLawFit fit;
    fit.points = static_cast<int>(n.size());
    fit.alpha = (smm * sny - snm * smy) / det;
    fit.gamma = (snn * smy - snm * sny) / det;
    fit.c = std::exp(my - fit.alpha * mn - fit.gamma * mm);
    double ssr = 0;
    for (std::size_t k = 0; k < ln.size(); ++k) {
        const double r = (ly[k] - my) - fit.alpha * (ln[k] - mn) - fit.gamma * (lm[k] - mm);
        ssr += r * r;
    }
    fit.r2 = r_squared(ssr, syy);
    fit.alpha_low = fit.alpha_high = fit.alpha;
    fit.gamma_low = fit.gamma_high = fit.gamma;
    fit.mean_log_n = mn;
    fit.mean_log_m = mm;
    const int dof = fit.points - 3;
    if (dof >= 1) {
        // Covariance s^2 (X^T X)^-1 of the slopes; (X^T X)^-1 = [smm, -snm; -snm, snn] / det.
        const double s2 = ssr / dof;
        fit.residual_variance = s2;
        fit.cov_alpha_alpha = s2 * smm / det;
        fit.cov_alpha_gamma = -s2 * snm / det;
        fit.cov_gamma_gamma = s2 * snn / det;
        const double t = t_quantile_975(dof);
        const double half_alpha = t * std::sqrt(fit.cov_alpha_alpha);
        const double half_gamma = t * std::sqrt(fit.cov_gamma_gamma);
        fit.alpha_low = fit.alpha - half_alpha;
        fit.alpha_high = fit.alpha + half_alpha;
        fit.gamma_low = fit.gamma - half_gamma;
        fit.gamma_high = fit.gamma + half_gamma;
    }
    return fit;
}

Forecast forecast(const JointPowerLawFit& fit, double n, double m) {
    const char* where = "forecast";
    if (!(std::isfinite(n) && n > 0))
        throw UserError(fmt::format("{}: n = {}: must be finite and > 0", where, n));
    if (!(std::isfinite(m) && m > 0))
        throw UserError(fmt::format("{}: m = {}: must be finite and > 0", where, m));
    CBS_CHECK(fit.points >= 3 && fit.c > 0, "forecast of an empty joint fit: points = ", fit.points,
              ", c = ", fit.c);
    Forecast out;
    const double log_value = std::log(fit.c) + fit.alpha * std::log(n) + fit.gamma * std::log(m);
    out.value = out.low = out.high = std::exp(log_value);
    const int dof = fit.points - 3;
    if (dof < 1) return out; // three points: no residual scale, as for alpha_low/high
    // Var(log y_new - log y_hat) = s^2 (1 + 1/points) + d^T Cov(alpha, gamma) d: the centred
    // intercept (mean log y) is independent of the slopes and has variance s^2 / points.
    const double dn = std::log(n) - fit.mean_log_n;
    const double dm = std::log(m) - fit.mean_log_m;
    const double variance = fit.residual_variance * (1 + 1 / static_cast<double>(fit.points)) +
                            dn * dn * fit.cov_alpha_alpha + 2 * dn * dm * fit.cov_alpha_gamma +
                            dm * dm * fit.cov_gamma_gamma;
    const double half = t_quantile_975(dof) * std::sqrt(variance);
    out.low = std::exp(log_value - half);
    out.high = std::exp(log_value + half);
    return out;
}

std::vector<double> local_slopes(const std::vector<double>& x, const std::vector<double>& y) {
    const char* where = "local_slopes";
    check_same_size(x.size(), y.size(), where, "y", "x");
    if (x.size() < 2) throw UserError(fmt::format("{}: {} points: need >= 2", where, x.size()));
    const std::vector<double> lx = logs(x, where, "x");
    const std::vector<double> ly = logs(y, where, "y");
    std::vector<std::size_t> order(x.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t i, std::size_t j) { return x[i] < x[j]; });
    std::vector<double> slopes;
    slopes.reserve(x.size() - 1);
    for (std::size_t k = 0; k + 1 < order.size(); ++k) {
        const std::size_t i = order[k], j = order[k + 1];
        if (x[i] == x[j])
            throw UserError(fmt::format("{}: x = {} appears twice: the slope between equal x is "
                                        "undefined",
                                        where, x[i]));
        slopes.push_back((ly[j] - ly[i]) / (lx[j] - lx[i]));
    }
    return slopes;
}

} // namespace cbs::exp
