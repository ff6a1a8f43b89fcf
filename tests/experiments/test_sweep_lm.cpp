// `simulator = lm` in `cbs sweep`: a tiny batch-size sweep of language models on the committed
// sample (experiments/studies/lm_tiny.toml) is stored like any sweep, resumes by skipping stored
// runs, and `cbs measure` turns it into a CBS table with the same code as the simulators.
#include "data/study_file.hpp"
#include "tests/support/cli.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <variant>

namespace fs = std::filesystem;
using cbs::test::run_cbs;

TEST_CASE("cbs sweep runs LM trainings (simulator = lm) and cbs measure finds their CBS",
          "[sweep][lm]") {
    const std::string source = CBS_SOURCE_DIR;
    const std::string shards = source + "/data/samples/moby-dick-head-byte/";
    const fs::path out = cbs::test::scratch_dir("sweep_lm") / "lm.h5";
    fs::remove(out);
    const std::string args = "sweep " + source + "/experiments/studies/lm_tiny.toml --quiet" +
                             " --set data.train=" + shards + "train_000000.bin" +
                             " --set data.val=" + shards + "val_000000.bin --out " + out.string();
    const cbs::test::CliResult first = run_cbs(args);
    INFO(first.err);
    REQUIRE(first.code == 0);

    const cbs::data::Study study = cbs::data::read_study(out.string());
    REQUIRE(study.runs.size() == 5u); // batch = [2, 4, 8, 16, 32]
    std::vector<std::int64_t> batches;
    for (const cbs::data::RunRecord& r : study.runs) {
        CHECK(std::get<std::string>(r.attrs.at("simulator")) == "lm");
        CHECK(r.extra_curves.count("train_loss") == 1);
        // ewa.decays = [0.9, 0.97] is one value of one run (both decays tracked), not an axis.
        CHECK(r.extra_curves.count("risk_ewa_1") == 1);
        batches.push_back(std::get<std::int64_t>(r.attrs.at("batch")));
    }
    std::sort(batches.begin(), batches.end());
    CHECK(batches == std::vector<std::int64_t>{2, 4, 8, 16, 32});

    const cbs::test::CliResult again =
        run_cbs(args.substr(0, args.find(" --quiet")) + args.substr(args.find(" --quiet") + 8));
    REQUIRE(again.code == 0);
    CHECK(again.out.find("5 already stored, 0 ran") != std::string::npos);

    const cbs::test::CliResult measured = run_cbs("measure " + out.string());
    INFO(measured.out << measured.err);
    REQUIRE(measured.code == 0);
    // One group ("all"), measurable: its row carries numbers, not "not measurable".
    std::istringstream rows(measured.out);
    std::string header, row;
    std::getline(rows, header);
    std::getline(rows, row);
    CHECK(header.find("CBS") != std::string::npos);
    CHECK(row.rfind("all", 0) == 0);
    CHECK(row.find("not measurable") == std::string::npos);
}
