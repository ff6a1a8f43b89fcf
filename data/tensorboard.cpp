// TensorBoard event files (tensorboard.hpp): TFRecord framing with CRC-32C checks, Event /
// Summary / TensorProto decoding through data/protobuf_wire.hpp, and the runs table.
#include "data/tensorboard.hpp"

#include "data/json_text.hpp"
#include "data/protobuf_wire.hpp"
#include "theory/check.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace cbs::data {

namespace fs = std::filesystem;

namespace {

std::array<std::uint32_t, 256> crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        t[i] = c;
    }
    return t;
}

std::uint64_t le64(const char* p) {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k)
        v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[k])) << (8 * k);
    return v;
}

std::uint32_t le32(const char* p) {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k)
        v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(p[k])) << (8 * k);
    return v;
}

float half_to_float(std::uint32_t h) {
    const std::uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float v;
    if (exponent == 0)
        v = std::ldexp(static_cast<float>(mantissa), -24); // subnormal
    else if (exponent == 31)
        v = mantissa ? std::numeric_limits<float>::quiet_NaN()
                     : std::numeric_limits<float>::infinity();
    else
        v = std::ldexp(static_cast<float>(mantissa | 0x400), static_cast<int>(exponent) - 25);
    return sign ? -v : v;
}

float bfloat16_to_float(std::uint32_t b) {
    return wire::as_float((b & 0xffffu) << 16);
}

// DataType values of tensorflow/core/framework/types.proto.
enum DataType : int { kFloat = 1, kDouble = 2, kInt32 = 3, kInt64 = 9, kBfloat16 = 14, kHalf = 19 };

/// Decodes a scalar TensorProto (one element). Throws wire::WireError (offset within `message`)
/// when it is malformed or not a scalar of a supported type.
double tensor_scalar(std::string_view message) {
    wire::Reader r(message);
    wire::Field f;
    std::uint64_t dtype = 0;
    std::uint64_t elements = 1;
    std::string_view content;
    std::vector<double> values;
    while (r.next(f)) {
        switch (f.number) {
        case 1:
            if (f.type != wire::kVarint) throw wire::WireError("dtype: not a varint", f.offset);
            dtype = f.value;
            break;
        case 2: { // TensorShapeProto
            if (f.type != wire::kBytes)
                throw wire::WireError("tensor_shape: not a message", f.offset);
            wire::Reader shape(f.bytes);
            wire::Field d;
            while (shape.next(d)) {
                if (d.number != 2) continue;
                if (d.type != wire::kBytes)
                    throw wire::WireError("shape dim: not a message", f.offset);
                wire::Reader dim(d.bytes);
                wire::Field s;
                std::uint64_t size = 0;
                while (dim.next(s))
                    if (s.number == 1 && s.type == wire::kVarint) size = s.value;
                if (size != 1) elements = 0; // not one element (or a dimension of size 0)
            }
            break;
        }
        case 4:
            if (f.type != wire::kBytes)
                throw wire::WireError("tensor_content: not bytes", f.offset);
            content = f.bytes;
            break;
        case 5:
        case 6:
        case 7:
        case 10:
        case 13: {
            // Repeated scalars: packed (one length-delimited field) or one field per value.
            const bool is64 = f.number == 6;
            const bool is32 = f.number == 5;
            auto convert = [&](std::uint64_t raw) {
                switch (f.number) {
                case 5:
                    return static_cast<double>(wire::as_float(raw));
                case 6:
                    return wire::as_double(raw);
                case 7:
                    return static_cast<double>(static_cast<std::int32_t>(raw));
                case 10:
                    return static_cast<double>(static_cast<std::int64_t>(raw));
                default:
                    return static_cast<double>(
                        dtype == kBfloat16 ? bfloat16_to_float(static_cast<std::uint32_t>(raw))
                                           : half_to_float(static_cast<std::uint32_t>(raw)));
                }
            };
            if (f.type == wire::kBytes) {
                std::string packed;
                std::string_view p = f.bytes;
                if (is64 || is32) {
                    const std::size_t width = is64 ? 8 : 4;
                    if (p.size() % width != 0)
                        throw wire::WireError("packed values: length not a multiple of the width",
                                              f.offset);
                    for (std::size_t k = 0; k < p.size(); k += width)
                        values.push_back(convert(is64 ? le64(p.data() + k) : le32(p.data() + k)));
                } else {
                    wire::Reader vr(p);
                    while (!vr.at_end())
                        values.push_back(convert(vr.varint()));
                }
            } else if ((is64 && f.type == wire::kFixed64) || (is32 && f.type == wire::kFixed32) ||
                       (!is64 && !is32 && f.type == wire::kVarint)) {
                values.push_back(convert(f.value));
            } else {
                throw wire::WireError("tensor value field " + std::to_string(f.number) +
                                          ": unexpected wire type",
                                      f.offset);
            }
            break;
        }
        default:
            break; // version_number, string_val, ...: not used for scalars
        }
    }
    if (elements != 1)
        throw wire::WireError("tensor is not a scalar (shape of more than one element)", 0);
    const std::size_t width = dtype == kDouble || dtype == kInt64    ? 8
                              : dtype == kFloat || dtype == kInt32   ? 4
                              : dtype == kHalf || dtype == kBfloat16 ? 2
                                                                     : 0;
    if (width == 0)
        throw wire::WireError("tensor dtype " + std::to_string(dtype) +
                                  " is not a number type read here (float, double, half, "
                                  "bfloat16, int32, int64)",
                              0);
    if (!content.empty()) {
        if (content.size() != width)
            throw wire::WireError("tensor_content: " + std::to_string(content.size()) +
                                      " bytes for one value of " + std::to_string(width),
                                  0);
        const std::uint64_t raw =
            width == 8   ? le64(content.data())
            : width == 4 ? le32(content.data())
                         : static_cast<std::uint64_t>(static_cast<std::uint8_t>(content[0]) |
                                                      (static_cast<std::uint8_t>(content[1]) << 8));
        switch (dtype) {
        case kFloat:
            return wire::as_float(raw);
        case kDouble:
            return wire::as_double(raw);
        case kInt32:
            return static_cast<std::int32_t>(raw);
        case kInt64:
            return static_cast<double>(static_cast<std::int64_t>(raw));
        case kHalf:
            return half_to_float(static_cast<std::uint32_t>(raw));
        default:
            return bfloat16_to_float(static_cast<std::uint32_t>(raw));
        }
    }
    if (values.size() != 1)
        throw wire::WireError(
            "tensor holds " + std::to_string(values.size()) + " values, a scalar one", 0);
    return values[0];
}

/// Decodes one Event record; appends the tag's value if present.
void decode_event(std::string_view data, const std::string& tag, EventFileScan& scan,
                  std::set<std::string>& tags) {
    wire::Reader r(data);
    wire::Field f;
    std::int64_t step = 0;
    double wall_time = 0;
    std::vector<double> found;
    while (r.next(f)) {
        if (f.number == 1) {
            if (f.type != wire::kFixed64)
                throw wire::WireError("wall_time: not a double", f.offset);
            wall_time = wire::as_double(f.value);
        } else if (f.number == 2) {
            if (f.type != wire::kVarint) throw wire::WireError("step: not a varint", f.offset);
            step = static_cast<std::int64_t>(f.value);
        } else if (f.number == 5) {
            if (f.type != wire::kBytes) throw wire::WireError("summary: not a message", f.offset);
            wire::Reader summary(f.bytes);
            wire::Field v;
            while (summary.next(v)) {
                if (v.number != 1) continue;
                if (v.type != wire::kBytes)
                    throw wire::WireError("summary value: not a message", f.offset);
                wire::Reader value(v.bytes);
                wire::Field x;
                std::string value_tag;
                bool has_simple = false, has_tensor = false;
                double simple = 0;
                std::string_view tensor;
                while (value.next(x)) {
                    if (x.number == 1) {
                        if (x.type != wire::kBytes)
                            throw wire::WireError("tag: not a string", f.offset);
                        value_tag.assign(x.bytes);
                    } else if (x.number == 2) {
                        if (x.type != wire::kFixed32)
                            throw wire::WireError("simple_value: not a float", f.offset);
                        has_simple = true;
                        simple = wire::as_float(x.value);
                    } else if (x.number == 8) {
                        if (x.type != wire::kBytes)
                            throw wire::WireError("tensor: not a message", f.offset);
                        has_tensor = true;
                        tensor = x.bytes;
                    }
                }
                if (tags.size() < 1000) tags.insert(value_tag.substr(0, 200));
                if (value_tag != tag) continue;
                if (has_simple)
                    found.push_back(simple);
                else if (has_tensor)
                    found.push_back(tensor_scalar(tensor));
                else
                    throw wire::WireError("tag '" + tag +
                                              "' holds neither a simple_value nor a "
                                              "scalar tensor (a histogram or an image?)",
                                          f.offset);
            }
        }
    }
    for (double v : found)
        scan.points.push_back({step, v, wall_time});
}

} // namespace

std::uint32_t crc32c(std::string_view bytes) {
    static const std::array<std::uint32_t, 256> table = crc_table();
    std::uint32_t c = 0xffffffffu;
    for (char ch : bytes)
        c = table[(c ^ static_cast<std::uint8_t>(ch)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

std::uint32_t masked_crc32c(std::string_view bytes) {
    const std::uint32_t c = crc32c(bytes);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventFileScan scan_event_file(std::istream& in, std::uint64_t size, const std::string& name,
                              const std::string& tag) {
    EventFileScan scan;
    std::set<std::string> tags;
    std::uint64_t offset = 0;
    std::string data;
    while (offset < size) {
        const std::uint64_t left = size - offset;
        if (left < 12)
            throw UserError(fmt::format("{}: byte {}: truncated record header ({} bytes, 12 "
                                        "needed)",
                                        name, offset, left));
        char header[12];
        if (!in.read(header, 12))
            throw UserError(
                fmt::format("{}: byte {}: cannot read the record header", name, offset));
        const std::uint64_t length = le64(header);
        if (masked_crc32c(std::string_view(header, 8)) != le32(header + 8))
            throw UserError(fmt::format("{}: byte {}: record length CRC mismatch (corrupt file)",
                                        name, offset));
        if (length > left - 12 || left - 12 - length < 4)
            throw UserError(fmt::format("{}: byte {}: truncated record ({} data bytes + 4 CRC "
                                        "bytes announced, {} left)",
                                        name, offset, length, left - 12));
        data.resize(static_cast<std::size_t>(length));
        char crc[4];
        if (!in.read(data.data(), static_cast<std::streamsize>(length)) || !in.read(crc, 4))
            throw UserError(fmt::format("{}: byte {}: cannot read the record", name, offset));
        if (masked_crc32c(data) != le32(crc))
            throw UserError(
                fmt::format("{}: byte {}: record data CRC mismatch (corrupt file)", name, offset));
        try {
            decode_event(data, tag, scan, tags);
        } catch (const wire::WireError& e) {
            throw UserError(fmt::format("{}: byte {}: malformed Event record: {} (at byte {} of "
                                        "its data)",
                                        name, offset, e.what(), e.offset()));
        }
        ++scan.records;
        offset += 16 + length;
    }
    scan.tags.assign(tags.begin(), tags.end());
    return scan;
}

EventFileScan scan_event_bytes(std::string_view bytes, const std::string& name,
                               const std::string& tag) {
    std::istringstream in{std::string(bytes)};
    return scan_event_file(in, bytes.size(), name, tag);
}

namespace {

bool is_event_file(const fs::path& p) {
    return p.filename().string().rfind("events.out.tfevents.", 0) == 0;
}

struct RunRow {
    double batch = 0;
    std::string group;
    double budget = std::numeric_limits<double>::quiet_NaN();
    double tokens_per_step = std::numeric_limits<double>::quiet_NaN();
    std::map<std::string, std::string> hparams;
    std::string where;
};

std::map<std::string, RunRow> read_runs_table(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UserError(fmt::format("--runs '{}': no such file or not readable", path));
    std::string line;
    int line_no = 0;
    std::vector<std::string> header;
    std::map<std::string, RunRow> rows;
    while (std::getline(in, line)) {
        ++line_no;
        if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (const auto bad = find_invalid_utf8(line))
            throw UserError(
                fmt::format("{}:{}: invalid UTF-8 at byte {} of the line", path, line_no, *bad));
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = fmt::format("{}:{}", path, line_no);
        std::vector<std::string> cells = split_csv_line(line, where);
        if (header.empty()) {
            header = cells;
            std::set<std::string> seen;
            for (const std::string& h : header)
                if (h.empty() || !seen.insert(h).second)
                    throw UserError(
                        fmt::format("{}: header column '{}' empty or named twice", where, h));
            if (!seen.count("run") || !seen.count("batch"))
                throw UserError(fmt::format("{}: the runs table needs columns run,batch (optional "
                                            "group, budget, tokens_per_step; others are "
                                            "hyper-parameters)",
                                            where));
            continue;
        }
        if (cells.size() != header.size())
            throw UserError(
                fmt::format("{}: {} cells, the header has {}", where, cells.size(), header.size()));
        RunRow row;
        row.where = where;
        std::string run;
        for (std::size_t k = 0; k < header.size(); ++k) {
            const std::string& h = header[k];
            const std::string& c = cells[k];
            auto number = [&](double& out, bool positive) {
                if (!parse_number(c, out) || !std::isfinite(out) || (positive && !(out > 0)))
                    throw UserError(fmt::format("{}: {} '{}': must be a finite number{}", where, h,
                                                c.substr(0, 60), positive ? " > 0" : ""));
            };
            if (h == "run")
                run = c;
            else if (h == "batch") {
                number(row.batch, true);
                if (row.batch > 1e12)
                    throw UserError(fmt::format("{}: batch {}: at most 1e12", where, row.batch));
            } else if (h == "group")
                row.group = c;
            else if (h == "budget") {
                if (!c.empty()) number(row.budget, true);
            } else if (h == "tokens_per_step") {
                if (!c.empty()) number(row.tokens_per_step, true);
            } else
                row.hparams[h] = c;
        }
        if (run.empty()) throw UserError(fmt::format("{}: run: empty", where));
        if (!rows.emplace(run, row).second)
            throw UserError(fmt::format("{}: run '{}' listed twice", where, run.substr(0, 60)));
    }
    if (header.empty()) throw UserError(fmt::format("--runs '{}': empty file: no header", path));
    if (rows.empty()) throw UserError(fmt::format("--runs '{}': no runs listed", path));
    return rows;
}

} // namespace

bool is_tensorboard_dir(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return false;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && is_event_file(it->path())) return true;
    return false;
}

CurveLog read_tensorboard(const std::string& dir, const TensorBoardOptions& options) {
    if (options.tag.empty())
        throw UserError(fmt::format("'{}' is a TensorBoard directory: --tag NAME chooses the "
                                    "scalar to read",
                                    dir));
    if (options.runs_csv.empty())
        throw UserError(fmt::format("'{}' is a TensorBoard directory: --runs FILE.csv gives each "
                                    "run's batch size (columns run,batch[,group,...])",
                                    dir));
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw UserError(fmt::format("'{}': not a directory", dir));
    const std::map<std::string, RunRow> table = read_runs_table(options.runs_csv);

    // Run directories: those holding event files, by relative path.
    std::map<std::string, std::vector<fs::path>> run_files;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec) || !is_event_file(it->path())) continue;
        const std::string rel = fs::relative(it->path().parent_path(), dir, ec).generic_string();
        run_files[rel.empty() ? "." : rel].push_back(it->path());
    }
    if (ec) throw UserError(fmt::format("'{}': cannot list: {}", dir, ec.message()));

    CurveLogBuilder builder(dir, "tensorboard");
    std::size_t skipped = 0, ignored = 0;
    std::vector<std::string> reasons;
    for (const auto& [run, row] : table)
        if (!run_files.count(run))
            throw UserError(fmt::format("{}: run '{}' has no directory with event files under '{}'",
                                        row.where, run.substr(0, 60), dir));
    for (auto& [run, files] : run_files) {
        const auto row = table.find(run);
        if (row == table.end()) {
            ++ignored;
            continue;
        }
        std::sort(files.begin(), files.end());
        std::map<std::int64_t, double> by_step; // the value read last wins
        std::set<std::string> tags;
        std::size_t run_skipped = 0;
        for (const fs::path& file : files) {
            std::ifstream in(file, std::ios::binary);
            const auto size = fs::file_size(file, ec);
            try {
                if (!in || ec) throw UserError(fmt::format("{}: cannot read", file.string()));
                const EventFileScan scan = scan_event_file(in, size, file.string(), options.tag);
                for (const ScalarPoint& p : scan.points) {
                    if (p.step < 0)
                        throw UserError(fmt::format("{}: step {} < 0", file.string(), p.step));
                    by_step[p.step] = p.value;
                }
                tags.insert(scan.tags.begin(), scan.tags.end());
            } catch (const UserError& e) {
                if (!options.skip_invalid) throw;
                ++skipped;
                ++run_skipped;
                reasons.push_back(e.what());
            }
        }
        if (by_step.empty()) {
            if (run_skipped == files.size()) continue; // every file of the run was skipped
            std::string seen;
            for (const std::string& t : tags)
                if (seen.size() < 300) seen += (seen.empty() ? "" : ", ") + t;
            throw UserError(fmt::format("run '{}': no scalar '{}' in its event files (tags seen: "
                                        "{})",
                                        run.substr(0, 60), options.tag,
                                        seen.empty() ? "none" : seen));
        }
        const RunRow& r = row->second;
        const bool has_tokens = !std::isnan(r.tokens_per_step);
        for (const auto& [step, value] : by_step) {
            double loss = value;
            if (std::isnan(loss)) loss = std::numeric_limits<double>::quiet_NaN();
            builder.add_point(run, r.group, r.batch, step, loss,
                              has_tokens ? static_cast<double>(step) * r.tokens_per_step
                                         : std::numeric_limits<double>::quiet_NaN(),
                              has_tokens, r.hparams, r.budget, r.where);
        }
    }
    CurveLog log = [&] {
        try {
            return builder.finish();
        } catch (const UserError&) {
            if (skipped) // everything was skipped: say so rather than "no data rows"
                throw UserError(fmt::format("'{}': every event file with tag '{}' was invalid ({} "
                                            "skipped; first: {})",
                                            dir, options.tag, skipped, reasons.front()));
            throw;
        }
    }();
    log.skipped_files = skipped;
    log.skipped_reasons = reasons;
    log.ignored_run_dirs = ignored;
    return log;
}

std::string encode_scalar_event(const EventToWrite& e) {
    std::string value;
    wire::put_bytes(value, 1, e.tag);
    if (e.kind == EventToWrite::Kind::simple_value) {
        wire::put_float(value, 2, static_cast<float>(e.value));
    } else {
        std::string tensor;
        const bool dbl = e.kind == EventToWrite::Kind::tensor_double;
        wire::put_key(tensor, 1, wire::kVarint);
        wire::put_varint(tensor, dbl ? kDouble : kFloat);
        wire::put_bytes(tensor, 2, ""); // a scalar: shape without dimensions
        std::string packed;
        if (dbl) {
            std::uint64_t bits;
            const double v = e.value;
            std::memcpy(&bits, &v, 8);
            wire::put_fixed(packed, bits, 8);
            wire::put_bytes(tensor, 6, packed);
        } else {
            std::uint32_t bits;
            const float v = static_cast<float>(e.value);
            std::memcpy(&bits, &v, 4);
            wire::put_fixed(packed, bits, 4);
            wire::put_bytes(tensor, 5, packed);
        }
        wire::put_bytes(value, 8, tensor);
    }
    std::string summary;
    wire::put_bytes(summary, 1, value);
    std::string event;
    wire::put_double(event, 1, e.wall_time);
    wire::put_key(event, 2, wire::kVarint);
    wire::put_varint(event, static_cast<std::uint64_t>(e.step));
    wire::put_bytes(event, 5, summary);
    return event;
}

std::string frame_record(std::string_view data) {
    std::string out;
    std::string length;
    wire::put_fixed(length, data.size(), 8);
    out += length;
    wire::put_fixed(out, masked_crc32c(length), 4);
    out.append(data.data(), data.size());
    wire::put_fixed(out, masked_crc32c(data), 4);
    return out;
}

std::string encode_event_file(const std::vector<EventToWrite>& events) {
    std::string version;
    wire::put_double(version, 1, 0.0);
    wire::put_bytes(version, 3, "brain.Event:2");
    std::string out = frame_record(version);
    for (const EventToWrite& e : events)
        out += frame_record(encode_scalar_event(e));
    return out;
}

} // namespace cbs::data
