// Checkpoints of an LM run: everything needed to continue bit for bit — the resolved options, the
// step, the partial train-loss average, the curves recorded so far and every state buffer
// (parameters, Adam moments, EWA buffers). The data order is a function of (seed, sequence
// index), so it needs no state.
//
// File format (little-endian): "CBSLMCK1", then u64-length-prefixed fields in the order of
// LmCheckpoint, then a u64 FNV-1a hash of everything before it. Written to "<path>.partial" and
// renamed, so an interrupted write never replaces a good checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cbs::lm {

struct LmCheckpoint {
    std::string options_toml;  ///< to_toml(options) of the run that wrote it
    std::int64_t step = 0;     ///< optimizer updates done
    double train_loss_sum = 0; ///< train losses since the last recorded step
    std::int64_t train_loss_count = 0;
    std::int64_t diverged_step = -1;
    std::vector<std::int64_t> curve_step, curve_samples;
    std::vector<double> risk, risk_ewa, train_loss;
    std::vector<std::vector<double>> risk_ewa_by_decay;
    std::vector<std::vector<float>> buffers; ///< params, adam_m, adam_v, then one per EWA decay
};

/// Throws cbs::UserError naming the path when it cannot be written.
void write_checkpoint(const std::string& path, const LmCheckpoint& checkpoint);

/// Throws cbs::UserError naming the path when it is missing, not a checkpoint, truncated or
/// corrupt (hash mismatch).
LmCheckpoint read_checkpoint(const std::string& path);

} // namespace cbs::lm
