// The hand-expanded SIMD step kernel against THEORY.md's matrix form C' = A C A^T + c c^T q,
// evaluated here with explicit 3x3 products, for every SIMD level this build and CPU provide.
#include "simulators/recursion_kernel.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

using namespace cbs::sim;

namespace {
using Mat3 = std::array<std::array<double, 3>, 3>;

Mat3 multiply(const Mat3& x, const Mat3& y) {
    Mat3 z{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 3; ++k)
                z[i][j] += x[i][k] * y[k][j];
    return z;
}

Mat3 transpose(const Mat3& x) {
    Mat3 z{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            z[i][j] = x[j][i];
    return z;
}
} // namespace

TEST_CASE("every SIMD level of the step kernel equals the matrix form", "[recursion][kernel]") {
    const std::vector<KernelLevel> levels = available_step_kernels();
    REQUIRE_FALSE(levels.empty());
    CHECK(std::string(levels.back().name) == "baseline"); // always compiled under dispatch

    const std::size_t n = 37; // not a multiple of any vector width: exercises the remainders
    std::mt19937_64 gen(42);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> lambda(n), pre(n), weight(n);
    std::vector<Mat3> C0(n);
    for (std::size_t i = 0; i < n; ++i) {
        lambda[i] = std::pow(i + 1.0, -1.7);
        pre[i] = std::pow(lambda[i], -0.3);
        weight[i] = (1.0 + unit(gen)) * lambda[i];
        // a random symmetric positive-definite second-moment matrix
        Mat3 L{};
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c <= r; ++c)
                L[r][c] = unit(gen) - (r == c ? 0.0 : 0.5);
        C0[i] = multiply(L, transpose(L));
    }
    const StepParams p{0.37, 0.6, 0.9, 1.0 / 3.0, 0.123};

    for (const KernelLevel& level : levels) {
        INFO("kernel " << level.name);
        std::vector<double> ee(n), em(n), mm(n), eh(n), mh(n), hh(n);
        for (std::size_t i = 0; i < n; ++i) {
            ee[i] = C0[i][0][0];
            em[i] = C0[i][0][1];
            eh[i] = C0[i][0][2];
            mm[i] = C0[i][1][1];
            mh[i] = C0[i][1][2];
            hh[i] = C0[i][2][2];
        }
        const PointArrays points{lambda.data(), pre.data(), weight.data()};
        MomentArrays moments{ee.data(), em.data(), mm.data(), eh.data(), mh.data(), hh.data()};
        const StepSums sums = level.kernel(n, points, moments, p);

        double s_ref = 0.0, h_ref = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double lam = lambda[i], eta = p.eta * pre[i], tau = p.tau, beta = p.beta;
            const Mat3 A{{{1 - eta * lam, -eta * beta, 0.0},
                          {lam, beta, 0.0},
                          {(1 - tau) * (1 - eta * lam), -(1 - tau) * eta * beta, tau}}};
            const std::array<double, 3> c{-eta, 1.0, -(1 - tau) * eta};
            const double q = (lam * lam * C0[i][0][0] * p.inv_batch) + lam * p.noise;
            Mat3 C = multiply(multiply(A, C0[i]), transpose(A));
            for (int r = 0; r < 3; ++r)
                for (int col = 0; col < 3; ++col)
                    C[r][col] += c[r] * c[col] * q;
            // fp64, ~50 operations per entry on O(1) values: 1e-13 relative is ~500 ulp of slack
            CHECK(ee[i] == Approx(C[0][0]).epsilon(1e-13));
            CHECK(em[i] == Approx(C[0][1]).epsilon(1e-13));
            CHECK(eh[i] == Approx(C[0][2]).epsilon(1e-13));
            CHECK(mm[i] == Approx(C[1][1]).epsilon(1e-13));
            CHECK(mh[i] == Approx(C[1][2]).epsilon(1e-13));
            CHECK(hh[i] == Approx(C[2][2]).epsilon(1e-13));
            s_ref += weight[i] * C[0][0];
            h_ref += weight[i] * C[2][2];
        }
        CHECK(sums.s == Approx(s_ref).epsilon(1e-13));
        CHECK(sums.h == Approx(h_ref).epsilon(1e-13));
    }
}
