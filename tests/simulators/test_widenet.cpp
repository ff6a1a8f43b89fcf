// Wide-network simulator: the μP coordinate check, width convergence of the loss curves at fixed
// hyper-parameters (Theorem 1 of the study), determinism, standard errors, targets, refusals.
#include "simulators/coord_check.hpp"
#include "simulators/widenet.hpp"
#include "theory/check.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <iostream>
#include <numeric>
#include <omp.h>
#include <sstream>

using namespace cbs::sim;

namespace {

SimOptions net_options() {
    SimOptions o;
    o.simulator = SimulatorKind::widenet;
    o.a = 2.0;
    o.b = 3.0;
    o.sigma2 = 0.1;
    o.batch = 32;
    o.lr = 0.5;
    o.ewa_decay = 0.9;
    o.net.depth = 2;
    o.net.input_dim = 16;
    o.net.base_width = 64;
    o.net.seeds = 2;
    o.net.eval_samples = 1024;
    o.seed = 3;
    return o;
}

/// Per layer, the smallest and largest finite mean |activation| over widths of `param`'s rows
/// after `step` updates, and how many values were not finite.
struct LayerSpread {
    std::vector<double> lo, hi;
    int non_finite = 0;
};
LayerSpread spread_over_widths(const std::vector<CoordCheckRow>& rows, Parameterization param,
                               std::int64_t step, std::size_t layers) {
    LayerSpread s{std::vector<double>(layers, 1e300), std::vector<double>(layers, 0.0)};
    for (const CoordCheckRow& r : rows)
        if (r.param == param && r.step == step)
            for (std::size_t l = 0; l < layers; ++l) {
                if (!std::isfinite(r.mean_abs[l])) {
                    ++s.non_finite;
                    continue;
                }
                s.lo[l] = std::min(s.lo[l], r.mean_abs[l]);
                s.hi[l] = std::max(s.hi[l], r.mean_abs[l]);
            }
    return s;
}

/// μP's criterion: every layer's scale finite and within a factor 2 over the widths.
void check_mup_flat(const std::vector<CoordCheckRow>& rows, std::int64_t step,
                    const std::vector<std::string>& layers) {
    const LayerSpread mup = spread_over_widths(rows, Parameterization::mup, step, layers.size());
    CHECK(mup.non_finite == 0);
    for (std::size_t l = 0; l < layers.size(); ++l) {
        INFO("layer " << layers[l] << " mup range [" << mup.lo[l] << ", " << mup.hi[l] << "]");
        CHECK(mup.lo[l] > 0.0);
        CHECK(mup.hi[l] / mup.lo[l] < 2.0);
    }
}

/// The network output's mean |activation| of `param` at `width` after `step` updates.
double output_scale(const std::vector<CoordCheckRow>& rows, Parameterization param,
                    std::int64_t width, std::int64_t step) {
    for (const CoordCheckRow& r : rows)
        if (r.param == param && r.width == width && r.step == step) return r.mean_abs.back();
    FAIL("no row for width " << width);
    return 0;
}

struct ThreadCount {
    int saved = omp_get_max_threads();
    explicit ThreadCount(int n) { omp_set_num_threads(n); }
    ~ThreadCount() { omp_set_num_threads(saved); }
};

} // namespace

TEST_CASE("widenet: coordinate check, mup flat and sp growing in width", "[widenet]") {
    // 10 SGD steps at a learning rate that is fine at the base width (64). Under μP every
    // layer's mean |activation| must stay within a factor 2 over widths 64..4096 (the issue's
    // criterion). Under SP the output's update grows like eta N (and the hidden ones like
    // eta sqrt(N)): we require the output at 4096 to exceed 4x its value at 64 (or to have blown
    // up to non-finite values), and some layer's scale to vary by more than 2x over the widths.
    SimOptions o = net_options();
    o.net.seeds = 1;
    o.net.eval_samples = 128; // probe inputs: 128 x N units per layer, plenty for a mean
    o.batch = 16;
    o.lr = 0.03;
    o.ewa_decay = 0.0;
    o.validate();
    const std::vector<std::int64_t> widths{64, 256, 1024, 4096};
    const auto rows = coord_check(o, widths, {Parameterization::mup, Parameterization::sp}, 10);
    REQUIRE(rows.size() == 2 * widths.size() * 2);
    const auto layers = coord_check_layers(o.net.depth);
    for (const CoordCheckRow& r : rows) {
        std::ostringstream line;
        line << to_string(r.param) << " N=" << r.width << " step " << r.step << ":";
        for (double v : r.mean_abs)
            line << " " << v;
        WARN(line.str());
    }
    check_mup_flat(rows, 10, layers);
    const double sp_first = output_scale(rows, Parameterization::sp, 64, 10);
    const double sp_last = output_scale(rows, Parameterization::sp, 4096, 10);
    CHECK((!std::isfinite(sp_last) || sp_last > 4.0 * sp_first));
    const LayerSpread sp = spread_over_widths(rows, Parameterization::sp, 10, layers.size());
    bool sp_varies = false;
    for (std::size_t l = 0; l < layers.size(); ++l)
        sp_varies = sp_varies || !(sp.hi[l] < 2.0 * sp.lo[l]);
    CHECK(sp_varies);
}

TEST_CASE("widenet: coordinate check under Adam (depth 3, gelu), mup flat and sp growing",
          "[widenet]") {
    // Adam's μP multipliers differ from SGD's (THEORY.md section 4: hidden and output LR
    // ~ 1/fan_in). Adam moves every entry by ~lr whatever its gradient's scale, so under SP a
    // hidden layer's update adds up coherently over N inputs and the activations grow like lr N;
    // under μP the 1/fan_in LR cancels that. Measured at lr 0.01 (base width 64): μP max/min over
    // widths 64..4096 about 1.06..1.22 per layer; SP 14x (h2) to 250x (out). Criteria as for SGD:
    // μP within 2x in every layer, SP's output at 4096 above 4x its value at 64.
    SimOptions o = net_options();
    o.net.seeds = 1;
    o.net.eval_samples = 128;
    o.net.depth = 3;
    o.net.activation = Activation::gelu;
    o.net.optimizer = Optimizer::adam;
    o.batch = 16;
    o.lr = 0.01;
    o.ewa_decay = 0.0;
    o.validate();
    const std::vector<std::int64_t> widths{64, 256, 1024, 4096};
    const auto rows = coord_check(o, widths, {Parameterization::mup, Parameterization::sp}, 10);
    const auto layers = coord_check_layers(o.net.depth);
    REQUIRE(layers.size() == 4);
    check_mup_flat(rows, 10, layers);
    const double sp_out_64 = output_scale(rows, Parameterization::sp, 64, 10);
    const double sp_out_4096 = output_scale(rows, Parameterization::sp, 4096, 10);
    INFO("sp output scale: " << sp_out_64 << " at N = 64, " << sp_out_4096 << " at N = 4096");
    REQUIRE(sp_out_64 > 0.0);
    CHECK((!std::isfinite(sp_out_4096) || sp_out_4096 > 4.0 * sp_out_64));
}

TEST_CASE("widenet: mup loss curves converge as the width grows", "[widenet]") {
    // Fixed hyper-parameters, one hidden layer, widths 32..1024 (base width 32): the gap between
    // the EWA risk curves of N and 2N, mean over recorded steps of |R_N - R_2N| / R_0, must
    // shrink with N. All widths see the same batches and held-out set, so the gap is the
    // finite-width effect (the random initial function, of variance ~ base_width / N under μP,
    // included). Absolute, not log, gaps: the limit risk is small, so R_N ~ R_inf + c/N has
    // log-gaps that stay ~log 2. Single gaps are noisy (4 networks per width), so we require the
    // trend: log-log slope of gap vs N below -0.5, the last gap < 1/4 of the first, and each of
    // the two widest gaps below each of the two narrowest.
    SimOptions o = net_options();
    o.net.depth = 1;
    o.net.base_width = 32;
    o.net.seeds = 4;
    o.lr = 0.05;
    o.steps = 300;
    o.record_points = 12;
    const std::vector<std::int64_t> widths{32, 64, 128, 256, 512, 1024};
    std::vector<Curve> curves;
    for (std::int64_t w : widths) {
        o.net.width = w;
        o.validate();
        curves.push_back(simulate_widenet(o));
        REQUIRE(!curves.back().diverged);
    }
    std::vector<double> gaps, log_n, log_gap;
    for (std::size_t k = 0; k + 1 < curves.size(); ++k) {
        const Curve& x = curves[k];
        const Curve& y = curves[k + 1];
        REQUIRE(x.step == y.step);
        double gap = 0.0;
        for (std::size_t j = 0; j < x.step.size(); ++j)
            gap += std::abs(x.risk_ewa[j] - y.risk_ewa[j]) / x.risk.front();
        gaps.push_back(gap / static_cast<double>(x.step.size()));
        log_n.push_back(std::log(static_cast<double>(widths[k])));
        log_gap.push_back(std::log(gaps.back()));
        WARN("gap N=" << widths[k] << " vs " << widths[k + 1] << ": " << gaps.back()
                      << " (final EWA risk " << x.risk_ewa.back() << " vs " << y.risk_ewa.back()
                      << ")");
    }
    const double mx = std::accumulate(log_n.begin(), log_n.end(), 0.0) / log_n.size();
    const double my = std::accumulate(log_gap.begin(), log_gap.end(), 0.0) / log_gap.size();
    double sxy = 0.0, sxx = 0.0;
    for (std::size_t k = 0; k < log_n.size(); ++k) {
        sxy += (log_n[k] - mx) * (log_gap[k] - my);
        sxx += (log_n[k] - mx) * (log_n[k] - mx);
    }
    const double slope = sxy / sxx;
    WARN("log-log slope of the gap vs N: " << slope);
    CHECK(slope < -0.5);
    CHECK(gaps.back() < 0.25 * gaps.front());
    for (std::size_t wide : {gaps.size() - 1, gaps.size() - 2})
        for (std::size_t narrow : {std::size_t{0}, std::size_t{1}})
            CHECK(gaps[wide] < gaps[narrow]);
    // And the curves do learn: the final risk is well below the initial one.
    CHECK(curves.back().risk_ewa.back() < 0.5 * curves.back().risk.front());
}

TEST_CASE("widenet: same seed, same curve, for any thread count", "[widenet]") {
    SimOptions o = net_options();
    o.net.width = 48;
    o.net.activation = Activation::gelu;
    o.net.optimizer = Optimizer::adam;
    o.lr = 0.003;
    o.steps = 40;
    o.record_points = 6;
    o.net.seeds = 3;
    o.net.eval_samples = 256;
    o.validate();
    const Curve one = [&] {
        const ThreadCount guard(1);
        return simulate_widenet(o);
    }();
    const Curve two = [&] {
        const ThreadCount guard(2);
        return simulate_widenet(o);
    }();
    REQUIRE(one.step == two.step);
    REQUIRE(one.risk == two.risk); // bit-identical
    REQUIRE(one.risk_ewa == two.risk_ewa);
    REQUIRE(one.risk_se == two.risk_se);
    o.seed = 4;
    const Curve other = simulate_widenet(o);
    CHECK(other.risk != one.risk);
}

TEST_CASE("widenet: standard errors, targets, momentum, teacher task", "[widenet]") {
    SimOptions o = net_options();
    o.net.width = 64;
    o.steps = 200;
    o.record_points = 20;
    o.lr = 0.05;
    SECTION("standard error shrinks with the held-out size and the network count") {
        o.net.seeds = 1;
        o.net.eval_samples = 256;
        const Curve small = simulate_widenet(o);
        o.net.eval_samples = 4096;
        const Curve large = simulate_widenet(o);
        // one network: held-out error only, ~ 1/sqrt(n): 16x the points, ~1/4 the error
        const double ratio = large.risk_se.back() / small.risk_se.back();
        CHECK(ratio > 0.15);
        CHECK(ratio < 0.4);
        CHECK(large.risk_se.back() < 0.1 * large.risk.back()); // reported and small
    }
    SECTION("a target stops the run at the first recorded step below it") {
        const Curve full = simulate_widenet(o);
        o.target_risk = 0.5 * (full.risk_ewa.front() + full.risk_ewa.back());
        const Curve stopped = simulate_widenet(o);
        REQUIRE(stopped.target_step > 0);
        CHECK(stopped.step.back() == stopped.target_step);
        CHECK(stopped.risk_ewa.back() <= o.target_risk);
        CHECK(stopped.step.size() < full.step.size());
        CHECK(stopped.target_step_interp <= static_cast<double>(stopped.target_step));
        CHECK(stopped.target_step_interp >
              static_cast<double>(stopped.step[stopped.step.size() - 2]));
        for (std::size_t j = 0; j < stopped.step.size(); ++j)
            CHECK(stopped.risk_ewa[j] == full.risk_ewa[j]); // the same run, cut short
    }
    SECTION("heavy-ball momentum and the teacher task train") {
        o.momentum = 0.5;
        o.net.task = NetTask::teacher;
        o.net.activation = Activation::tanh;
        o.validate();
        const Curve c = simulate_widenet(o);
        REQUIRE(!c.diverged);
        CHECK(c.risk_ewa.back() < 0.7 * c.risk.front());
    }
    SECTION("a learning rate far too large diverges and keeps only earlier steps") {
        o.lr = 1e3;
        const Curve c = simulate_widenet(o);
        CHECK(c.diverged);
        CHECK(c.diverged_step > 0);
        for (std::int64_t s : c.step)
            CHECK(s < c.diverged_step);
    }
}

TEST_CASE("widenet: invalid options are refused with the key named", "[widenet]") {
    SimOptions o = net_options();
    auto message = [&](auto change) {
        SimOptions x = o;
        change(x);
        try {
            x.validate();
        } catch (const cbs::UserError& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(message([](SimOptions& x) { x.net.depth = 4; }) ==
          "`net.depth` = 4: must be 1, 2 or 3 hidden layers");
    CHECK(message([](SimOptions& x) { x.net.width = 1; }).rfind("`net.width` = 1:", 0) == 0);
    CHECK(message([](SimOptions& x) { x.net.adam_beta2 = 1.0; }) ==
          "`adam.beta2` = 1: must be in [0, 1)");
    CHECK(message([](SimOptions& x) { x.net.adam_eps = 0.0; }).rfind("`adam.eps` = 0:", 0) == 0);
    CHECK(message([](SimOptions& x) {
              x.net.optimizer = Optimizer::adam;
              x.momentum = 0.9;
          }).rfind("`momentum` = 0.9: must be 0 with optimizer = adam", 0) == 0);
    CHECK(message([](SimOptions& x) { x.model_size = 100; }).rfind("`model.size` = 100:", 0) == 0);
    CHECK(message([](SimOptions& x) {
              x.precond_power = 0.5;
          }).rfind("`precond.power` = 0.5:", 0) == 0);
    CHECK(message([](SimOptions& x) { x.net.eval_samples = 3; }).rfind("`eval.samples` = 3:", 0) ==
          0);
    CHECK(message([](SimOptions& x) { x.net.seeds = 0; }).rfind("`net.seeds` = 0:", 0) == 0);
    CHECK(message([](SimOptions&) {}) == "accepted");
    CHECK_THROWS_AS(parse_parameterization("net.param", "mu"), cbs::UserError);
    CHECK_THROWS_WITH(parse_activation("net.activation", "sigmoid"),
                      "`net.activation` = sigmoid: must be one of relu, gelu, tanh");
}

TEST_CASE("widenet: the EWA is zero-initialised and read bias-corrected", "[widenet]") {
    // With a vanishing learning rate the weights stay at their initial values, so the
    // bias-corrected EWA xi_t / (1 - tau^t) equals them at every step and its risk equals the raw
    // risk (to the 1e-12 relative change the steps make). Without the correction the EWA
    // weights would be (1 - tau^t) times the initial ones: at tau = 0.99 and t = 1 a hundredth,
    // and the EWA risk that of a near-zero network (the risk of predicting 0), far from the raw
    // one. Checked for SGD with momentum and for Adam.
    for (Optimizer opt : {Optimizer::sgd, Optimizer::adam}) {
        SimOptions o = net_options();
        o.net.optimizer = opt;
        o.momentum = opt == Optimizer::sgd ? 0.9 : 0.0;
        o.net.zero_readout = false; // a non-zero initial network, so scaling it shows
        o.lr = 1e-12;
        o.ewa_decay = 0.99;
        o.steps = 20;
        o.record_mode = RecordMode::all;
        o.validate();
        const Curve c = simulate_widenet(o);
        REQUIRE(c.risk.size() >= 20);
        REQUIRE(c.step.front() == 1);
        for (std::size_t i = 0; i < c.risk.size(); ++i) {
            INFO("step " << c.step[i]);
            CHECK(c.risk_ewa[i] == Approx(c.risk[i]).epsilon(1e-6));
        }
    }
}

TEST_CASE("widenet: the coordinate check is the same for any thread count", "[widenet]") {
    SimOptions o = net_options();
    o.net.eval_samples = 64;
    o.lr = 0.03;
    o.validate();
    const std::vector<std::int64_t> widths{16, 32, 48};
    const std::vector<Parameterization> params{Parameterization::mup, Parameterization::ntk};
    std::vector<CoordCheckRow> one, two;
    {
        ThreadCount threads(1);
        one = coord_check(o, widths, params, 3);
    }
    {
        ThreadCount threads(2);
        two = coord_check(o, widths, params, 3);
    }
    REQUIRE(one.size() == 12);
    REQUIRE(two.size() == one.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
        CHECK(one[i].param == two[i].param);
        CHECK(one[i].width == two[i].width);
        CHECK(one[i].step == two[i].step);
        CHECK(one[i].mean_abs == two[i].mean_abs); // bit for bit
    }
    // Rows ordered by param, then width, then step.
    CHECK(one[0].param == Parameterization::mup);
    CHECK(one[0].width == 16);
    CHECK(one[1].step == 3);
    CHECK(one[11].param == Parameterization::ntk);
    CHECK(one[11].width == 48);
}
