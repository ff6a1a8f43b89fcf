// Tests of the HDF5 study-file reader/writer (data/study_file.hpp): exact round trips, atomic
// writes, and the one-line UserError for unreadable or schema-violating files.
#include "data/study_file.hpp"

#include "tests/support/same_run.hpp"
#include "tests/support/user_error.hpp"
#include "theory/check.hpp"

#include <H5Cpp.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>

using namespace cbs::data;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system temp dir, removed (with its contents) on destruction.
class TempDir {
public:
    TempDir() {
        std::random_device rd;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("cbs_test_study_file_" + std::to_string(stamp) + "_" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

RunRecord make_run(const std::string& id, std::size_t n, double scale) {
    RunRecord r;
    r.id = id;
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = static_cast<std::int64_t>(1) << i; // geometric steps, as the sweeps record
        r.step.push_back(s);
        r.samples.push_back(s * 64);
        r.risk.push_back(scale / (1.0 + static_cast<double>(s)));
        r.risk_ewa.push_back(scale / (2.0 + static_cast<double>(s)) +
                             1e-17 * static_cast<double>(i));
    }
    return r;
}

Study make_study() {
    Study s;
    s.meta.cbs_version = "0.1.0";
    s.meta.git_sha = "c481b6f2e916";
    s.meta.config = "[spectrum]\na = 2.0\nb = 1.5 # comment with \"quotes\" and UTF-8: λ, η\n";
    s.meta.created = "2026-11-21T23:59:59Z";
    s.meta.attrs["machine_cpu"] = std::string("Example CPU @ 2.6GHz");
    s.meta.attrs["machine_cores"] = std::int64_t{2};
    s.meta.attrs["lm_study_wall_seconds"] = 3600.25;

    RunRecord a = make_run("B=64,lr=0.5", 12, 1.0);
    a.attrs["batch"] = std::int64_t{64};
    a.attrs["lr"] = 0.5;
    a.attrs["schedule"] = std::string("constant");
    a.attrs["diverged"] = std::int64_t{0};
    a.attrs["diverged_step"] = std::int64_t{-1};
    a.attrs["huge"] = std::numeric_limits<std::int64_t>::max();
    a.attrs["tiny"] = std::numeric_limits<double>::denorm_min();
    a.attrs["empty_string"] = std::string();
    a.extra_curves["risk_se"] = std::vector<double>(a.step.size(), 0.125);
    a.extra_curves["risk_ewa_se"] = a.risk;

    RunRecord b = make_run("B=1024", 5, 3.0);
    b.attrs["batch"] = std::int64_t{1024};
    b.attrs["ewa.decay"] = 0.999;
    b.attrs["diverged"] = std::int64_t{1};
    b.attrs["diverged_step"] = std::int64_t{77};
    b.risk.back() = std::numeric_limits<double>::infinity(); // diverged runs end in inf

    RunRecord empty;
    empty.id = "aaa_empty"; // sorts first; its curves (including an extra) have length 0
    empty.attrs["note"] = std::string("no steps recorded");
    empty.extra_curves["risk_se"] = {};

    // Deliberately unsorted: read_study must return runs sorted by id.
    s.runs = {a, b, empty};
    return s;
}

void require_equal(const Study& got, const Study& want) {
    REQUIRE(got.meta.schema_version == want.meta.schema_version);
    REQUIRE(got.meta.cbs_version == want.meta.cbs_version);
    REQUIRE(got.meta.git_sha == want.meta.git_sha);
    REQUIRE(got.meta.config == want.meta.config);
    REQUIRE(got.meta.created == want.meta.created);
    REQUIRE(got.meta.attrs == want.meta.attrs);
    REQUIRE(got.runs.size() == want.runs.size());
    for (std::size_t i = 0; i < want.runs.size(); ++i)
        cbs::test::require_same_run(got.runs[i], want.runs[i]); // exact: HDF5 is bit for bit
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("study file round trip preserves metadata, attributes and curves exactly",
          "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("study.h5");
    const Study study = make_study();
    write_study(path, study);
    REQUIRE(fs::exists(path));
    REQUIRE_FALSE(fs::exists(path + ".partial"));

    const Study back = read_study(path);
    Study want = study;
    std::sort(want.runs.begin(), want.runs.end(),
              [](const RunRecord& x, const RunRecord& y) { return x.id < y.id; });
    REQUIRE(back.runs.size() == 3);
    CHECK(back.runs[0].id == "B=1024");
    CHECK(back.runs[1].id == "B=64,lr=0.5");
    CHECK(back.runs[2].id == "aaa_empty");
    require_equal(back, want);

    // Types survive: int64 stays int64 (not double), strings stay strings.
    const auto& attrs = back.runs[1].attrs;
    CHECK(std::holds_alternative<std::int64_t>(attrs.at("batch")));
    CHECK(std::holds_alternative<double>(attrs.at("lr")));
    CHECK(std::holds_alternative<std::string>(attrs.at("schedule")));
    CHECK(std::isinf(back.runs[0].risk.back()));
    CHECK(back.runs[2].step.empty());
    CHECK(back.runs[2].extra_curves.at("risk_se").empty());

    // Writing what we read gives the same study again (idempotent).
    const std::string again = dir.file("again.h5");
    write_study(again, back);
    require_equal(read_study(again), want);
}

TEST_CASE("study file stores the documented HDF5 types", "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("types.h5");
    write_study(path, make_study());

    const H5::H5File file(path, H5F_ACC_RDONLY);
    const H5::Attribute version = file.openAttribute("schema_version");
    CHECK(version.getTypeClass() == H5T_INTEGER);
    CHECK(version.getIntType().getSize() == 8);
    CHECK(version.getSpace().getSimpleExtentType() == H5S_SCALAR);
    const H5::Attribute config = file.openAttribute("config");
    REQUIRE(config.getTypeClass() == H5T_STRING);
    CHECK(config.getStrType().isVariableStr()); // h5py reads these as str
    CHECK(config.getStrType().getCset() == H5T_CSET_UTF8);
    CHECK(config.getSpace().getSimpleExtentType() == H5S_SCALAR);

    const H5::Group run = file.openGroup("runs/B=64,lr=0.5");
    CHECK(run.openAttribute("lr").getTypeClass() == H5T_FLOAT);
    CHECK(run.openAttribute("lr").getFloatType().getSize() == 8);
    const H5::DataSet step = run.openDataSet("step");
    CHECK(step.getTypeClass() == H5T_INTEGER);
    CHECK(step.getIntType().getSize() == 8);
    CHECK(step.getSpace().getSimpleExtentNdims() == 1);
    CHECK(run.openDataSet("risk_ewa").getTypeClass() == H5T_FLOAT);
    CHECK(run.openDataSet("risk_se").getTypeClass() == H5T_FLOAT);

    hsize_t dims[1] = {99};
    file.openGroup("runs/aaa_empty").openDataSet("risk").getSpace().getSimpleExtentDims(dims);
    CHECK(dims[0] == 0);
}

TEST_CASE("a study with no runs round-trips", "[study_file]") {
    TempDir dir;
    Study s;
    s.meta.created = utc_timestamp();
    write_study(dir.file("none.h5"), s);
    const Study back = read_study(dir.file("none.h5"));
    CHECK(back.runs.empty());
    CHECK(back.meta.created == s.meta.created);
    CHECK(back.meta.cbs_version.empty());
}

TEST_CASE("write_study is atomic and reports unwritable paths", "[study_file]") {
    TempDir dir;

    SECTION("missing directory: UserError naming the path, nothing left behind") {
        const std::string path = (dir.path() / "no_such_dir" / "study.h5").string();
        const std::string msg = cbs::test::user_error([&] { write_study(path, make_study()); });
        CHECK(contains(msg, path));
        CHECK(contains(msg, "does not exist"));
        CHECK(msg.find('\n') == std::string::npos);
        CHECK_FALSE(fs::exists(path));
        CHECK_FALSE(fs::exists(path + ".partial"));
        CHECK_FALSE(fs::exists(dir.path() / "no_such_dir"));
    }

    SECTION("target is a directory: rename fails, partial file removed") {
        const std::string path = dir.file("a_directory");
        fs::create_directory(path);
        const std::string msg = cbs::test::user_error([&] { write_study(path, make_study()); });
        CHECK(contains(msg, path));
        CHECK(fs::is_directory(path));
        CHECK_FALSE(fs::exists(path + ".partial"));
    }

    SECTION("overwriting an existing study replaces it and leaves no partial file") {
        const std::string path = dir.file("study.h5");
        write_study(path, make_study());
        Study smaller;
        smaller.meta.git_sha = "second";
        smaller.runs.push_back(make_run("only", 3, 2.0));
        write_study(path, smaller);
        const Study back = read_study(path);
        CHECK(back.meta.git_sha == "second");
        REQUIRE(back.runs.size() == 1);
        CHECK(back.runs[0].id == "only");
        CHECK(back.runs[0].risk == smaller.runs[0].risk);
        CHECK_FALSE(fs::exists(path + ".partial"));
    }

    SECTION("a stale partial file from an interrupted write is replaced") {
        const std::string path = dir.file("study.h5");
        std::ofstream(path + ".partial") << "garbage from a killed process";
        write_study(path, make_study());
        CHECK_FALSE(fs::exists(path + ".partial"));
        CHECK(read_study(path).runs.size() == 3);
    }
}

TEST_CASE("read_study rejects missing, non-HDF5 and schema-violating files", "[study_file]") {
    TempDir dir;

    SECTION("missing file") {
        const std::string path = dir.file("absent.h5");
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, path));
        CHECK(contains(msg, "no such file"));
    }

    SECTION("a text file") {
        const std::string path = dir.file("notes.h5");
        std::ofstream(path) << "step,risk\n1,0.5\n";
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, path));
        CHECK(contains(msg, "not an HDF5 file"));
        CHECK(msg.find('\n') == std::string::npos);
    }

    SECTION("a directory") {
        const std::string msg = cbs::test::user_error([&] { read_study(dir.path().string()); });
        CHECK(contains(msg, dir.path().string()));
    }

    // The remaining cases start from a valid file and break one part of the schema.
    const std::string path = dir.file("broken.h5");
    write_study(path, make_study());
    REQUIRE_NOTHROW(read_study(path));

    SECTION("missing root attribute") {
        for (const char* name : {"schema_version", "cbs_version", "git_sha", "config", "created"}) {
            write_study(path, make_study());
            {
                H5::H5File file(path, H5F_ACC_RDWR);
                file.removeAttr(name);
            }
            const std::string msg = cbs::test::user_error([&] { read_study(path); });
            INFO(msg);
            CHECK(contains(msg, path));
            CHECK(contains(msg, name));
        }
    }

    SECTION("unknown schema_version") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            const std::int64_t two = 2;
            file.openAttribute("schema_version").write(H5::PredType::NATIVE_INT64, &two);
        }
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, path));
        CHECK(contains(msg, "schema_version is 2"));
    }

    SECTION("missing standard dataset") {
        for (const char* name : {"step", "samples", "risk", "risk_ewa"}) {
            write_study(path, make_study());
            {
                H5::H5File file(path, H5F_ACC_RDWR);
                file.unlink(std::string("runs/B=1024/") + name);
            }
            const std::string msg = cbs::test::user_error([&] { read_study(path); });
            INFO(msg);
            CHECK(contains(msg, path));
            CHECK(contains(msg, "B=1024"));
            CHECK(contains(msg, std::string("'") + name + "'"));
        }
    }

    SECTION("curves of different lengths") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            file.unlink("runs/B=1024/risk_ewa");
            const hsize_t dims[1] = {2};
            const double values[2] = {1.0, 2.0};
            H5::Group run = file.openGroup("runs/B=1024");
            run.createDataSet("risk_ewa", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dims))
                .write(values, H5::PredType::NATIVE_DOUBLE);
        }
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, "different lengths"));
    }

    SECTION("array attribute (not a scalar)") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            const hsize_t dims[1] = {3};
            const std::int64_t values[3] = {1, 2, 3};
            file.openGroup("runs/B=1024")
                .createAttribute("widths", H5::PredType::NATIVE_INT64, H5::DataSpace(1, dims))
                .write(H5::PredType::NATIVE_INT64, values);
        }
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, "'widths' is not a scalar"));
    }

    SECTION("a curve whose extent claims more than the file can hold") {
        // A legal sparse HDF5 dataset (chunked, nothing written) of 2^40 doubles: the reader must
        // refuse it by its size instead of allocating 8 TiB (found by fuzz_study_reader).
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            file.unlink("runs/B=1024/risk_ewa");
            const hsize_t dims[1] = {hsize_t{1} << 40};
            const hsize_t chunk[1] = {1024};
            H5::DSetCreatPropList plist;
            plist.setChunk(1, chunk);
            file.openGroup("runs/B=1024")
                .createDataSet("risk_ewa", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dims),
                               plist);
        }
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        INFO(msg);
        CHECK(contains(msg, path));
        CHECK(contains(msg, "'risk_ewa' claims 1099511627776 elements"));
        CHECK(msg.find('\n') == std::string::npos);
    }
}

TEST_CASE("read_study reads a null variable-length string attribute as empty", "[study_file]") {
    // HDF5 stores a null char* as a null string; its C++ API would strlen it (found by fuzzing).
    TempDir dir;
    const std::string path = dir.file("null.h5");
    write_study(path, make_study());
    {
        H5::H5File file(path, H5F_ACC_RDWR);
        H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
        const H5::Attribute attr =
            file.openGroup("runs/B=1024").createAttribute("note", type, H5::DataSpace(H5S_SCALAR));
        const char* null_string = nullptr;
        REQUIRE(H5Awrite(attr.getId(), type.getId(), &null_string) >= 0);
    }
    const Study back = read_study(path);
    REQUIRE(back.runs.at(0).attrs.count("note") == 1);
    CHECK(std::get<std::string>(back.runs.at(0).attrs.at("note")).empty());
}

TEST_CASE("read_study returns curves written by other tools as extra curves", "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("extra.h5");
    write_study(path, make_study());
    {
        // The LM trainer adds train_loss; a float32 curve is widened to double on read, and a
        // subgroup (not a dataset) is ignored.
        H5::H5File file(path, H5F_ACC_RDWR);
        H5::Group run = file.openGroup("runs/B=1024");
        const hsize_t dims[1] = {5};
        const float loss[5] = {4.5f, 3.25f, 2.5f, 2.0f, 1.75f};
        run.createDataSet("train_loss", H5::PredType::NATIVE_FLOAT, H5::DataSpace(1, dims))
            .write(loss, H5::PredType::NATIVE_FLOAT);
        run.createGroup("checkpoints");
        // A root array attribute (this schema's root attributes are scalars) is left out.
        file.createAttribute("histogram", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dims))
            .write(H5::PredType::NATIVE_FLOAT, loss);
    }
    const Study back = read_study(path);
    CHECK(back.meta.attrs == make_study().meta.attrs);
    const RunRecord& run = back.runs.at(0);
    REQUIRE(run.id == "B=1024");
    REQUIRE(run.extra_curves.size() == 1);
    CHECK(run.extra_curves.at("train_loss") == std::vector<double>{4.5, 3.25, 2.5, 2.0, 1.75});
}

TEST_CASE("write_study rejects invalid runs with std::invalid_argument", "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("invalid.h5");
    Study s;
    s.runs.push_back(make_run("good", 4, 1.0));

    bool baseline = false;
    SECTION("valid baseline writes") {
        baseline = true;
        CHECK_NOTHROW(write_study(path, s));
    }
    SECTION("samples shorter than step") {
        s.runs[0].samples.pop_back();
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("risk longer than step") {
        s.runs[0].risk.push_back(0.0);
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("risk_ewa empty") {
        s.runs[0].risk_ewa.clear();
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("extra curve of the wrong length") {
        s.runs[0].extra_curves["risk_se"] = {0.1, 0.2};
        CHECK_THROWS_WITH(write_study(path, s), Catch::Contains("risk_se"));
    }
    SECTION("extra curve shadowing a standard curve") {
        s.runs[0].extra_curves["risk"] = s.runs[0].risk;
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("empty id") {
        s.runs[0].id.clear();
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("id with a slash") {
        s.runs[0].id = "B=64/lr=0.5";
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    SECTION("duplicate ids") {
        s.runs.push_back(make_run("good", 2, 2.0));
        CHECK_THROWS_WITH(write_study(path, s), Catch::Contains("duplicate"));
    }
    SECTION("a further root attribute with a reserved name") {
        s.meta.attrs["config"] = std::string("shadow");
        CHECK_THROWS_WITH(write_study(path, s), Catch::Contains("reserved"));
    }
    SECTION("unsupported schema_version") {
        s.meta.schema_version = 2;
        CHECK_THROWS_AS(write_study(path, s), std::invalid_argument);
    }
    // Whatever was rejected, nothing was written; only the valid baseline wrote a file.
    CHECK(fs::exists(path) == baseline);
    CHECK_FALSE(fs::exists(path + ".partial"));
}

TEST_CASE("utc_timestamp is ISO-8601 UTC with seconds and a Z", "[study_file]") {
    const std::string t = utc_timestamp();
    const std::regex iso(
        R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-6]\dZ)");
    CHECK(std::regex_match(t, iso));
    CHECK(t.size() == 20);
    // Within a few seconds of the system clock's UTC time.
    std::tm tm{};
    REQUIRE(std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t parsed = timegm(&tm);
    const std::time_t now = std::time(nullptr);
    CHECK(std::abs(static_cast<long>(now - parsed)) <= 5);
}

// ---- tables (/cbs, /fits) ------------------------------------------------------------------

namespace {

Table estimates_table() {
    Table t;
    // Deliberately not in alphabetical order: the `columns` attribute keeps display order.
    t.columns.emplace_back("group", std::vector<std::string>{"a=2.0", "a=2.5 λ", ""});
    t.columns.emplace_back(
        "cbs", std::vector<double>{64.0, 181.5, std::numeric_limits<double>::infinity()});
    t.columns.emplace_back("batch_min", std::vector<double>{1, 2, 4});
    t.attrs["rule"] = std::string("20% over the minimum");
    t.attrs["threshold"] = 0.2;
    t.attrs["bootstrap"] = std::int64_t{1000};
    return t;
}

} // namespace

TEST_CASE("study tables round-trip with column order, types and attributes", "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("tables.h5");
    Study s = make_study();
    s.tables["cbs/estimates"] = estimates_table();
    Table fit;
    fit.columns.emplace_back("exponent", std::vector<double>{0.5, 0.25});
    fit.columns.emplace_back("se", std::vector<double>{0.01, 0.02});
    s.tables["fits/cbs_vs_data"] = fit;
    Table empty;
    empty.columns.emplace_back("x", std::vector<double>{});
    empty.columns.emplace_back("label", std::vector<std::string>{});
    s.tables["fits/empty"] = empty;
    write_study(path, s);

    const Study back = read_study(path);
    REQUIRE(back.tables.size() == 3);
    CHECK(back.runs.size() == 3); // runs unaffected
    const Table& t = back.tables.at("cbs/estimates");
    REQUIRE(t.columns.size() == 3);
    CHECK(t.columns[0].first == "group");
    CHECK(t.columns[1].first == "cbs");
    CHECK(t.columns[2].first == "batch_min");
    CHECK(t.columns == estimates_table().columns);
    CHECK(t.attrs == estimates_table().attrs);
    CHECK(t.attrs.count("columns") == 0); // the bookkeeping attribute is not a user attribute
    CHECK(back.tables.at("fits/cbs_vs_data").columns == fit.columns);
    CHECK(back.tables.at("fits/empty").columns == empty.columns);

    // The documented layout, as h5py sees it.
    const H5::H5File file(path, H5F_ACC_RDONLY);
    const H5::Group g = file.openGroup("cbs/estimates");
    std::string columns;
    const H5::Attribute attr = g.openAttribute("columns");
    attr.read(attr.getStrType(), columns);
    CHECK(columns == "group,cbs,batch_min");
    CHECK(g.openDataSet("cbs").getTypeClass() == H5T_FLOAT);
    CHECK(g.openDataSet("cbs").getFloatType().getSize() == 8);
    const H5::DataSet group = g.openDataSet("group");
    REQUIRE(group.getTypeClass() == H5T_STRING);
    CHECK(group.getStrType().isVariableStr());
    CHECK(group.getStrType().getCset() == H5T_CSET_UTF8);
}

TEST_CASE("write_study rejects malformed tables and writes nothing", "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("bad_tables.h5");
    Table t = estimates_table();
    std::string name = "cbs/estimates";
    SECTION("columns of different lengths") {
        std::get<std::vector<double>>(t.columns[1].second).push_back(1.0);
        CHECK_THROWS_WITH(write_study(path, Study{{}, {}, {{name, t}}}),
                          Catch::Contains("'cbs'") && Catch::Contains("values"));
    }
    SECTION("a string column of a different length") {
        std::get<std::vector<std::string>>(t.columns[0].second).pop_back();
        CHECK_THROWS_AS(write_study(path, Study{{}, {}, {{name, t}}}), std::invalid_argument);
    }
    for (const char* column : {"", "a,b", "a/b", "."}) {
        SECTION(std::string("bad column name '") + column + "'") {
            t.columns[2].first = column;
            CHECK_THROWS_AS(write_study(path, Study{{}, {}, {{name, t}}}), std::invalid_argument);
        }
    }
    SECTION("duplicate column") {
        t.columns[2].first = "cbs";
        CHECK_THROWS_WITH(write_study(path, Study{{}, {}, {{name, t}}}),
                          Catch::Contains("duplicate"));
    }
    SECTION("reserved attribute") {
        t.attrs["columns"] = std::string("x");
        CHECK_THROWS_AS(write_study(path, Study{{}, {}, {{name, t}}}), std::invalid_argument);
    }
    for (const char* bad :
         {"estimates", "runs/estimates", "cbs/", "cbs/a/b", "fits/..", "/cbs/a", "cbsx/a"}) {
        SECTION(std::string("bad table path '") + bad + "'") {
            CHECK_THROWS_WITH(write_study(path, Study{{}, {}, {{bad, t}}}),
                              Catch::Contains(std::string("'") + bad + "'"));
        }
    }
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".partial"));
}

TEST_CASE("read_study reads tables written by other tools and rejects inconsistent ones",
          "[study_file]") {
    TempDir dir;
    const std::string path = dir.file("other.h5");
    Study s = make_study();
    s.tables["cbs/estimates"] = estimates_table();
    write_study(path, s);

    SECTION("integer and fixed-length string columns are read as numbers and strings") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            H5::Group g = file.createGroup("fits").createGroup("h5py");
            const hsize_t dims[1] = {2};
            const std::int64_t ints[2] = {7, -3};
            g.createDataSet("n", H5::PredType::NATIVE_INT64, H5::DataSpace(1, dims))
                .write(ints, H5::PredType::NATIVE_INT64);
            const H5::StrType fixed(H5::PredType::C_S1, 4);
            const char text[8] = {'a', 'b', 0, 0, 'w', 'x', 'y', 'z'};
            g.createDataSet("s", fixed, H5::DataSpace(1, dims)).write(text, fixed);
            const H5::StrType vlen(H5::PredType::C_S1, H5T_VARIABLE);
            g.createAttribute("columns", vlen, H5::DataSpace(H5S_SCALAR))
                .write(vlen, std::string("s,n"));
        }
        const Study back = read_study(path);
        const Table& t = back.tables.at("fits/h5py");
        REQUIRE(t.columns.size() == 2);
        CHECK(t.columns[0].first == "s");
        CHECK(std::get<std::vector<std::string>>(t.columns[0].second) ==
              std::vector<std::string>{"ab", "wxyz"});
        CHECK(std::get<std::vector<double>>(t.columns[1].second) == std::vector<double>{7, -3});
        CHECK(back.tables.at("cbs/estimates").columns == estimates_table().columns);
    }
    SECTION("missing `columns` attribute") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            file.openGroup("cbs/estimates").removeAttr("columns");
        }
        const std::string msg = cbs::test::user_error([&] { read_study(path); });
        CHECK(contains(msg, path));
        CHECK(contains(msg, "cbs/estimates"));
        CHECK(contains(msg, "'columns'"));
    }
    SECTION("a dataset not listed in `columns`") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            const hsize_t dims[1] = {3};
            const double v[3] = {1, 2, 3};
            file.openGroup("cbs/estimates")
                .createDataSet("extra", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dims))
                .write(v, H5::PredType::NATIVE_DOUBLE);
        }
        CHECK(contains(cbs::test::user_error([&] { read_study(path); }), "'extra'"));
    }
    SECTION("a listed column without its dataset") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            file.unlink("cbs/estimates/cbs");
        }
        CHECK(contains(cbs::test::user_error([&] { read_study(path); }), "column 'cbs'"));
    }
    SECTION("a dataset directly under /cbs") {
        {
            H5::H5File file(path, H5F_ACC_RDWR);
            const hsize_t dims[1] = {1};
            const double v[1] = {1};
            file.openGroup("cbs")
                .createDataSet("loose", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dims))
                .write(v, H5::PredType::NATIVE_DOUBLE);
        }
        CHECK(contains(cbs::test::user_error([&] { read_study(path); }), "/cbs/loose"));
    }
}
