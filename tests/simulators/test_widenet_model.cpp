// Wide network: gradients against central finite differences for every tensor kind, activation
// and parameterization; the per-tensor scales of THEORY.md section 4; one optimizer step checked
// against its formula.
#include "simulators/widenet_model.hpp"
#include "simulators/widenet_rng.hpp"
#include "simulators/widenet_task.hpp"
#include "simulators/widenet_trainer.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

using namespace cbs::sim;
using namespace cbs::sim::net;

namespace {

NetOptions small_net(Parameterization p, Activation a, std::int64_t depth) {
    NetOptions n;
    n.width = 12;
    n.base_width = 4; // width multiplier m = 3, so the parameterizations differ
    n.depth = depth;
    n.input_dim = 5;
    n.param = p;
    n.activation = a;
    return n;
}

/// Loss (1/B) sum_j 1/2 (f_j - y_j)^2, in double.
double loss(const Mlp<double>& mlp, const Mlp<double>::Params& p, const Eigen::MatrixXd& X,
            const Eigen::MatrixXd& y) {
    Mlp<double>::Cache cache;
    const Eigen::MatrixXd& f = mlp.forward(p, X, cache);
    return 0.5 * (f - y).squaredNorm() / static_cast<double>(X.cols());
}

} // namespace

TEST_CASE("widenet: gradients match central finite differences", "[widenet]") {
    // Central differences with step h have truncation error ~h^2 |f'''| / 6 (~1e-10 here, all
    // quantities O(1)) and rounding error ~eps |L| / h (~1e-16 / 1e-5 = 1e-11): a correct gradient
    // agrees to ~1e-9 relative. We allow 1e-6 of the tensor's largest gradient entry (plus the
    // entry itself), far below any real bug (a wrong factor or a missing term is O(1) off).
    // relu's kink would break the difference only for a pre-activation within h of 0: with these
    // fixed seeds none is (the check is deterministic).
    const double h = 1e-5;
    const std::int64_t B = 7;
    for (Parameterization param :
         {Parameterization::sp, Parameterization::mup, Parameterization::ntk})
        for (Activation act : {Activation::relu, Activation::gelu, Activation::tanh})
            for (std::int64_t depth : {1, 2, 3}) {
                const NetOptions n = small_net(param, act, depth);
                const auto specs = layout(n, 1.3);
                const Mlp<double> mlp(n.input_dim, n.width, n.depth, n.activation);
                Rng rng(11, static_cast<std::uint64_t>(depth) * 100 + 7);
                auto p = Mlp<double>::zeros(specs);
                for (std::size_t k = 0; k < specs.size(); ++k) {
                    rng.fill_normal(p[k].data(), p[k].size());
                    // Biases start at zero in training; random here so their gradients matter.
                    p[k] *= specs[k].init_std > 0 ? specs[k].init_std : 0.3;
                }
                Eigen::MatrixXd X(n.input_dim, B), y(1, B);
                rng.fill_normal(X.data(), X.size());
                rng.fill_normal(y.data(), y.size());

                Mlp<double>::Cache cache;
                const Eigen::MatrixXd f = mlp.forward(p, X, cache);
                const Eigen::MatrixXd d_out = (f - y) / static_cast<double>(B);
                auto grad = Mlp<double>::zeros(specs);
                mlp.backward(p, X, d_out, cache, grad);

                std::set<TensorKind> kinds;
                for (std::size_t k = 0; k < p.size(); ++k) {
                    kinds.insert(specs[k].kind);
                    const double scale = grad[k].cwiseAbs().maxCoeff();
                    REQUIRE(scale > 0.0); // every tensor receives gradient
                    for (Eigen::Index i = 0; i < p[k].size(); ++i) {
                        const double saved = p[k].data()[i];
                        p[k].data()[i] = saved + h;
                        const double up = loss(mlp, p, X, y);
                        p[k].data()[i] = saved - h;
                        const double down = loss(mlp, p, X, y);
                        p[k].data()[i] = saved;
                        const double fd = (up - down) / (2 * h);
                        const double g = grad[k].data()[i];
                        INFO(to_string(param)
                             << " " << to_string(act) << " depth " << depth << " tensor " << k
                             << " (" << to_string(specs[k].kind) << ") entry " << i << ": analytic "
                             << g << " fd " << fd);
                        REQUIRE(std::abs(g - fd) <= 1e-6 * (scale + std::abs(g)));
                    }
                }
                // Depth 3 exercises every tensor kind.
                if (depth == 3) REQUIRE(kinds.size() == 5);
            }
}

TEST_CASE("widenet: per-tensor scales follow THEORY.md section 4", "[widenet]") {
    NetOptions n = small_net(Parameterization::mup, Activation::relu, 2);
    n.width = 256;
    n.base_width = 64; // m = 4
    const double d_var = 2.0;
    auto find = [](const std::vector<TensorSpec>& s, TensorKind k) {
        for (const TensorSpec& t : s)
            if (t.kind == k) return t;
        FAIL("missing tensor kind");
        return TensorSpec{};
    };
    SECTION("mup, sgd") {
        const auto s = layout(n, d_var);
        CHECK(find(s, TensorKind::input_weight).lr_mult == Approx(4.0));
        CHECK(find(s, TensorKind::bias).lr_mult == Approx(4.0));
        CHECK(find(s, TensorKind::hidden_weight).lr_mult == Approx(1.0));
        CHECK(find(s, TensorKind::output_weight).lr_mult == Approx(0.25));
        CHECK(find(s, TensorKind::input_weight).init_std == Approx(1 / std::sqrt(d_var)));
        CHECK(find(s, TensorKind::hidden_weight).init_std == Approx(1 / 16.0));
        CHECK(find(s, TensorKind::output_weight).init_std == Approx(1 / std::sqrt(256.0 * 4)));
    }
    SECTION("mup, adam") {
        n.optimizer = Optimizer::adam;
        const auto s = layout(n, d_var);
        CHECK(find(s, TensorKind::input_weight).lr_mult == Approx(1.0));
        CHECK(find(s, TensorKind::hidden_weight).lr_mult == Approx(0.25));
        CHECK(find(s, TensorKind::output_weight).lr_mult == Approx(0.25));
    }
    SECTION("ntk and sp") {
        n.param = Parameterization::ntk;
        auto s = layout(n, d_var);
        CHECK(find(s, TensorKind::hidden_weight).lr_mult == Approx(0.25));
        CHECK(find(s, TensorKind::output_weight).init_std == Approx(1 / 16.0));
        n.param = Parameterization::sp;
        s = layout(n, d_var);
        for (const TensorSpec& t : s)
            CHECK(t.lr_mult == 1.0);
    }
    SECTION("all three coincide at the base width") {
        n.width = n.base_width;
        for (Optimizer opt : {Optimizer::sgd, Optimizer::adam}) {
            n.optimizer = opt;
            n.param = Parameterization::sp;
            const auto sp = layout(n, d_var);
            for (Parameterization p : {Parameterization::mup, Parameterization::ntk}) {
                n.param = p;
                const auto other = layout(n, d_var);
                for (std::size_t k = 0; k < sp.size(); ++k) {
                    CHECK(other[k].lr_mult == Approx(sp[k].lr_mult));
                    CHECK(other[k].init_std == Approx(sp[k].init_std));
                }
            }
        }
    }
}

TEST_CASE("widenet: one Adam step moves every weight by lr * mult", "[widenet]") {
    // First Adam step with bias correction: m/(1-b1) = g, v/(1-b2) = g^2, so the step is
    // lr * mult * g / (|g| + eps) = lr * mult * sign(g) for |g| >> eps. Holds per entry.
    SimOptions o;
    o.simulator = SimulatorKind::widenet;
    o.net = small_net(Parameterization::mup, Activation::tanh, 2);
    o.net.optimizer = Optimizer::adam;
    o.net.adam_eps = 1e-12;
    o.lr = 0.01;
    o.batch = 8;
    o.ewa_decay = 0.0;
    o.steps = 1;
    o.validate();
    const Task task(o);
    Trainer<double> tr(o, task, 0);
    const auto before = tr.weights();
    tr.step(1);
    const auto& after = tr.weights();
    for (std::size_t k = 0; k < before.size(); ++k) {
        const double expected = o.lr * tr.specs()[k].lr_mult;
        const Eigen::ArrayXXd moved = (after[k] - before[k]).array().abs();
        INFO("tensor " << k);
        CHECK(moved.maxCoeff() == Approx(expected).epsilon(1e-6));
        CHECK(moved.minCoeff() == Approx(expected).epsilon(1e-6));
    }
}
