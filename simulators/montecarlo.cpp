// Monte Carlo SGD on finite-dimensional power-law least squares (contract in montecarlo.hpp).
// Each run is the literal optimizer of THEORY.md section 2 on freshly sampled Gaussian data; the
// risk recorded is the exact expected risk of the run's current weights, so the only randomness
// in a run's curve is the optimizer trajectory. Runs are independent and parallel over OpenMP;
// each has its own random stream seeded from (seed, run index) alone.
#include "simulators/montecarlo.hpp"

#include "simulators/record_steps.hpp"
#include "simulators/schedule.hpp"
#include "theory/check.hpp"
#include "theory/tail_sums.hpp"

#include <Eigen/Dense>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace cbs::sim {

namespace {

/// splitmix64 finalizer: a bijective 64-bit mix, used to derive stream seeds.
std::uint64_t mix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// xoshiro256** (Blackman & Vigna): fast, 256-bit state, passes BigCrush.
class Xoshiro256 {
public:
    /// The state depends only on (seed, stream): run k of a simulation uses stream k.
    Xoshiro256(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t x = mix64(mix64(seed) ^ mix64(stream + 0x632BE59BD9B4E019ULL));
        for (auto& s : state_) {
            x += 0x9E3779B97F4A7C15ULL; // splitmix64 sequence: never all-zero state
            s = mix64(x);
        }
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    /// Uniform in (-1, 1) with 53 random bits (the top bits of next()).
    double symmetric_uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t state_[4];
};

/// Standard normals by Marsaglia's polar method (two per accepted pair, acceptance pi/4).
class NormalSource {
public:
    NormalSource(std::uint64_t seed, std::uint64_t stream) : rng_(seed, stream) {}

    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u, v;
        const double f = pair(u, v);
        spare_ = v * f;
        has_spare_ = true;
        return u * f;
    }

    /// out[0..n) <- independent standard normals (the same numbers n calls would give).
    void fill(double* out, std::ptrdiff_t n) {
        std::ptrdiff_t i = 0;
        if (n > 0 && has_spare_) {
            out[i++] = spare_;
            has_spare_ = false;
        }
        for (; i + 1 < n; i += 2) {
            double u, v;
            const double f = pair(u, v);
            out[i] = u * f;
            out[i + 1] = v * f;
        }
        if (i < n) out[i] = (*this)();
    }

private:
    /// Draws (u, v) uniform in the unit disc minus the origin; returns sqrt(-2 ln s / s).
    double pair(double& u, double& v) {
        double s;
        do {
            u = rng_.symmetric_uniform();
            v = rng_.symmetric_uniform();
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        return std::sqrt(-2.0 * std::log(s) / s);
    }

    Xoshiro256 rng_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

/// The problem of one simulation, shared read-only by all runs. Vectors have length M.
struct Problem {
    Eigen::VectorXd lambda;      // lambda_i = i^-a
    Eigen::VectorXd sqrt_lambda; // x_i = sqrt(lambda_i) z_i
    Eigen::VectorXd w_star;      // w*_i = i^((a-b)/2)
    Eigen::VectorXd precond;     // lambda_i^-p
    double noise_sd = 0.0;       // sqrt(sigma_eff2) = sqrt(sigma2 + sum_{i>M} i^-b)
    double approximation = 0.0;  // 1/2 sum_{i>M} i^-b, added to every risk
    double risk_limit = 0.0;     // divergence_factor * R_0
    std::int64_t total = 0;      // optimizer steps
    std::vector<std::int64_t> record;
};

/// Exact expected risk 1/2 sum_i lambda_i (v_i - w*_i)^2 + approximation error, for weights v.
double risk_of(const Problem& pb, const Eigen::VectorXd& v) {
    return 0.5 * (pb.lambda.array() * (v - pb.w_star).array().square()).sum() + pb.approximation;
}

/// Atomically lowers `target` to `value` if smaller.
void lower_to(std::atomic<std::int64_t>& target, std::int64_t value) {
    std::int64_t current = target.load(std::memory_order_relaxed);
    while (value < current &&
           !target.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
    }
}

/// One SGD run. Writes its raw and EWA risks at the recorded steps into risk[0..R) and
/// risk_ewa[0..R) (entries it does not reach stay untouched). Returns the step at which its risk
/// diverged, or int64 max. Stops early once `first_divergence` (the earliest divergence step any
/// run has reported so far) makes every later step irrelevant: the curve keeps only steps before
/// the earliest divergence, so this shortcut never changes the output.
std::int64_t run_sgd(const Problem& pb, const SimOptions& o, std::uint64_t run, double* risk,
                     double* risk_ewa, std::atomic<std::int64_t>& first_divergence) {
    constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
    const Eigen::Index M = pb.lambda.size();
    NormalSource normal(static_cast<std::uint64_t>(o.seed), run);

    Eigen::VectorXd w = Eigen::VectorXd::Zero(M);  // weights w_t
    Eigen::VectorXd m = Eigen::VectorXd::Zero(M);  // momentum buffer m_t
    Eigen::VectorXd xi = Eigen::VectorXd::Zero(M); // un-corrected EWA (or mean) of the weights
    Eigen::VectorXd e(M);                          // error w - w*
    Eigen::VectorXd g(M);                          // mini-batch gradient
    Eigen::VectorXd x(M);                          // one sample's features
    Eigen::VectorXd average(M);                    // averaged weights (EWA bias-corrected)
    const double beta = o.momentum;
    const bool ewa = o.average == Average::ewa;
    const double log_tau = o.ewa_decay > 0.0 ? std::log(o.ewa_decay) : 0.0;
    const double inv_batch = 1.0 / static_cast<double>(o.batch);

    std::size_t next = 0;
    for (std::int64_t t = 0; t < pb.total && next < pb.record.size(); ++t) {
        const std::int64_t step = t + 1; // updates done after this iteration
        if (step >= first_divergence.load(std::memory_order_relaxed)) return never;

        // g = (1/B) sum_j x_j (x_j^T w - y_j) with y_j = x_j^T w* + eps_j, i.e. residual
        // x_j^T e - eps_j. One sample at a time: O(M) memory for any B.
        e = w - pb.w_star;
        g.setZero();
        for (std::int64_t j = 0; j < o.batch; ++j) {
            normal.fill(x.data(), M);
            x.array() *= pb.sqrt_lambda.array();
            const double eps = pb.noise_sd * normal();
            const double residual = x.dot(e) - eps;
            g.noalias() += residual * x;
        }
        g *= inv_batch;

        // Heavy ball (PyTorch form), diagonal preconditioning, then the EWA of the new weights.
        m = beta * m + g;
        const double eta = learning_rate(o, t, pb.total);
        w.array() -= eta * pb.precond.array() * m.array();
        // EWA: constant tau; uniform / tail: the running mean, tau = 1 - 1/(iterates averaged).
        const double tau = o.average_decay(t);
        xi = tau * xi + (1.0 - tau) * w;

        const double r = risk_of(pb, w);
        if (!std::isfinite(r) || r > pb.risk_limit) {
            lower_to(first_divergence, step);
            return step;
        }
        if (step != pb.record[next]) continue;
        // Bias correction 1 - tau^step, computed without cancellation for tau near 1.
        // Uniform and tail averages are means already.
        if (ewa && o.ewa_decay > 0.0) {
            const double correction = -std::expm1(static_cast<double>(step) * log_tau);
            average = xi / correction;
        } else {
            average = xi;
        }
        risk[next] = r;
        risk_ewa[next] = risk_of(pb, average);
        ++next;
    }
    return never;
}

/// Mean and standard error (sample standard deviation with n - 1, over sqrt(n)) of column j of
/// a row-major (n x R) matrix, summed in run order so the result is thread-count independent.
void column_stats(const std::vector<double>& values, std::size_t n, std::size_t R, std::size_t j,
                  double& mean, double& se) {
    double sum = 0.0;
    for (std::size_t k = 0; k < n; ++k)
        sum += values[k * R + j];
    mean = sum / static_cast<double>(n);
    double squares = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double d = values[k * R + j] - mean;
        squares += d * d;
    }
    se = std::sqrt(squares / static_cast<double>(n - 1) / static_cast<double>(n));
}

} // namespace

Curve simulate_montecarlo(const SimOptions& o) {
    CBS_CHECK(std::isfinite(o.learned_dimension()) && o.learned_dimension() >= 1.0,
              "montecarlo needs a finite model.size, got ", o.model_size);
    CBS_CHECK(o.mc_seeds >= 2, "montecarlo.seeds = ", o.mc_seeds, " (standard error needs >= 2)");
    CBS_CHECK(o.batch >= 1, "batch = ", o.batch);

    const auto M = static_cast<Eigen::Index>(o.learned_dimension());
    Problem pb;
    pb.lambda.resize(M);
    pb.sqrt_lambda.resize(M);
    pb.w_star.resize(M);
    pb.precond.resize(M);
    for (Eigen::Index k = 0; k < M; ++k) {
        const double i = static_cast<double>(k + 1);
        if (o.spectrum) { // spectrum.file: w*_i = sqrt(signal_i / lambda_i), all positive
            const auto at = static_cast<std::size_t>(k);
            pb.lambda[k] = o.spectrum->lambda[at];
            pb.sqrt_lambda[k] = std::sqrt(pb.lambda[k]);
            pb.w_star[k] = std::sqrt(o.spectrum->signal[at] / pb.lambda[k]);
        } else {
            pb.lambda[k] = std::pow(i, -o.a);
            pb.sqrt_lambda[k] = std::pow(i, -0.5 * o.a);
            pb.w_star[k] = std::pow(i, 0.5 * (o.a - o.b));
        }
        pb.precond[k] = o.precond_power == 0.0 ? 1.0 : std::pow(pb.lambda[k], -o.precond_power);
    }
    // The unlearned tail i > M acts as label noise and adds its signal to the risk.
    double tail_signal = 0.0;
    if (o.spectrum) {
        for (std::size_t k = static_cast<std::size_t>(M); k < o.spectrum->dimension(); ++k)
            tail_signal += o.spectrum->signal[k];
    } else {
        tail_signal = theory::power_tail_sum(o.b, o.model_size + 1.0);
    }
    pb.noise_sd = std::sqrt(o.sigma2 + tail_signal);
    pb.approximation = 0.5 * tail_signal;
    const double risk0 = risk_of(pb, Eigen::VectorXd::Zero(M)); // w_0 = 0
    pb.risk_limit = o.divergence_factor * risk0;
    pb.total = o.total_steps();
    pb.record = record_steps(o, pb.total);

    const auto runs = static_cast<std::size_t>(o.mc_seeds);
    const std::size_t R = pb.record.size();
    // (runs x R), row-major: run k owns row k. NaN marks steps a run never reached.
    std::vector<double> risk(runs * R, std::numeric_limits<double>::quiet_NaN());
    std::vector<double> risk_ewa(runs * R, std::numeric_limits<double>::quiet_NaN());
    std::atomic<std::int64_t> first_divergence{std::numeric_limits<std::int64_t>::max()};

#pragma omp parallel for schedule(dynamic)
    for (std::int64_t k = 0; k < o.mc_seeds; ++k) {
        const auto row = static_cast<std::size_t>(k) * R;
        run_sgd(pb, o, static_cast<std::uint64_t>(k), risk.data() + row, risk_ewa.data() + row,
                first_divergence);
    }

    // Every run either finished or stopped at a step >= the earliest divergence, so the recorded
    // steps before that step are complete in all rows.
    const std::int64_t diverged_at = first_divergence.load();
    Curve curve;
    if (diverged_at != std::numeric_limits<std::int64_t>::max()) {
        curve.diverged = true;
        curve.diverged_step = diverged_at;
    }
    for (std::size_t j = 0; j < R && pb.record[j] < diverged_at; ++j) {
        double mean, se, mean_ewa, se_ewa;
        column_stats(risk, runs, R, j, mean, se);
        column_stats(risk_ewa, runs, R, j, mean_ewa, se_ewa);
        curve.step.push_back(pb.record[j]);
        curve.samples.push_back(pb.record[j] * o.batch);
        curve.risk.push_back(mean);
        curve.risk_ewa.push_back(mean_ewa);
        curve.risk_se.push_back(se);
        curve.risk_ewa_se.push_back(se_ewa);
    }
    return curve;
}

} // namespace cbs::sim
