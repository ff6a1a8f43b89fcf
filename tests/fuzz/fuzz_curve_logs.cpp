// Fuzz target: arbitrary bytes as a long CSV and as JSON lines of training curves
// (data/curve_logs.hpp) -> runs -> steps-to-target and CBS (experiments/curve_measure.hpp).
// Each parser refuses with cbs::UserError, or returns runs that keep the reader's promises: sorted
// unique ids, steps strictly increasing and >= 0, tokens for every point or none, batch sizes in
// (0, 1e12], `diverged` exactly when a loss is not finite. Accepted runs are then measured with a
// fixed target and, when tokens were logged, at a budget; measurement may refuse only with
// cbs::UserError. Seeds: corpus/fuzz_curve_logs/ (CSV and JSON-lines files as docs/logs.md
// describes them).
#include "data/curve_logs.hpp"
#include "experiments/curve_measure.hpp"
#include "fuzz_support.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <cmath>

namespace {

void check_and_measure(const cbs::data::CurveLog& log) {
    FUZZ_REQUIRE(!log.runs.empty(), "an accepted log has runs");
    double max_tokens = 0;
    for (std::size_t i = 0; i < log.runs.size(); ++i) {
        const cbs::data::CurveRun& r = log.runs[i];
        FUZZ_REQUIRE(i == 0 || log.runs[i - 1].id < r.id, "runs sorted, ids unique");
        FUZZ_REQUIRE(!r.id.empty() && !r.group.empty(), "run and group named");
        FUZZ_REQUIRE(r.batch > 0 && r.batch <= 1e12, "batch in range");
        FUZZ_REQUIRE(!r.step.empty() && r.loss.size() == r.step.size(), "curve lengths");
        FUZZ_REQUIRE(log.has_tokens ? r.tokens.size() == r.step.size() : r.tokens.empty(),
                     "tokens for all points or none");
        bool nonfinite = false;
        for (std::size_t k = 0; k < r.step.size(); ++k) {
            FUZZ_REQUIRE(r.step[k] >= 0 && (k == 0 || r.step[k] > r.step[k - 1]),
                         "steps strictly increasing");
            nonfinite = nonfinite || !std::isfinite(r.loss[k]);
            if (log.has_tokens && std::isfinite(r.tokens[k]))
                max_tokens = std::max(max_tokens, r.tokens[k]);
        }
        FUZZ_REQUIRE(nonfinite == r.diverged, "diverged iff a loss is not finite");
    }
    for (const auto& [target, budget] :
         {std::pair{1.0, 0.0},
          std::pair{0.0, log.has_tokens && max_tokens > 0 ? max_tokens : 0.0}}) {
        if (target == 0 && budget == 0 && log.budgets.empty()) continue;
        try {
            const auto groups = cbs::exp::measure_curves(log, {target, budget, 1.0, 0, 8});
            for (const auto& g : groups)
                FUZZ_REQUIRE(g.points.size() == g.winners.size(), "one winner per batch size");
            (void)cbs::exp::curves_summary_json(log, groups);
            (void)cbs::exp::curves_summary_text(log, groups);
        } catch (const cbs::UserError&) {
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text = cbs::fuzz::as_text(data, size);
    try {
        check_and_measure(cbs::data::parse_curves_csv(text, "fuzz.csv"));
    } catch (const cbs::UserError&) {
    }
    try {
        check_and_measure(cbs::data::parse_curves_jsonl(text, "fuzz.jsonl"));
    } catch (const cbs::UserError&) {
    }
    return 0;
}
