// The --json output (docs/json.md): written by nlohmann-json in the documented one-line layout;
// every command's output parses and carries the documented fields.
#include "data/json_writer.hpp"

#include "tests/support/cli.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using cbs::data::Json;
using cbs::data::json_line;
using cbs::data::json_number;
using cbs::test::run_cbs;

namespace {

fs::path scratch_dir() {
    return cbs::test::scratch_dir("json_output");
}

/// Parses `text` (one JSON document and a newline), failing the test case if it does not parse.
Json parsed(const std::string& text) {
    INFO(text);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    CHECK(std::count(text.begin(), text.end(), '\n') == 1); // one line
    Json j;
    REQUIRE_NOTHROW(j = Json::parse(text));
    return j;
}

/// `j` has every key of `keys`, in that order (its first keys), and no others unless `more`.
void has_keys(const Json& j, const std::vector<std::string>& keys, bool more = false) {
    INFO(j.dump());
    REQUIRE(j.is_object());
    std::vector<std::string> got;
    for (const auto& item : j.items())
        got.push_back(item.key());
    if (more) got.resize(std::min(got.size(), keys.size()));
    CHECK(got == keys);
}

bool number_or_null(const Json& j) {
    return j.is_number() || j.is_null();
}

} // namespace

TEST_CASE("json_line: the documented layout, numbers and escapes", "[json]") {
    Json j = {{"b", 20.0},
              {"a", 0.1},
              {"n", 7},
              {"x", NAN},
              {"inf", json_number(INFINITY)},
              {"ok", true},
              {"list", {1.5, json_number(NAN)}}};
    j["text"] = "say \"hi\" \\ \n\t\x01 h\xc3\xa9llo";
    j["empty"] = Json::array();
    j["nested"] = {{"k", Json::object()}};
    const std::string line = json_line(j);
    CHECK(line == "{\"b\": 20, \"a\": 0.1, \"n\": 7, \"x\": null, \"inf\": null, \"ok\": true, "
                  "\"list\": [1.5, null], \"text\": \"say \\\"hi\\\" \\\\ \\n\\t\\u0001 "
                  "h\xc3\xa9llo\", \"empty\": [], \"nested\": {\"k\": {}}}");
    const Json back = Json::parse(line);
    CHECK(back["text"] == j["text"]);
    CHECK(back["b"] == 20);
    CHECK(back["x"].is_null());
    CHECK(json_line(Json(1e-8)) == "1e-08");
    CHECK(json_line(Json("bad \xff utf-8")) == "\"bad \xef\xbf\xbd utf-8\""); // U+FFFD
}

TEST_CASE("cbs measure --json and cbs fit --json parse and carry the documented fields", "[json]") {
    const fs::path csv = scratch_dir() / "steps.csv";
    std::ofstream(csv) << "group,batch,steps\n"
                       << "g \"1\",1,10100\ng \"1\",2,5100\ng \"1\",4,2600\ng \"1\",8,1350\n"
                       << "g \"1\",16,725\ng \"1\",32,412.5\n";
    const auto m = run_cbs("measure --json " + csv.string());
    INFO(m.err);
    REQUIRE(m.code == 0);
    const Json measure = parsed(m.out);
    has_keys(measure, {"groups"});
    REQUIRE(measure["groups"].size() == 1);
    const Json& g = measure["groups"][0];
    has_keys(g, {"group", "target", "measurable", "b_opt", "fit", "cbs"});
    CHECK(g["group"] == "g \"1\""); // a quote in a group name stays a quote
    CHECK(g["target"].is_null());
    CHECK(g["measurable"] == true);
    has_keys(g["fit"], {"a", "b"});
    has_keys(g["cbs"], {"study", "study_ci", "direct", "direct_ci", "anchor_zero", "b_noise",
                        "study_10", "study_20", "study_50", "direct_10", "direct_20", "direct_50"});
    CHECK(g["cbs"]["study"].get<double>() == Approx(21.2));
    CHECK(g["cbs"]["study_ci"].size() == 2);
    CHECK(g["b_opt"].is_number_integer()); // 1, as documented, not 1.0

    const fs::path xy = scratch_dir() / "xy.csv";
    std::ofstream(xy) << "x,y\n1,2\n10,20\n100,200\n1000,2000\n";
    const auto f = run_cbs("fit --json --forecast 5000 " + xy.string());
    INFO(f.err);
    REQUIRE(f.code == 0);
    const Json fit = parsed(f.out);
    has_keys(fit, {"c", "alpha", "alpha_ci", "alpha_se", "r2", "points", "forecasts"});
    CHECK(fit["alpha"].get<double>() == Approx(1.0).epsilon(1e-12));
    CHECK(fit["points"] == 4);
    REQUIRE(fit["forecasts"].size() == 1);
    has_keys(fit["forecasts"][0], {"x", "y", "low", "high"});
    CHECK(fit["forecasts"][0]["x"] == 5000);

    const fs::path nmy = scratch_dir() / "nmy.csv";
    std::ofstream(nmy) << "n,m,y\n1,1,3\n10,1,30\n1,10,6\n10,10,60\n100,10,600\n";
    const auto jf = run_cbs("fit --json " + nmy.string());
    INFO(jf.err);
    REQUIRE(jf.code == 0);
    const Json joint = parsed(jf.out);
    has_keys(joint, {"c", "alpha", "alpha_ci", "gamma", "gamma_ci", "r2", "points"});
    CHECK(joint["points"] == 5);
}

TEST_CASE("cbs coord-check --json parses and carries the documented fields", "[json]") {
    const auto r = run_cbs("coord-check --widths 16,32 --params mup --steps 2 --set batch=8 "
                           "--set net.seeds=1 --set net.input_dim=8 --json");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Json j = parsed(r.out);
    has_keys(j, {"steps", "layers", "rows", "summary", "lr"});
    CHECK(j["steps"] == 2);
    CHECK(j["layers"] == Json({"h1", "h2", "out"}));
    REQUIRE(j["rows"].size() == 4); // 2 widths x steps {0, 2}
    for (const Json& row : j["rows"]) {
        has_keys(row, {"param", "width", "step", "diverged", "mean_abs"});
        CHECK(row["mean_abs"].size() == 3);
        CHECK(row["diverged"].is_boolean());
    }
    REQUIRE(j["summary"].size() == 1);
    has_keys(j["summary"][0], {"param", "max_over_min", "widths", "diverged_widths"});
    CHECK(j["summary"][0]["widths"] == Json({16, 32}));
    CHECK(j["lr"] == 0.01);
}

TEST_CASE("cbs run --json parses and carries the documented fields", "[json]") {
    const fs::path dir = scratch_dir() / "run";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path study = dir / "tiny_study.toml";
    // Three data sizes whose CBS is measurable (0.3 s), so that fits[] has entries.
    std::ofstream(study) << "spectrum.a = 2.0\nspectrum.b = 3.0\nquadrature.tol = 1e-3\n"
                         << "[study]\nfamilies = [\"sgd\"]\nbatches = [1, 4, 16, 64, 256]\n"
                         << "lr_grid = [0.125, 0.25, 0.5, 1.0, 2.0]\nlr_refine = 1\n"
                         << "bootstrap = 10\n[series.data]\ndata.samples = [1000, 4000, 16000]\n";
    const auto r = run_cbs("run " + study.string() + " --json --no-report --quiet --out " +
                           (dir / "s.h5").string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    const Json j = parsed(r.out);
    has_keys(j, {"study", "seconds", "simulations", "groups", "fits"});
    CHECK(j["study"].is_string());
    CHECK(j["simulations"].is_number_integer());
    REQUIRE(j["groups"].size() == 3);
    for (const Json& g : j["groups"]) {
        has_keys(g, {"series", "group", "family", "n", "M", "target", "r_opt", "measurable"}, true);
        CHECK(g["series"] == "data");
        CHECK(g["family"] == "sgd");
        CHECK(g["M"].is_null()); // an infinite model
        if (g["measurable"] == true) {
            has_keys(g, {"series", "group", "family", "n", "M", "target", "r_opt", "measurable",
                         "b_opt", "fit", "cbs", "batches"});
            has_keys(g["cbs"],
                     {"study", "study_ci", "direct", "direct_ci", "anchor_zero", "b_noise"});
        }
        CHECK(g["measurable"] == true);
        REQUIRE(g["batches"].size() == 5);
        for (const Json& b : g["batches"]) {
            has_keys(b, {"batch", "steps", "lr", "momentum", "ewa_decay"});
            CHECK(b["batch"].is_number_integer());
            CHECK(number_or_null(b["steps"]));
        }
    }
    REQUIRE(j["fits"].size() == 3); // data.samples, r_opt, t_star
    for (const Json& f : j["fits"]) {
        has_keys(
            f, {"series", "family", "variable", "exponent", "exponent_ci", "predicted", "c", "r2"});
        CHECK(f["exponent_ci"].size() == 2);
    }
}
