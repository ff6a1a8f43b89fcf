#include "experiments/cbs_tables.hpp"

#include <limits>
#include <map>

namespace cbs::exp {

data::Table estimates_table(const std::vector<EstimateRow>& rows) {
    std::vector<std::string> series, group, family, note;
    std::vector<double> n, m, width, target, r_opt, b_opt, fit_a, fit_b, study, study_low,
        study_high, direct, direct_low, direct_high, anchor_zero, b_noise, study10, study50,
        direct10, direct50;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (const EstimateRow& g : rows) {
        series.push_back(g.series);
        group.push_back(g.group);
        family.push_back(g.family);
        note.push_back(g.note);
        n.push_back(g.n);
        m.push_back(g.m);
        width.push_back(g.width);
        target.push_back(g.target);
        r_opt.push_back(g.r_opt);
        const CbsEstimates& c = g.cbs;
        const bool ok = g.measurable;
        auto at = [&](const std::map<double, double>& by, double theta) {
            const auto it = by.find(theta);
            return ok && it != by.end() ? it->second : nan;
        };
        b_opt.push_back(ok ? c.b_opt : nan);
        fit_a.push_back(ok ? c.fit.a : nan);
        fit_b.push_back(ok ? c.fit.b : nan);
        study.push_back(ok ? c.study : nan);
        study_low.push_back(ok ? c.study_ci.low : nan);
        study_high.push_back(ok ? c.study_ci.high : nan);
        direct.push_back(ok ? c.direct : nan);
        direct_low.push_back(ok ? c.direct_ci.low : nan);
        direct_high.push_back(ok ? c.direct_ci.high : nan);
        anchor_zero.push_back(ok ? c.anchor_zero : nan);
        b_noise.push_back(ok ? c.b_noise : nan);
        study10.push_back(at(c.study_by_threshold, 0.1));
        study50.push_back(at(c.study_by_threshold, 0.5));
        direct10.push_back(at(c.direct_by_threshold, 0.1));
        direct50.push_back(at(c.direct_by_threshold, 0.5));
    }
    data::Table t;
    t.columns = {{"series", series},
                 {"group", group},
                 {"family", family},
                 {"n", n},
                 {"M", m},
                 {"width", width},
                 {"target", target},
                 {"r_opt", r_opt},
                 {"b_opt", b_opt},
                 {"fit_a", fit_a},
                 {"fit_b", fit_b},
                 {"cbs_study", study},
                 {"cbs_study_low", study_low},
                 {"cbs_study_high", study_high},
                 {"cbs_direct", direct},
                 {"cbs_direct_low", direct_low},
                 {"cbs_direct_high", direct_high},
                 {"cbs_anchor_zero", anchor_zero},
                 {"b_noise", b_noise},
                 {"cbs_study_10", study10},
                 {"cbs_study_50", study50},
                 {"cbs_direct_10", direct10},
                 {"cbs_direct_50", direct50},
                 {"note", note}};
    t.attrs["description"] = std::string(
        "CBS per group (width = hidden width N for simulator = widenet, else NaN): study = b/(5a) "
        "+ 1.2 B_opt from f(B) = a + b/B; direct = 20% rule on the "
        "points; anchor_zero = b/(5a); b_noise = b/a; _10/_50 = 10%/50% thresholds; _low/_high = "
        "95% bootstrap interval");
    return t;
}

data::Table fits_table(const std::vector<FitRow>& rows) {
    std::vector<std::string> series, family, variable;
    std::vector<double> exponent, low, high, predicted, c, r2, points;
    for (const FitRow& f : rows) {
        series.push_back(f.series);
        family.push_back(f.family);
        variable.push_back(f.variable);
        exponent.push_back(f.fit.alpha);
        low.push_back(f.fit.alpha_low);
        high.push_back(f.fit.alpha_high);
        predicted.push_back(f.predicted);
        c.push_back(f.fit.c);
        r2.push_back(f.fit.r2);
        points.push_back(f.fit.points);
    }
    data::Table t;
    t.columns = {{"series", series},
                 {"family", family},
                 {"variable", variable},
                 {"exponent", exponent},
                 {"exponent_low", low},
                 {"exponent_high", high},
                 {"predicted", predicted},
                 {"c", c},
                 {"r2", r2},
                 {"points", points}};
    t.attrs["description"] =
        std::string("power-law fits CBS = c * x^exponent (95% interval); predicted = THEORY.md");
    return t;
}

CbsJson cbs_estimates_json(const CbsEstimates& c) {
    using data::json_number;
    return {json_number(c.b_opt),
            {{"a", json_number(c.fit.a)}, {"b", json_number(c.fit.b)}},
            {{"study", json_number(c.study)},
             {"study_ci", {json_number(c.study_ci.low), json_number(c.study_ci.high)}},
             {"direct", json_number(c.direct)},
             {"direct_ci", {json_number(c.direct_ci.low), json_number(c.direct_ci.high)}},
             {"anchor_zero", json_number(c.anchor_zero)},
             {"b_noise", json_number(c.b_noise)}}};
}

} // namespace cbs::exp
