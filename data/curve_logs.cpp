// Long CSV and JSON-lines training curves (curve_logs.hpp). JSON is parsed by nlohmann-json;
// CSV cells are split here (one record per line, RFC 4180 quotes within a line).
#include "data/curve_logs.hpp"

#include "data/json_text.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

namespace cbs::data {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Steps past 2^53 are not exact in a double (JSON numbers, "100.0" cells); no trainer logs them.
constexpr double kMaxStep = 9007199254740992.0;
constexpr double kMaxBatch = 1e12; // as the simulators' `batch` bound (experiments/sim_config)

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

/// Printable form of a user's cell for messages (bounded, control characters escaped).
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 60))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                   ? fmt::format("\\x{:02x}", static_cast<unsigned char>(c))
                   : std::string(1, c);
    if (s.size() > 60) out += "...";
    return out;
}

const std::set<std::string>& reserved_fields() {
    static const std::set<std::string> f{"run",   "batch",  "step",  "loss",
                                         "group", "tokens", "budget"};
    return f;
}

double checked_batch(double batch, const std::string& where, const std::string& text) {
    if (!std::isfinite(batch) || !(batch > 0) || batch > kMaxBatch)
        throw UserError(
            fmt::format("{}: batch '{}': must be a number in (0, 1e12]", where, shown(text)));
    return batch;
}

std::int64_t checked_step(double step, const std::string& where, const std::string& text) {
    if (!std::isfinite(step) || step < 0 || step > kMaxStep || step != std::floor(step))
        throw UserError(fmt::format("{}: step '{}': must be an integer >= 0 (at most 2^53)", where,
                                    shown(text)));
    return static_cast<std::int64_t>(step);
}

} // namespace

bool parse_number(std::string_view cell, double& out) {
    cell = trim(cell);
    if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
    if (cell.empty()) return false;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), out);
    if (ec == std::errc::result_out_of_range) {
        // from_chars leaves `out` unset on overflow: the value is beyond double's range.
        const bool negative = cell.front() == '-';
        out = negative ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
        return end == cell.data() + cell.size();
    }
    return ec == std::errc() && end == cell.data() + cell.size();
}

std::vector<std::string> split_csv_line(std::string_view line, const std::string& where) {
    std::vector<std::string> cells;
    std::size_t i = 0;
    while (true) {
        std::string cell;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        if (i < line.size() && line[i] == '"') {
            const std::size_t open = i++;
            bool closed = false;
            while (i < line.size()) {
                if (line[i] == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        cell += '"';
                        i += 2;
                        continue;
                    }
                    closed = true;
                    ++i;
                    break;
                }
                cell += line[i++];
            }
            if (!closed)
                throw UserError(
                    fmt::format("{}: unterminated quote at column {} (a quoted cell must end on "
                                "its line)",
                                where, open + 1));
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                ++i;
            if (i < line.size() && line[i] != ',')
                throw UserError(
                    fmt::format("{}: text after the closing quote at column {}", where, i + 1));
        } else {
            const std::size_t start = i;
            while (i < line.size() && line[i] != ',')
                ++i;
            cell = std::string(trim(line.substr(start, i - start)));
        }
        cells.push_back(std::move(cell));
        if (i >= line.size()) break;
        ++i; // the comma
    }
    return cells;
}

CurveLogBuilder::CurveLogBuilder(std::string source, std::string format)
    : source_(std::move(source)), format_(std::move(format)) {}

void CurveLogBuilder::add_point(const std::string& run, const std::string& group, double batch,
                                std::int64_t step, double loss, double tokens,
                                bool has_tokens_field,
                                const std::map<std::string, std::string>& hparams, double budget,
                                const std::string& where) {
    if (run.empty())
        throw UserError(fmt::format("{}: run: empty (every row names its run)", where));
    const std::string g = group.empty() ? "all" : group;
    // A diverged row may leave out `tokens` (JSON lines) where the rows before it have it.
    if (!has_tokens_field && !std::isfinite(loss) && tokens_state_ == 1) {
        has_tokens_field = true;
        tokens = std::numeric_limits<double>::quiet_NaN();
    }
    if (tokens_state_ < 0) tokens_state_ = has_tokens_field ? 1 : 0;
    if ((tokens_state_ == 1) != has_tokens_field)
        throw UserError(fmt::format("{}: `tokens` {} here but {} on earlier rows: give it on every "
                                    "row or on none",
                                    where, has_tokens_field ? "given" : "missing",
                                    has_tokens_field ? "missing" : "given"));
    if (has_tokens_field) {
        if (std::isnan(tokens) && std::isfinite(loss))
            throw UserError(fmt::format(
                "{}: tokens: empty on a row with a finite loss (only a diverged row may omit it)",
                where));
        if (!std::isnan(tokens) && (!std::isfinite(tokens) || tokens < 0))
            throw UserError(
                fmt::format("{}: tokens {}: must be a finite number >= 0", where, tokens));
    }
    if (!std::isnan(budget)) {
        if (!std::isfinite(budget) || !(budget > 0))
            throw UserError(
                fmt::format("{}: budget {}: must be a finite number > 0", where, budget));
        auto [it, inserted] = budgets_.emplace(g, std::pair{budget, where});
        if (!inserted && it->second.first != budget)
            throw UserError(
                fmt::format("{}: budget {} for group '{}', but {} at {}: one budget per "
                            "group",
                            where, budget, g, it->second.first, it->second.second));
    }
    auto [it, inserted] = runs_.try_emplace(run);
    Pending& p = it->second;
    if (inserted) {
        p.run.id = run;
        p.run.group = g;
        p.run.batch = batch;
        p.run.origin = where;
    } else {
        if (p.run.batch != batch)
            throw UserError(fmt::format("{}: run '{}': batch {} here but {} at {}: one batch size "
                                        "per run",
                                        where, shown(run), batch, p.run.batch, p.run.origin));
        if (p.run.group != g)
            throw UserError(fmt::format("{}: run '{}': group '{}' here but '{}' at {}: one group "
                                        "per run",
                                        where, shown(run), shown(g), shown(p.run.group),
                                        p.run.origin));
    }
    p.run.step.push_back(step);
    p.run.loss.push_back(loss);
    if (has_tokens_field) p.run.tokens.push_back(tokens);
    if (!std::isfinite(loss)) p.run.diverged = true;
    for (const auto& [key, value] : hparams) {
        if (value.empty()) continue; // a field not logged on this row
        auto [h, first] = p.hparam_seen.emplace(key, value);
        if (!first && h->second != value) varying_[key] = true;
    }
}

CurveLog CurveLogBuilder::finish() {
    CurveLog log;
    log.source = source_;
    log.format = format_;
    log.has_tokens = tokens_state_ == 1;
    for (const auto& [group, b] : budgets_)
        log.budgets[group] = b.first;
    std::set<std::string> names;
    for (auto& [id, p] : runs_) {
        CurveRun& r = p.run;
        // Sort the points by step (rows of runs may interleave or come unsorted).
        std::vector<std::size_t> order(r.step.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return r.step[a] < r.step[b]; });
        CurveRun sorted = r;
        for (std::size_t k = 0; k < order.size(); ++k) {
            sorted.step[k] = r.step[order[k]];
            sorted.loss[k] = r.loss[order[k]];
            if (!r.tokens.empty()) sorted.tokens[k] = r.tokens[order[k]];
        }
        for (std::size_t k = 1; k < sorted.step.size(); ++k)
            if (sorted.step[k] == sorted.step[k - 1])
                throw UserError(fmt::format("{}: run '{}': step {} logged twice (first row of the "
                                            "run: {})",
                                            source_, shown(id), sorted.step[k], r.origin));
        for (const auto& [key, value] : p.hparam_seen)
            if (!varying_.count(key)) {
                sorted.hparams[key] = value;
                names.insert(key);
            }
        log.runs.push_back(std::move(sorted));
    }
    log.hparam_names.assign(names.begin(), names.end());
    for (const auto& [key, v] : varying_)
        log.varying_fields.push_back(key);
    if (log.runs.empty())
        throw UserError(fmt::format("{}: no data rows (a header and at least one row per run are "
                                    "needed)",
                                    source_));
    return log;
}

CurveLog parse_curves_csv(std::string_view text, const std::string& name) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3); // a UTF-8 byte-order mark
    if (text.find('\0') != std::string_view::npos)
        throw UserError(
            fmt::format("{}: a NUL byte at offset {}: not a text CSV file", name, text.find('\0')));
    // Names end up in JSON output and HDF5 strings, both UTF-8.
    if (const auto bad = find_invalid_utf8(text))
        throw UserError(fmt::format("{}: invalid UTF-8 at byte {}", name, *bad));
    std::size_t pos = 0;
    int line_no = 0;
    auto next_line = [&](std::string_view& line) {
        if (pos >= text.size()) return false;
        const std::size_t nl = text.find('\n', pos);
        line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        return true;
    };
    std::string_view line;
    std::vector<std::string> header;
    while (next_line(line))
        if (!trim(line).empty()) {
            header = split_csv_line(line, fmt::format("{}:{}", name, line_no));
            break;
        }
    if (header.empty()) throw UserError(fmt::format("{}: empty file: no header", name));
    std::map<std::string, std::size_t> column;
    for (std::size_t k = 0; k < header.size(); ++k) {
        if (header[k].empty())
            throw UserError(
                fmt::format("{}:{}: header column {} has no name", name, line_no, k + 1));
        if (!column.emplace(header[k], k).second)
            throw UserError(
                fmt::format("{}:{}: header names '{}' twice", name, line_no, shown(header[k])));
    }
    for (const char* required : {"run", "batch", "step", "loss"})
        if (!column.count(required))
            throw UserError(fmt::format("{}:{}: header has no `{}` column: a curve CSV needs "
                                        "run,batch,step,loss (optional group, tokens, budget; "
                                        "other columns are hyper-parameters)",
                                        name, line_no, required));
    const auto col = [&](const char* key) {
        const auto it = column.find(key);
        return it == column.end() ? std::string::npos : it->second;
    };
    const std::size_t c_run = col("run"), c_batch = col("batch"), c_step = col("step"),
                      c_loss = col("loss"), c_group = col("group"), c_tokens = col("tokens"),
                      c_budget = col("budget");
    CurveLogBuilder builder(name, "csv");
    while (next_line(line)) {
        if (trim(line).empty()) continue;
        const std::string where = fmt::format("{}:{}", name, line_no);
        const std::vector<std::string> cells = split_csv_line(line, where);
        if (cells.size() != header.size())
            throw UserError(
                fmt::format("{}: {} cells, the header has {}", where, cells.size(), header.size()));
        double batch = 0, step = 0, loss = kNaN, tokens = kNaN, budget = kNaN;
        if (!parse_number(cells[c_batch], batch))
            throw UserError(
                fmt::format("{}: batch '{}' is not a number", where, shown(cells[c_batch])));
        checked_batch(batch, where, cells[c_batch]);
        if (!parse_number(cells[c_step], step))
            throw UserError(
                fmt::format("{}: step '{}' is not a number", where, shown(cells[c_step])));
        const std::int64_t s = checked_step(step, where, cells[c_step]);
        if (!cells[c_loss].empty() && !parse_number(cells[c_loss], loss))
            throw UserError(fmt::format("{}: loss '{}' is not a number (nan, inf or an empty cell "
                                        "mark a diverged run)",
                                        where, shown(cells[c_loss])));
        if (std::isnan(loss)) loss = kNaN; // -nan and nan alike
        if (c_tokens != std::string::npos && !cells[c_tokens].empty() &&
            !parse_number(cells[c_tokens], tokens))
            throw UserError(
                fmt::format("{}: tokens '{}' is not a number", where, shown(cells[c_tokens])));
        if (c_budget != std::string::npos && !parse_number(cells[c_budget], budget))
            throw UserError(
                fmt::format("{}: budget '{}' is not a number", where, shown(cells[c_budget])));
        std::map<std::string, std::string> hparams;
        for (std::size_t k = 0; k < header.size(); ++k)
            if (!reserved_fields().count(header[k])) hparams[header[k]] = cells[k];
        builder.add_point(cells[c_run], c_group == std::string::npos ? "" : cells[c_group], batch,
                          s, loss, tokens, c_tokens != std::string::npos, hparams, budget, where);
    }
    return builder.finish();
}

namespace {

/// A JSON scalar as text: strings as they are, numbers and booleans as JSON writes them.
std::string json_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

double json_number(const nlohmann::json& v, const char* key, const std::string& where) {
    if (v.is_number()) return v.get<double>();
    throw UserError(fmt::format("{}: `{}` = {}: must be a number", where, key, shown(v.dump())));
}

} // namespace

CurveLog parse_curves_jsonl(std::string_view text, const std::string& name) {
    CurveLogBuilder builder(name, "jsonl");
    std::size_t pos = 0;
    int line_no = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (trim(line).empty()) continue;
        const std::string where = fmt::format("{}:{}", name, line_no);
        nlohmann::json row;
        try {
            row = nlohmann::json::parse(line.begin(), line.end());
        } catch (const nlohmann::json::parse_error& e) {
            // e.byte is 1-based within the line.
            throw UserError(fmt::format("{}: not JSON at byte {} of the line (one object per line; "
                                        "a diverged loss is null)",
                                        where, e.byte));
        } catch (const nlohmann::json::exception& e) {
            // out_of_range 406: a number too large for a double (found by fuzz_curve_logs).
            throw UserError(fmt::format("{}: not JSON that can be read: {}", where,
                                        e.id == 406 ? "a number beyond the range of a double"
                                                    : shown(e.what())));
        }
        if (!row.is_object())
            throw UserError(
                fmt::format("{}: a line must be one JSON object, not {}", where, row.type_name()));
        for (const char* required : {"run", "batch", "step", "loss"})
            if (!row.contains(required))
                throw UserError(fmt::format("{}: field `{}` missing (each line needs run, batch, "
                                            "step, loss)",
                                            where, required));
        const nlohmann::json& run = row["run"];
        if (!run.is_string() && !run.is_number())
            throw UserError(fmt::format("{}: `run` = {}: must be a string or a number", where,
                                        shown(run.dump())));
        const double batch =
            checked_batch(json_number(row["batch"], "batch", where), where, row["batch"].dump());
        const std::int64_t step =
            checked_step(json_number(row["step"], "step", where), where, row["step"].dump());
        double loss = kNaN;
        const nlohmann::json& l = row["loss"];
        if (l.is_number())
            loss = l.get<double>();
        else if (l.is_string() && parse_number(l.get<std::string>(), loss) && !std::isfinite(loss))
            loss = kNaN; // "nan" / "inf" written as strings: diverged
        else if (!l.is_null())
            throw UserError(fmt::format("{}: `loss` = {}: must be a number or null (diverged)",
                                        where, shown(l.dump())));
        if (std::isnan(loss)) loss = kNaN;
        std::string group;
        if (row.contains("group")) {
            const nlohmann::json& g = row["group"];
            if (!g.is_string() && !g.is_number())
                throw UserError(fmt::format("{}: `group` = {}: must be a string or a number", where,
                                            shown(g.dump())));
            group = json_text(g);
        }
        double tokens = kNaN;
        const bool has_tokens = row.contains("tokens");
        if (has_tokens && !row["tokens"].is_null())
            tokens = json_number(row["tokens"], "tokens", where);
        double budget = kNaN;
        if (row.contains("budget") && !row["budget"].is_null())
            budget = json_number(row["budget"], "budget", where);
        std::map<std::string, std::string> hparams;
        for (const auto& [key, value] : row.items())
            if (!reserved_fields().count(key) && !value.is_null()) hparams[key] = json_text(value);
        builder.add_point(json_text(run), group, batch, step, loss, tokens, has_tokens, hparams,
                          budget, where);
    }
    if (line_no == 0) throw UserError(fmt::format("{}: empty file", name));
    return builder.finish();
}

namespace {
std::string read_whole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UserError(fmt::format("cannot read '{}': no such file or not readable", path));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool has_suffix(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
} // namespace

CurveLog read_curves_file(const std::string& path) {
    const std::string text = read_whole(path);
    if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson") || has_suffix(path, ".json"))
        return parse_curves_jsonl(text, path);
    return parse_curves_csv(text, path);
}

std::vector<std::string> csv_header_fields(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line))
        if (!trim(line).empty()) break;
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    try {
        return split_csv_line(line, path);
    } catch (const UserError&) {
        return {};
    }
}

} // namespace cbs::data
