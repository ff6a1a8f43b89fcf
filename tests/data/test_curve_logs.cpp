// Curve readers (data/curve_logs.hpp, data/tensorboard.hpp, data/protobuf_wire.hpp): the CRC and
// the wire format against values fixed by their specifications (not by our own writer), event
// records assembled byte by byte, and every malformed input refused with file, line or offset.
#include "data/curve_logs.hpp"
#include "data/protobuf_wire.hpp"
#include "data/tensorboard.hpp"
#include "tests/support/user_error.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace cbs::data;

namespace {

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b)
        s += static_cast<char>(x);
    return s;
}

std::string le_double(double v) {
    std::string s(8, '\0');
    std::memcpy(s.data(), &v, 8);
    return s;
}

std::string le_float(float v) {
    std::string s(4, '\0');
    std::memcpy(s.data(), &v, 4);
    return s;
}

fs::path scratch() {
    const fs::path dir = fs::temp_directory_path() / ("cbs_curve_logs_" + std::to_string(getpid()));
    fs::create_directories(dir);
    return dir;
}

} // namespace

TEST_CASE("CRC-32C matches the published check values, TFRecord masking as specified", "[curves]") {
    // RFC 3720 (iSCSI) appendix B.4 and the usual "123456789" check value of CRC-32C.
    CHECK(crc32c("123456789") == 0xe3069283u);
    CHECK(crc32c(std::string(32, '\0')) == 0x8a9136aau);
    CHECK(crc32c(std::string(32, '\xff')) == 0x62a8ab43u);
    std::string ascending;
    for (int i = 0; i < 32; ++i)
        ascending += static_cast<char>(i);
    CHECK(crc32c(ascending) == 0x46dd794eu);
    const std::uint32_t c = crc32c("abc");
    CHECK(masked_crc32c("abc") ==
          static_cast<std::uint32_t>(((c >> 15) | (c << 17)) + 0xa282ead8u));
}

TEST_CASE("protobuf wire reader: the encoding guide's examples, and malformed messages",
          "[curves]") {
    using namespace cbs::data::wire;
    // Field 1 = 150 is 08 96 01; field 2 = "testing" is 12 07 74 65 73 74 69 6e 67.
    // A Reader views its message: each message is kept in a named string while it is read.
    const std::string guide =
        bytes({0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'});
    Reader r(guide);
    Field f;
    REQUIRE(r.next(f));
    CHECK((f.number == 1 && f.type == kVarint && f.value == 150));
    REQUIRE(r.next(f));
    CHECK((f.number == 2 && f.type == kBytes && f.bytes == "testing"));
    CHECK_FALSE(r.next(f));
    // A 10-byte varint holding 2^64 - 1, and one that overflows.
    const std::string largest =
        bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
    Reader max(largest);
    REQUIRE(max.next(f));
    CHECK(f.value == ~std::uint64_t{0});
    const std::string overflowing =
        bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
    Reader over(overflowing);
    CHECK_THROWS_AS(over.next(f), WireError);
    for (const std::string& bad :
         {bytes({0x08, 0x96}), bytes({0x12, 0x08, 't'}), bytes({0x00, 0x01}),
          bytes({0x0b}) /* group */, bytes({0x09, 1, 2, 3}) /* short fixed64 */,
          bytes({0x0d, 1, 2}) /* short fixed32 */}) {
        Reader b(bad);
        CHECK_THROWS_AS(b.next(f), WireError);
    }
}

TEST_CASE("an event file assembled byte by byte from the format description is read", "[curves]") {
    // Event{wall_time = 1.5, step = 300, summary{value{tag "loss", simple_value 2.25}}}, then a
    // tensor form: Event{step = 400, summary{value{tag "loss", tensor{dtype DT_DOUBLE (2),
    // tensor_shape {}, double_val [3.125]}}}}, and a value of another tag.
    const std::string value1 = bytes({0x0a, 4, 'l', 'o', 's', 's', 0x15}) + le_float(2.25f);
    const std::string summary1 = bytes({0x0a, static_cast<int>(value1.size())}) + value1;
    const std::string event1 = bytes({0x09}) + le_double(1.5) + bytes({0x10, 0xac, 0x02}) +
                               bytes({0x2a, static_cast<int>(summary1.size())}) + summary1;
    const std::string tensor =
        bytes({0x08, 0x02, 0x12, 0x00, 0x32, 0x08}) + le_double(3.125); // packed double_val
    const std::string value2 =
        bytes({0x0a, 4, 'l', 'o', 's', 's', 0x42, static_cast<int>(tensor.size())}) + tensor;
    const std::string other = bytes({0x0a, 2, 'l', 'r', 0x15}) + le_float(0.5f);
    const std::string summary2 = bytes({0x0a, static_cast<int>(other.size())}) + other +
                                 bytes({0x0a, static_cast<int>(value2.size())}) + value2;
    const std::string event2 =
        bytes({0x10, 0x90, 0x03}) + bytes({0x2a, static_cast<int>(summary2.size())}) + summary2;
    std::string file;
    for (const std::string& e : {event1, event2}) {
        std::string len(8, '\0');
        const std::uint64_t n = e.size();
        std::memcpy(len.data(), &n, 8);
        std::string c1(4, '\0'), c2(4, '\0');
        const std::uint32_t m1 = masked_crc32c(len), m2 = masked_crc32c(e);
        std::memcpy(c1.data(), &m1, 4);
        std::memcpy(c2.data(), &m2, 4);
        file += len + c1 + e + c2;
    }
    const EventFileScan scan = scan_event_bytes(file, "hand.tfevents", "loss");
    CHECK(scan.records == 2);
    REQUIRE(scan.points.size() == 2);
    CHECK((scan.points[0].step == 300 && scan.points[0].value == 2.25 &&
           scan.points[0].wall_time == 1.5));
    CHECK((scan.points[1].step == 400 && scan.points[1].value == 3.125));
    CHECK(scan.tags == std::vector<std::string>{"loss", "lr"});
    // Our writer produces what the reader reads, in all three forms.
    for (auto kind : {EventToWrite::Kind::simple_value, EventToWrite::Kind::tensor_float,
                      EventToWrite::Kind::tensor_double}) {
        const std::string f =
            encode_event_file({{7, "val/loss", 1.0 / 3.0, kind, 0.0}, {9, "x", 1.0, kind, 0.0}});
        const EventFileScan s = scan_event_bytes(f, "w", "val/loss");
        REQUIRE(s.points.size() == 1);
        CHECK(s.points[0].step == 7);
        CHECK(s.points[0].value == (kind == EventToWrite::Kind::tensor_double
                                        ? 1.0 / 3.0
                                        : static_cast<double>(1.0f / 3.0f)));
    }
}

TEST_CASE("scalar tensors: tensor_content, half, bfloat16, integers, non-scalars refused",
          "[curves]") {
    auto event_with_tensor = [](const std::string& tensor) {
        std::string value = bytes({0x0a, 1, 'y', 0x42, static_cast<int>(tensor.size())}) + tensor;
        std::string summary = bytes({0x0a, static_cast<int>(value.size())}) + value;
        std::string event = bytes({0x10, 0x05, 0x2a, static_cast<int>(summary.size())}) + summary;
        return frame_record(event);
    };
    struct Case {
        std::string tensor;
        double value;
    };
    for (const Case& c : {
             Case{bytes({0x08, 0x01, 0x22, 0x04}) + le_float(1.5f), 1.5},     // float content
             Case{bytes({0x08, 0x02, 0x22, 0x08}) + le_double(-0.25), -0.25}, // double content
             Case{bytes({0x08, 0x13, 0x22, 0x02, 0x00, 0x3e}), 1.5},          // half 0x3e00
             Case{bytes({0x08, 0x0e, 0x22, 0x02, 0xc0, 0x3f}), 1.5},          // bfloat16 0x3fc0
             Case{bytes({0x08, 0x13, 0x68, 0x80, 0x7c}), 1.5},                // half_val 0x3e00
             Case{bytes({0x08, 0x13, 0x68, 0x80, 0xf8, 0x01}), HUGE_VAL}, // half_val 0x7c00 = inf
             Case{bytes({0x08, 0x03, 0x38, 0x07}), 7.0},                  // int_val 7
             Case{bytes({0x08, 0x09, 0x50, 0x2a}), 42.0},                 // int64_val 42
             Case{bytes({0x08, 0x01, 0x2d}) + le_float(0.75f), 0.75},     // unpacked float
             Case{bytes({0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01, 0x2d}) + le_float(2.0f),
                  2.0}, // shape [1]
         }) {
        const EventFileScan s = scan_event_bytes(event_with_tensor(c.tensor), "t", "y");
        REQUIRE(s.points.size() == 1);
        CHECK(s.points[0].value == c.value);
    }
    for (const std::string& bad : {
             bytes({0x08, 0x07, 0x22, 0x01, 'a'}),     // DT_STRING
             bytes({0x08, 0x01, 0x22, 0x03, 1, 2, 3}), // 3 content bytes
             bytes({0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x02, 0x2a, 0x08}) + le_float(1) +
                 le_float(2),     // shape [2]
             bytes({0x08, 0x01}), // no value
         }) {
        const std::string what = cbs::test::user_error(
            [&] { scan_event_bytes(event_with_tensor(bad), "t.tfevents", "y"); });
        CHECK(what.find("t.tfevents: byte 0: malformed Event record") == 0);
    }
}

TEST_CASE("corrupt and truncated event files are refused naming the file and byte offset",
          "[curves]") {
    const std::string file =
        encode_event_file({{1, "loss", 3.0, EventToWrite::Kind::simple_value, 0},
                           {2, "loss", 2.0, EventToWrite::Kind::simple_value, 0}});
    const std::size_t last =
        file.size() -
        frame_record(encode_scalar_event({2, "loss", 2.0, EventToWrite::Kind::simple_value, 0}))
            .size();
    std::string data_flip = file;
    data_flip[last + 14] ^= 0x20; // inside the last record's data
    CHECK(cbs::test::user_error([&] { scan_event_bytes(data_flip, "run/ev", "loss"); }) ==
          "run/ev: byte " + std::to_string(last) + ": record data CRC mismatch (corrupt file)");
    std::string length_flip = file;
    length_flip[last + 1] ^= 0x01;
    CHECK(cbs::test::user_error([&] { scan_event_bytes(length_flip, "run/ev", "loss"); }) ==
          "run/ev: byte " + std::to_string(last) + ": record length CRC mismatch (corrupt file)");
    for (std::size_t cut : {last + 5, last + 12, file.size() - 1}) {
        const std::string what =
            cbs::test::user_error([&] { scan_event_bytes(file.substr(0, cut), "run/ev", "loss"); });
        INFO(what);
        CHECK(what.rfind("run/ev: byte ", 0) == 0);
        CHECK(what.find("truncated record") != std::string::npos);
    }
    // Valid framing around a malformed message: a record whose data is not an Event.
    const std::string junk = file + frame_record(bytes({0x2a, 0x05, 0x0a}));
    CHECK(cbs::test::user_error([&] {
              scan_event_bytes(junk, "run/ev", "loss");
          }).rfind("run/ev: byte " + std::to_string(file.size()) + ": malformed Event record", 0) ==
          0);
}

TEST_CASE("long CSV: fields, sorting, diverged runs, hyper-parameters and quoting", "[curves]") {
    const CurveLog log =
        parse_curves_csv("\xEF\xBB\xBFrun,batch,step,loss,group,tokens,lr,sched\r\n"
                         "b,64,20,2.0,small,1280,1e-3,0.5\r\n"
                         "a,32,10,3.5,small,320,3e-3,1\n"
                         "\n"
                         "a,32,0,9.0,small,0,3e-3,0.9\n"
                         "b,64,10,3.0,small,640,1e-3,0.7\n"
                         "\"c,1\",32,10,nan,small,,\"x\"\"y\",1\n",
                         "f.csv");
    REQUIRE(log.runs.size() == 3);
    CHECK(log.format == "csv");
    CHECK(log.has_tokens);
    const CurveRun& a = log.runs[0];
    CHECK(a.id == "a");
    CHECK(a.step == std::vector<std::int64_t>{0, 10});
    CHECK(a.loss == std::vector<double>{9.0, 3.5});
    CHECK(a.tokens == std::vector<double>{0, 320});
    CHECK(a.hparams == std::map<std::string, std::string>{{"lr", "3e-3"}});
    CHECK_FALSE(a.diverged);
    CHECK(log.runs[1].step == std::vector<std::int64_t>{10, 20});
    CHECK(log.runs[2].id == "c,1");
    CHECK(log.runs[2].diverged);
    CHECK(log.runs[2].hparams.at("lr") == "x\"y");
    CHECK(log.varying_fields == std::vector<std::string>{"sched"});
    CHECK(log.hparam_names == std::vector<std::string>{"lr"});
    // Groups default to "all"; a budget column; an empty loss is diverged; "100.0" is a step.
    const CurveLog g = parse_curves_csv("run,batch,step,loss,budget\nx,8,100.0,,5e6\n", "g.csv");
    CHECK(g.runs[0].group == "all");
    CHECK(g.runs[0].diverged);
    CHECK(g.runs[0].step[0] == 100);
    CHECK(g.budgets.at("all") == 5e6);
}

TEST_CASE("JSON lines: the same fields, null loss is diverged, numbers and strings as names",
          "[curves]") {
    const CurveLog log =
        parse_curves_jsonl("{\"run\": \"a\", \"batch\": 32, \"step\": 10, \"loss\": 3.5, "
                           "\"lr\": 0.003, \"opt\": \"adam\"}\n"
                           "\n"
                           "{\"run\": \"a\", \"batch\": 32, \"step\": 20, \"loss\": 3.0, "
                           "\"lr\": 0.003, \"note\": null}\n"
                           "{\"run\": 7, \"batch\": 64, \"step\": 10, \"loss\": null, \"group\": "
                           "1}\n",
                           "f.jsonl");
    REQUIRE(log.runs.size() == 2);
    CHECK(log.runs[0].id == "7");
    CHECK(log.runs[0].diverged);
    CHECK(log.runs[0].group == "1");
    CHECK(log.runs[1].loss == std::vector<double>{3.5, 3.0});
    CHECK(log.runs[1].hparams ==
          std::map<std::string, std::string>{{"lr", "0.003"}, {"opt", "adam"}});
    CHECK_FALSE(log.has_tokens);
    // A diverged row may leave out `tokens`.
    const CurveLog t = parse_curves_jsonl(
        "{\"run\": \"a\", \"batch\": 8, \"step\": 1, \"loss\": 3, \"tokens\": 64}\n"
        "{\"run\": \"a\", \"batch\": 8, \"step\": 2, \"loss\": null}\n",
        "t.jsonl");
    CHECK(t.has_tokens);
    CHECK(t.runs[0].diverged);
    REQUIRE(t.runs[0].tokens.size() == 2);
    CHECK(std::isnan(t.runs[0].tokens[1]));
}

TEST_CASE("malformed curve files are refused with one line naming the file and line", "[curves]") {
    struct Bad {
        const char* text;
        const char* message; ///< expected at the start of the error
    };
    for (const Bad& b : {
             Bad{"", "c.csv: empty file: no header"},
             Bad{"run,batch,step\n", "c.csv:1: header has no `loss` column"},
             Bad{"run,batch,step,loss,run\n", "c.csv:1: header names 'run' twice"},
             Bad{"run,batch,step,loss\n", "c.csv: no data rows"},
             Bad{"run,batch,step,loss\na,1,2\n", "c.csv:2: 3 cells, the header has 4"},
             Bad{"run,batch,step,loss\na,x,2,3\n", "c.csv:2: batch 'x' is not a number"},
             Bad{"run,batch,step,loss\na,0,2,3\n", "c.csv:2: batch '0': must be a number"},
             Bad{"run,batch,step,loss\na,inf,2,3\n", "c.csv:2: batch 'inf': must be"},
             Bad{"run,batch,step,loss\na,1,2.5,3\n", "c.csv:2: step '2.5': must be an integer"},
             Bad{"run,batch,step,loss\na,1,-1,3\n", "c.csv:2: step '-1': must be an integer"},
             Bad{"run,batch,step,loss\na,1,1e30,3\n", "c.csv:2: step '1e30'"},
             Bad{"run,batch,step,loss\na,1,2,abc\n", "c.csv:2: loss 'abc' is not a number"},
             Bad{"run,batch,step,loss\n,1,2,3\n", "c.csv:2: run: empty"},
             Bad{"run,batch,step,loss\n\"a,1,2,3\n", "c.csv:2: unterminated quote"},
             Bad{"run,batch,step,loss\n\"a\"x,1,2,3\n", "c.csv:2: text after the closing quote"},
             Bad{"run,batch,step,loss\na,1,2,3\na,2,3,3\n", "c.csv:3: run 'a': batch 2 here"},
             Bad{"run,batch,step,loss,group\na,1,2,3,g\na,1,3,3,h\n",
                 "c.csv:3: run 'a': group 'h' here"},
             Bad{"run,batch,step,loss\na,1,2,3\na,1,2,4\n", "c.csv: run 'a': step 2 logged twice"},
             Bad{"run,batch,step,loss,tokens\na,1,2,3,\n", "c.csv:2: tokens: empty on a row"},
             Bad{"run,batch,step,loss,tokens\na,1,2,3,-5\n", "c.csv:2: tokens -5: must be"},
             Bad{"run,batch,step,loss,budget\na,1,2,3,0\n", "c.csv:2: budget 0: must be"},
             Bad{"run,batch,step,loss,budget\na,1,2,3,5\nb,1,2,3,6\n",
                 "c.csv:3: budget 6 for group 'all', but 5 at c.csv:2"},
         }) {
        INFO(b.text);
        const std::string what = cbs::test::user_error([&] { parse_curves_csv(b.text, "c.csv"); });
        CHECK(what.rfind(b.message, 0) == 0);
        CHECK(what.find('\n') == std::string::npos);
    }
    const std::string nul("run,batch,step,loss\na,1,2,3\0\n", 29);
    CHECK(cbs::test::user_error([&] { parse_curves_csv(nul, "c.csv"); }) ==
          "c.csv: a NUL byte at offset 27: not a text CSV file");
    CHECK(cbs::test::user_error([&] {
              parse_curves_csv("run,batch,step,loss\n\xff,1,2,3\n", "c.csv");
          }) == "c.csv: invalid UTF-8 at byte 20");
    for (const Bad& b : {
             Bad{"", "j.jsonl: empty file"},
             Bad{"{\"run\": \"\xff\", \"batch\": 1, \"step\": 2, \"loss\": 1}\n",
                 "j.jsonl:1: not JSON at byte"},
             Bad{"{\"run\": \"a\", \"batch\": 1, \"step\": 2, \"loss\": NaN}\n",
                 "j.jsonl:1: not JSON at byte"},
             Bad{"[1, 2]\n", "j.jsonl:1: a line must be one JSON object, not array"},
             // Found by fuzz_curve_logs: nlohmann-json throws out_of_range, not parse_error.
             Bad{"{\"run\": \"a\", \"batch\": 1e999, \"step\": 2, \"loss\": 1}\n",
                 "j.jsonl:1: not JSON that can be read: a number beyond the range of a double"},
             Bad{"{\"run\": \"a\", \"batch\": 1, \"step\": 2}\n",
                 "j.jsonl:1: field `loss` missing"},
             Bad{"{\"run\": [1], \"batch\": 1, \"step\": 2, \"loss\": 1}\n",
                 "j.jsonl:1: `run` = [1]: must be a string or a number"},
             Bad{"{\"run\": \"a\", \"batch\": \"8\", \"step\": 2, \"loss\": 1}\n",
                 "j.jsonl:1: `batch` = \"8\": must be a number"},
             Bad{"{\"run\": \"a\", \"batch\": 8, \"step\": 2, \"loss\": true}\n",
                 "j.jsonl:1: `loss` = true: must be a number or null"},
             Bad{"{\"run\": \"a\", \"batch\": 8, \"step\": 2, \"loss\": 1, \"tokens\": 5}\n"
                 "{\"run\": \"a\", \"batch\": 8, \"step\": 3, \"loss\": 1}\n",
                 "j.jsonl:2: `tokens` missing here but given on earlier rows"},
         }) {
        INFO(b.text);
        const std::string what =
            cbs::test::user_error([&] { parse_curves_jsonl(b.text, "j.jsonl"); });
        CHECK(what.rfind(b.message, 0) == 0);
        CHECK(what.find('\n') == std::string::npos);
    }
}

TEST_CASE("a TensorBoard directory: runs table, nested runs, restarts, --skip-invalid counts",
          "[curves]") {
    const fs::path dir = scratch() / "tb";
    fs::remove_all(dir);
    auto write = [](const fs::path& p, const std::string& content) {
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << content;
    };
    using K = EventToWrite::Kind;
    write(dir / "b32" / "events.out.tfevents.1.host",
          encode_event_file({{10, "val/loss", 3.0, K::tensor_double, 0},
                             {20, "val/loss", 2.0, K::tensor_double, 0}}));
    // A restart: the later file logs step 20 again and goes on; its value wins.
    write(dir / "b32" / "events.out.tfevents.2.host",
          encode_event_file({{20, "val/loss", 1.75, K::tensor_double, 0},
                             {30, "val/loss", 1.5, K::tensor_double, 0}}));
    write(dir / "sweep" / "b64" / "events.out.tfevents.1.host",
          encode_event_file({{10, "val/loss", 2.5, K::simple_value, 0},
                             {20, "train/loss", 2.5, K::simple_value, 0}}));
    write(dir / "unlisted" / "events.out.tfevents.1.host",
          encode_event_file({{10, "val/loss", 2.5, K::simple_value, 0}}));
    const fs::path runs = scratch() / "runs.csv";
    std::ofstream(runs) << "run,batch,group,tokens_per_step,lr\nb32,32,g,16384,1e-3\n"
                           "sweep/b64,64,g,32768,2e-3\n";
    const CurveLog log = read_tensorboard(dir.string(), {"val/loss", runs.string(), false});
    REQUIRE(log.runs.size() == 2);
    CHECK(log.format == "tensorboard");
    CHECK(log.ignored_run_dirs == 1);
    CHECK(log.runs[0].id == "b32");
    CHECK(log.runs[0].step == std::vector<std::int64_t>{10, 20, 30});
    CHECK(log.runs[0].loss == std::vector<double>{3.0, 1.75, 1.5});
    CHECK(log.runs[0].tokens == std::vector<double>{163840, 327680, 491520});
    CHECK(log.runs[0].hparams.at("lr") == "1e-3");
    CHECK(log.runs[1].id == "sweep/b64");
    CHECK(log.runs[1].group == "g");
    CHECK(is_tensorboard_dir(dir.string()));

    // A corrupt file is refused naming it and the offset ...
    std::string bad = encode_event_file({{40, "val/loss", 1.0, K::tensor_double, 0}});
    bad[bad.size() - 6] ^= 0x40;
    write(dir / "b32" / "events.out.tfevents.3.host", bad);
    const std::string what = cbs::test::user_error([&] {
        read_tensorboard(dir.string(), {"val/loss", runs.string(), false});
    });
    CHECK(what.find((dir / "b32" / "events.out.tfevents.3.host").string() + ": byte ") == 0);
    CHECK(what.find("CRC mismatch") != std::string::npos);
    // ... or skipped and counted.
    const CurveLog skipped = read_tensorboard(dir.string(), {"val/loss", runs.string(), true});
    CHECK(skipped.skipped_files == 1);
    REQUIRE(skipped.skipped_reasons.size() == 1);
    CHECK(skipped.skipped_reasons[0] == what);
    CHECK(skipped.runs[0].step.size() == 3);

    fs::remove(dir / "b32" / "events.out.tfevents.3.host");
    // Refusals: a tag no run has, a run without a directory, a bad runs table, missing options.
    CHECK(cbs::test::user_error([&] {
              read_tensorboard(dir.string(), {"nope", runs.string(), true});
          }).rfind("run 'b32': no scalar 'nope' in its event files (tags seen: val/loss)", 0) == 0);
    std::ofstream(scratch() / "runs2.csv") << "run,batch\nmissing,8\n";
    CHECK(
        cbs::test::user_error([&] {
            read_tensorboard(dir.string(), {"val/loss", (scratch() / "runs2.csv").string(), false});
        }).find("run 'missing' has no directory with event files") != std::string::npos);
    std::ofstream(scratch() / "runs3.csv") << "run,lr\nb32,1\n";
    CHECK(
        cbs::test::user_error([&] {
            read_tensorboard(dir.string(), {"val/loss", (scratch() / "runs3.csv").string(), false});
        }).find("needs columns run,batch") != std::string::npos);
    CHECK(cbs::test::user_error([&] {
              read_tensorboard(dir.string(), {"", runs.string(), false});
          }).find("--tag NAME") != std::string::npos);
    CHECK(cbs::test::user_error([&] {
              read_tensorboard(dir.string(), {"val/loss", "", false});
          }).find("--runs FILE.csv") != std::string::npos);
}
