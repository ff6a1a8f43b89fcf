// Parsing of `spectrum.file` (spectrum_file.hpp): strict, line-numbered, one message per error.
#include "simulators/spectrum_file.hpp"

#include "theory/check.hpp"
#include "theory/fnv1a.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

namespace cbs::sim {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == ',';
}

} // namespace

std::shared_ptr<const UserSpectrum> load_spectrum_file(const std::string& path) {
    const auto refuse = [&](const std::string& rule) {
        return UserError("`spectrum.file` = " + path + ": " + rule);
    };
    if (path.empty()) throw refuse("must name a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw refuse(std::string("cannot open (") + std::strerror(errno) + ")");

    auto spectrum = std::make_shared<UserSpectrum>();
    spectrum->path = path;
    std::uint64_t hash = kFnv1aBasis;
    std::string line;
    std::size_t line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        if (const std::size_t hash_at = line.find('#'); hash_at != std::string::npos)
            line.resize(hash_at);
        // Split into whitespace/comma separated fields.
        std::vector<std::string> fields;
        for (std::size_t i = 0; i < line.size();) {
            while (i < line.size() && is_space(line[i]))
                ++i;
            const std::size_t start = i;
            while (i < line.size() && !is_space(line[i]))
                ++i;
            if (i > start) fields.push_back(line.substr(start, i - start));
        }
        if (fields.empty()) continue;
        const auto at_line = [&](const std::string& rule) {
            return refuse("line " + std::to_string(line_number) + ": " + rule);
        };
        if (fields.size() != 2)
            throw at_line("expected two numbers `lambda_i signal_i`, found " +
                          std::to_string(fields.size()) +
                          (fields.size() == 1 ? " field" : " fields"));
        double values[2] = {0, 0};
        const char* names[2] = {"lambda_i", "signal_i = lambda_i w*_i^2"};
        for (int k = 0; k < 2; ++k) {
            const std::string& text = fields[static_cast<std::size_t>(k)];
            const char* end = text.data() + text.size();
            const auto [ptr, ec] = std::from_chars(text.data(), end, values[k]);
            if (ec != std::errc() || ptr != end)
                throw at_line(std::string(names[k]) + " = '" + text + "' is not a number");
            if (!std::isfinite(values[k]))
                throw at_line(std::string(names[k]) + " = " + text + " must be finite");
            if (!(values[k] > 0.0))
                throw at_line(std::string(names[k]) + " = " + text + " must be > 0");
        }
        if (spectrum->lambda.size() >= kMaxSpectrumEntries)
            throw at_line("more than " + std::to_string(kMaxSpectrumEntries) + " entries");
        spectrum->lambda.push_back(values[0]);
        spectrum->signal.push_back(values[1]);
        hash = fnv1a(values, sizeof values, hash);
    }
    if (in.bad()) throw refuse("read error");
    if (spectrum->lambda.empty())
        throw refuse("no entries (one `lambda_i signal_i` pair per line, '#' comments)");
    spectrum->content_hash = hash;
    return spectrum;
}

} // namespace cbs::sim
