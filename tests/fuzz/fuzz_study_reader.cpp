// Fuzz target: arbitrary bytes as an HDF5 study file -> read_study. Either it refuses with
// cbs::UserError, or what it returns is a valid study: write_study accepts it and reading that back
// gives the same study (study_file.cpp promises "whatever the reader returns, write_study
// accepts"). Seeds: corpus/fuzz_study_reader/ (small real study files written by cbs).
#include "data/study_file.hpp"
#include "fuzz_support.hpp"
#include "theory/check.hpp"

namespace {

bool same_doubles(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i] || (a[i] != a[i] && b[i] != b[i]))) return false; // NaN equals NaN
    return true;
}

bool same_runs(const cbs::data::RunRecord& a, const cbs::data::RunRecord& b) {
    if (a.id != b.id || a.step != b.step || a.samples != b.samples ||
        !same_doubles(a.risk, b.risk) || !same_doubles(a.risk_ewa, b.risk_ewa) ||
        a.extra_curves.size() != b.extra_curves.size())
        return false;
    for (const auto& [name, curve] : a.extra_curves) {
        const auto it = b.extra_curves.find(name);
        if (it == b.extra_curves.end() || !same_doubles(curve, it->second)) return false;
    }
    return a.attrs.size() == b.attrs.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace d = cbs::data;
    static const std::filesystem::path path = cbs::fuzz::scratch_path("study.h5");
    static const std::filesystem::path copy = cbs::fuzz::scratch_path("study-copy.h5");
    cbs::fuzz::write_file(path, data, size);
    d::Study study;
    try {
        study = d::read_study(path.string());
    } catch (const cbs::UserError&) {
        return 0;
    }
    d::write_study(copy.string(), study); // any exception here is a finding
    const d::Study again = d::read_study(copy.string());
    FUZZ_REQUIRE(again.runs.size() == study.runs.size(), "run count changed on rewrite");
    FUZZ_REQUIRE(again.tables.size() == study.tables.size(), "table count changed on rewrite");
    FUZZ_REQUIRE(again.meta.config == study.meta.config, "config changed on rewrite");
    for (std::size_t i = 0; i < study.runs.size(); ++i)
        FUZZ_REQUIRE(same_runs(study.runs[i], again.runs[i]), "run " + study.runs[i].id);
    return 0;
}
