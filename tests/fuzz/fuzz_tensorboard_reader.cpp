// Fuzz target: arbitrary bytes as a TensorBoard event file (data/tensorboard.hpp): TFRecord
// framing, CRC-32C checks, and the Event / Summary / TensorProto messages read by the wire-format
// reader of data/protobuf_wire.hpp. The reader refuses with cbs::UserError (naming the file and a
// byte offset inside it), or the scalars it returns, written again by our writer as
// double-precision tensors, read back the same (steps, and values bit for bit or both NaN). The
// same bytes are also read as the data of one correctly framed record (an Event message), and as
// the file of a run in a log directory (read_tensorboard), with and without --skip-invalid.
// Seeds: corpus/fuzz_tensorboard_reader/: event files written by encode_event_file (simple values,
// float and double tensors) and single Event messages (event_*: scalar forms, tensor shapes).
#include "data/tensorboard.hpp"
#include "fuzz_support.hpp"
#include "theory/check.hpp"

#include <cmath>
#include <cstring>
#include <fstream>

namespace {

namespace d = cbs::data;

/// Scans `file`; a refusal must name the file and a byte offset. If accepted, the scalars written
/// again by our writer read back the same. Returns whether it was accepted with points.
bool scan_and_rewrite(const std::string& file) {
    d::EventFileScan scan;
    try {
        scan = d::scan_event_bytes(file, "fuzz.tfevents", "loss");
    } catch (const cbs::UserError& e) {
        const std::string what = e.what();
        FUZZ_REQUIRE(what.rfind("fuzz.tfevents: byte ", 0) == 0, what);
        return false;
    }
    std::vector<d::EventToWrite> again;
    for (const d::ScalarPoint& p : scan.points)
        again.push_back({p.step, "loss", p.value, d::EventToWrite::Kind::tensor_double, 0});
    const d::EventFileScan back = d::scan_event_bytes(d::encode_event_file(again), "again", "loss");
    FUZZ_REQUIRE(back.points.size() == scan.points.size(), "point count");
    for (std::size_t k = 0; k < back.points.size(); ++k) {
        const double a = scan.points[k].value, b = back.points[k].value;
        FUZZ_REQUIRE(back.points[k].step == scan.points[k].step, "step");
        FUZZ_REQUIRE((std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0,
                     "value");
    }
    return !scan.points.empty();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes = cbs::fuzz::as_text(data, size);
    // 1. The bytes as a whole event file (framing, CRCs, then the messages).
    const bool accepted = scan_and_rewrite(bytes);
    // 2. The bytes as the data of one correctly framed record: mutations of a file rarely get past
    //    its CRCs, so this is what exercises the Event / Summary / TensorProto decoding.
    scan_and_rewrite(d::frame_record(bytes));
    // 3. The bytes as the one file of a run in a log directory.
    static const std::filesystem::path dir = cbs::fuzz::scratch_path("tb");
    static const std::filesystem::path runs = cbs::fuzz::scratch_path("tb-runs.csv");
    static const bool made = [] {
        std::filesystem::create_directories(dir / "r");
        std::ofstream(runs) << "run,batch,tokens_per_step\nr,8,4096\n";
        return true;
    }();
    (void)made;
    cbs::fuzz::write_file(dir / "r" / "events.out.tfevents.1.fuzz", data, size);
    for (bool skip : {false, true}) {
        try {
            const d::CurveLog log =
                d::read_tensorboard(dir.string(), {"loss", runs.string(), skip});
            FUZZ_REQUIRE(accepted, "a refused file gave runs");
            FUZZ_REQUIRE(log.runs.size() == 1 && log.skipped_files == 0,
                         "one run, nothing skipped");
        } catch (const cbs::UserError&) {
        }
    }
    return 0;
}
