// A user-given finite spectrum (`spectrum.file`): the eigenvalues lambda_i and signals
// lambda_i (w*_i)^2 of a d-dimensional least-squares problem, read from a text file, in place of
// the power law i^-a, i^-b of THEORY.md section 1. Used by the recursion (every coordinate exact,
// no quadrature, no frozen tail) and by Monte Carlo (x_i = sqrt(lambda_i) z_i, w*_i =
// sqrt(signal_i / lambda_i)). model.size M keeps the first M coordinates of the file; the rest of
// its signal acts as label noise and adds a constant to the risk, as in section 1.
//
// File format: one "lambda_i  signal_i" pair per line (whitespace or a comma between them),
// '#' starts a comment, blank lines are skipped. Both numbers must be finite and > 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cbs::sim {

struct UserSpectrum {
    std::string path;               ///< as given (the `spectrum.file` value)
    std::vector<double> lambda;     ///< lambda_i > 0, file order (i = 1..d)
    std::vector<double> signal;     ///< lambda_i (w*_i)^2 > 0, same length
    std::uint64_t content_hash = 0; ///< FNV-1a of the parsed numbers' bytes (run ids)

    std::size_t dimension() const { return lambda.size(); }
};

/// Most entries a file may hold (the recursion is O(d) per step; Monte Carlo allows less).
inline constexpr std::size_t kMaxSpectrumEntries = 10'000'000;

/// Reads and validates a spectrum file. Throws cbs::UserError with one line
/// "`spectrum.file` = PATH: ..." (naming the line for a bad entry) when the file is missing or
/// unreadable, empty (no entries), or holds a malformed, non-finite, zero or negative number.
std::shared_ptr<const UserSpectrum> load_spectrum_file(const std::string& path);

} // namespace cbs::sim
