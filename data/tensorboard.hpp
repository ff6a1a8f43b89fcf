// TensorBoard event files as training curves (docs/logs.md).
//
// Layout read: a directory DIR; every directory at or below it that holds files named
// `events.out.tfevents.*` is one run, named by its path relative to DIR (`lr1e-3_b64`,
// `sweep/b128/validation`; "." for DIR itself). Its files are read in name order (TensorBoard
// names them by creation time); a step logged twice keeps the value read last. The scalar is the
// Summary value whose tag equals `tag`, written as `simple_value` or as a scalar tensor (DT_FLOAT,
// DT_DOUBLE, DT_HALF, DT_BFLOAT16, DT_INT32, DT_INT64; in tensor_content or in the typed value
// field). Batch size, group and hyper-parameters come from a runs table (CSV, columns
// run,batch[,group][,budget][,tokens_per_step][,...]): `run` is the directory's relative path,
// `tokens_per_step` gives tokens = step x tokens_per_step, other columns are hyper-parameters.
// Run directories without a row are ignored (and counted); a row without a directory is an error.
//
// File format (TFRecord): each record is
//   uint64 length | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)
// little-endian, masked_crc32c(x) = ((c >> 15) | (c << 17)) + 0xa282ead8 with c the CRC-32C
// (Castagnoli) of x; the data of each record is a serialized tensorflow.Event:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; TensorProto tensor = 8; (others ignored) }
//   TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
//                 repeated float float_val = 5; repeated double double_val = 6;
//                 repeated int32 int_val = 7; repeated int64 int64_val = 10;
//                 repeated int32 half_val = 13; }
//   TensorShapeProto { repeated Dim dim = 2; }  Dim { int64 size = 1; }
// The messages are decoded by the small wire-format reader of data/protobuf_wire.hpp, not by
// protoc-generated code: the handful of fields above are all that is needed, the reader bounds
// every read (hostile files are fuzzed: tests/fuzz/fuzz_tensorboard_reader.cpp), and cbs keeps no
// dependency on libprotobuf and protoc nor on copies of TensorFlow's .proto files.
//
// A file whose framing, CRC or messages are corrupt, or that ends inside a record, is refused
// with cbs::UserError naming the file and the byte offset of the record; with `skip_invalid` it
// is skipped (all its points), counted and named in CurveLog::skipped_reasons.
#pragma once

#include "data/curve_logs.hpp"

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace cbs::data {

/// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), and TFRecord's masked form.
std::uint32_t crc32c(std::string_view bytes);
std::uint32_t masked_crc32c(std::string_view bytes);

struct ScalarPoint {
    std::int64_t step = 0;
    double value = 0;
    double wall_time = 0;
};

struct EventFileScan {
    std::vector<ScalarPoint> points; ///< the tag's values in file order
    std::vector<std::string> tags;   ///< every Summary tag seen (sorted, unique)
    std::size_t records = 0;
};

/// Reads the records of one event file from `in` (`size` bytes) and collects `tag`. Throws
/// cbs::UserError("<name>: byte <offset>: ...") on a corrupt or truncated record.
EventFileScan scan_event_file(std::istream& in, std::uint64_t size, const std::string& name,
                              const std::string& tag);
EventFileScan scan_event_bytes(std::string_view bytes, const std::string& name,
                               const std::string& tag);

struct TensorBoardOptions {
    std::string tag;      ///< the scalar to read (e.g. "val/loss"); required
    std::string runs_csv; ///< runs table (run,batch[,group,...]); required
    bool skip_invalid = false;
};

/// Reads a TensorBoard log directory into runs (format "tensorboard").
CurveLog read_tensorboard(const std::string& dir, const TensorBoardOptions& options);

/// True if `dir` is a directory with an events.out.tfevents.* file at or below it.
bool is_tensorboard_dir(const std::string& dir);

// ---- writing: tests, fuzz seeds and the worked example of docs/logs.md ----

struct EventToWrite {
    enum class Kind { simple_value, tensor_float, tensor_double };
    std::int64_t step = 0;
    std::string tag;
    double value = 0;
    Kind kind = Kind::simple_value;
    double wall_time = 0;
};

/// One serialized Event holding one scalar.
std::string encode_scalar_event(const EventToWrite& e);
/// One TFRecord framing `data`.
std::string frame_record(std::string_view data);
/// A whole event file: the `file_version` record ("brain.Event:2") then one record per event.
std::string encode_event_file(const std::vector<EventToWrite>& events);

} // namespace cbs::data
