// Other trainers' training curves (docs/logs.md): a long CSV or JSON lines, one row per logged
// point, read into runs that `cbs measure` and `cbs report` turn into steps-to-target and CBS.
//
// Fields (CSV header names, JSON keys):
//   run     required  the run's name (one curve per run)
//   batch   required  batch size (any unit: sequences, samples; the CBS comes out in that unit),
//                     > 0, the same on every row of a run
//   step    required  optimizer step, an integer >= 0 ("100.0" accepted: pandas writes integer
//                     columns with gaps that way); no step twice in one run
//   loss    required  the scalar measured (validation loss); `nan`, `inf` or an empty cell (JSON:
//                     null) marks the run as diverged
//   group   optional  one CBS per group (a model size, a budget, any label); default "all"
//   tokens  optional  tokens seen at that step (needed for a budget target); may be empty only on
//                     a diverged row
//   budget  optional  the group's token budget D (the same on every row of a group)
//   any other field   a hyper-parameter (lr, warmup, ...): kept as text and shown with the winning
//                     run of each batch size. A field whose value changes within a run (a logged
//                     learning-rate schedule, say) is no hyper-parameter: it is listed in
//                     `varying_fields` and dropped.
// Every malformed input is refused with cbs::UserError naming the file, the line and the rule.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::data {

/// One run's curve, sorted by step.
struct CurveRun {
    std::string id;
    std::string group;                          ///< "all" when the input has no group
    double batch = 0;                           ///< > 0
    std::map<std::string, std::string> hparams; ///< field -> value (as written)
    std::vector<std::int64_t> step;             ///< strictly increasing, >= 0
    std::vector<double> tokens;                 ///< same length as step, or empty
    std::vector<double> loss;                   ///< same length as step; non-finite = diverged
    bool diverged = false;                      ///< a non-finite loss was logged
    std::string origin;                         ///< where the run was first seen ("file:line")
};

/// The runs of one input.
struct CurveLog {
    std::string source;                       ///< the file or directory read
    std::string format;                       ///< "csv", "jsonl" or "tensorboard"
    std::vector<CurveRun> runs;               ///< sorted by id
    bool has_tokens = false;                  ///< every run has tokens
    std::map<std::string, double> budgets;    ///< group -> budget column, where given
    std::vector<std::string> hparam_names;    ///< sorted
    std::vector<std::string> varying_fields;  ///< dropped: changed within a run
    std::size_t skipped_files = 0;            ///< TensorBoard, --skip-invalid: files skipped
    std::vector<std::string> skipped_reasons; ///< one line each
    std::size_t ignored_run_dirs = 0;         ///< TensorBoard: run directories not in --runs
};

/// Parses a long CSV (text of a file called `name`, used in messages).
CurveLog parse_curves_csv(std::string_view text, const std::string& name);
/// Parses JSON lines (one object per non-blank line).
CurveLog parse_curves_jsonl(std::string_view text, const std::string& name);
/// Reads a file and parses it by its extension: .jsonl / .ndjson / .json = JSON lines, else CSV.
CurveLog read_curves_file(const std::string& path);

/// The header fields of a CSV file's first line (quotes removed, trimmed); empty if unreadable.
std::vector<std::string> csv_header_fields(const std::string& path);

/// One CSV line split into cells (RFC 4180 quoting within the line; cells trimmed). Throws
/// cbs::UserError("<where>: ...") on an unterminated quote or text after a closing quote.
std::vector<std::string> split_csv_line(std::string_view line, const std::string& where);

/// Accumulates rows into runs; shared by the readers (and the TensorBoard reader's runs table).
class CurveLogBuilder {
public:
    explicit CurveLogBuilder(std::string source, std::string format);
    /// One logged point. `loss` non-finite = diverged; `tokens` NaN = not given (allowed on a
    /// diverged row, or when the input has no tokens; a diverged row may also lack the field
    /// where earlier rows have it). `where` = "file:line" for messages.
    void add_point(const std::string& run, const std::string& group, double batch,
                   std::int64_t step, double loss, double tokens, bool has_tokens_field,
                   const std::map<std::string, std::string>& hparams, double budget,
                   const std::string& where);
    /// Sorts, checks runs (duplicate steps, tokens present or absent throughout) and returns.
    CurveLog finish();

private:
    struct Pending {
        CurveRun run;
        std::map<std::string, std::string> hparam_seen;
    };
    std::string source_, format_;
    std::map<std::string, Pending> runs_;
    std::map<std::string, std::pair<double, std::string>> budgets_;
    std::map<std::string, bool> varying_;
    int tokens_state_ = -1; ///< -1 unknown, 0 no tokens field, 1 tokens field
};

/// Parses a number cell: finite or not, strict (the whole cell). nullopt-like: returns false.
bool parse_number(std::string_view cell, double& out);

} // namespace cbs::data
