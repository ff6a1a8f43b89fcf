// The fast CPU backend (gpu/cpu/) against the CPU reference backend, with the checks the CUDA
// backend is held to (tests/support/backend_compare.hpp): forward loss and every gradient tensor,
// the AdamW + EWA update, the gradient norm, evaluation with raw and EWA weights, 10-step
// trajectories, determinism at a fixed thread count; in both precisions: fp32 operands (forced,
// on any CPU) at fp32 tolerances, and the automatic choice (bf16 operands where the CPU has
// native bf16) at bf16 tolerances. Runs in CI: no GPU needed.
#include "gpu/backend.hpp"
#include "tests/support/backend_compare.hpp"

#ifdef CBS_HAVE_ONEDNN
#include "gpu/cpu/cpu_backend.hpp"
#include "gpu/cpu/fast_model.hpp"
#endif

#include <catch2/catch.hpp>
#include <omp.h>

using namespace cbs::lm;
using namespace backend_compare;

#ifdef CBS_HAVE_ONEDNN

namespace {

Factory fast_cpu(CpuPrecision prec) {
    return [prec](const ModelConfig& c, const std::vector<double>& decays) {
        return std::make_unique<FastCpuBackend>(c, decays, prec);
    };
}

// The automatic choice's tolerances: bf16 where the CPU has it, else fp32 (same as forced).
bool automatic_is_bf16() {
    return FastCpuBackend(small_config(Parameterization::sp), {}).operand_type() ==
           cpu::OperandType::bf16;
}

// Restores the OpenMP thread count on scope exit.
struct Threads {
    explicit Threads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
    ~Threads() { omp_set_num_threads(saved); }
    int saved;
};

} // namespace

// fp32 tolerances, as derived for cuda-fp32 (tests/gpu/test_cuda_backend.cpp): fp32 roundoff
// through ~60 ops, LayerNorm statistics in float here and double in the reference; exp and erf
// are polynomial approximations within ~2e-7 relative / 1.5e-7 absolute (fast_model_impl.hpp),
// below fp32 GEMM noise. Loss 1e-5, each gradient tensor 2e-4 relative L2.
TEST_CASE("fast cpu (fp32 forced) forward and backward match the reference", "[lm]") {
    for (Parameterization p : {Parameterization::sp, Parameterization::mup})
        for (const ModelConfig& c : {small_config(p), odd_config(p)}) {
            const ForwardBackwardErrors e =
                forward_backward_errors(c, fast_cpu(CpuPrecision::fp32));
            INFO(describe(c, e));
            CHECK(e.loss <= 1e-5);
            CHECK(e.grad <= 2e-4);
            CHECK(e.padding == 0);
        }
}

// bf16 tolerances, as derived for the CUDA backend: one bf16 rounding (2^-8) per GEMM operand,
// ~6 in quadrature per gradient tensor ~1e-2, 5e-2 for cancellations; loss 1e-2 relative.
TEST_CASE("fast cpu (automatic precision) forward and backward match the reference", "[lm]") {
    const bool bf16 = automatic_is_bf16();
    const double loss_tol = bf16 ? 1e-2 : 1e-5, grad_tol = bf16 ? 5e-2 : 2e-4;
    INFO("automatic precision: " << (bf16 ? "bf16" : "fp32"));
    for (Parameterization p : {Parameterization::sp, Parameterization::mup}) {
        for (const ModelConfig& c : {small_config(p), odd_config(p)}) {
            const ForwardBackwardErrors e =
                forward_backward_errors(c, fast_cpu(CpuPrecision::automatic));
            INFO(describe(c, e));
            CHECK(e.loss <= loss_tol);
            CHECK(e.grad <= grad_tol);
            CHECK(e.padding == 0);
        }
    }
}

TEST_CASE("fast cpu baseline (non-AVX-512) kernels match the reference too", "[lm]") {
    // The variant a CPU without AVX-512 runs, forced here so that it is tested on every machine.
    const Factory baseline = [](const ModelConfig& c, const std::vector<double>& decays) {
        return std::make_unique<FastCpuBackend>(c, decays, CpuPrecision::fp32,
                                                CpuKernels::baseline);
    };
    for (Parameterization p : {Parameterization::sp, Parameterization::mup}) {
        const ModelConfig c = odd_config(p);
        const ForwardBackwardErrors e = forward_backward_errors(c, baseline);
        INFO(describe(c, e));
        CHECK(e.loss <= 1e-5);
        CHECK(e.grad <= 2e-4);
        CHECK(e.padding == 0);
    }
    const OptimizerErrors opt = optimizer_errors(baseline, 1e-8, 5e-7);
    CHECK(opt.worst_ratio <= 1);
    CHECK(opt.padding == 0);
    const EvaluateErrors eval = evaluate_errors(baseline);
    CHECK(eval.raw <= 1e-5);
    CHECK(eval.ewa <= 1e-5);
    const ModelConfig c = small_config(Parameterization::sp);
    CHECK(std::string(FastCpuBackend(c, {}, CpuPrecision::fp32, CpuKernels::baseline).description())
              .find("baseline kernels") != std::string::npos);
}

TEST_CASE("bf16 operands really are rounded: bf16 and fp32 results differ", "[lm]") {
    if (!automatic_is_bf16()) {
        WARN("this CPU has no native bf16: nothing to compare");
        return;
    }
    const ModelConfig c = small_config(Parameterization::sp);
    FastCpuBackend b16(c, {}, CpuPrecision::bf16), f32(c, {}, CpuPrecision::fp32);
    const auto params = test_params(b16.layout(), 3);
    b16.set_state({StateKind::params, 0}, params);
    f32.set_state({StateKind::params, 0}, params);
    const auto tokens = test_tokens(c, 3, 4);
    const double a = b16.evaluate(tokens, 3, -1, 1), b = f32.evaluate(tokens, 3, -1, 1);
    CHECK(a != b);                      // a forced-fp32 path that secretly ran bf16 fails
    CHECK(std::abs(a - b) <= 1e-2 * b); // and bf16 is still the same model
    CHECK(b16.description().find("bf16") == 0);
    CHECK(f32.description().find("fp32") == 0);
}

TEST_CASE("fast cpu AdamW + EWA update matches optimizer.cpp", "[lm]") {
    // The same fp32 operations in the same order; the AVX-512 variant may contract a multiply
    // and an add into one FMA (one rounding fewer), up to ~3 per element and step. Two steps:
    // within a few ulp of the largest term; where p * decay and the Adam step nearly cancel,
    // a few ulp of |p| ~ 0.05 absolute: atol 1e-8, rtol 5e-7 (8 ulp).
    for (CpuPrecision prec : {CpuPrecision::fp32, CpuPrecision::automatic}) {
        const OptimizerErrors e = optimizer_errors(fast_cpu(prec), 1e-8, 5e-7);
        CHECK(e.worst_ratio <= 1);
        CHECK(e.padding == 0);
    }
}

TEST_CASE("fast cpu gradient norm is the reference's and reproducible", "[lm]") {
    // Both sum fp32 squares in double, in different orders: ~1e-16 relative per addition.
    const GradNorms n = grad_norms(fast_cpu(CpuPrecision::automatic));
    CHECK(n.fast == Approx(n.ref).epsilon(1e-12));
    CHECK(n.fast_again == n.fast);
    CHECK(n.host == Approx(n.fast).epsilon(1e-12));
}

TEST_CASE("fast cpu evaluation with raw and EWA weights matches the reference", "[lm]") {
    for (CpuPrecision prec : {CpuPrecision::fp32, CpuPrecision::automatic}) {
        const double tol = prec == CpuPrecision::automatic && automatic_is_bf16() ? 1e-2 : 1e-5;
        const EvaluateErrors e = evaluate_errors(fast_cpu(prec));
        CHECK(e.raw <= tol);
        CHECK(e.ewa <= tol);
        CHECK(e.raw_vs_ewa > 0.01); // the two weight sets really differ
    }
}

TEST_CASE("fast cpu 10-step trajectories match the reference", "[lm]") {
    // As for the CUDA backend: fp32 1e-4 after 10 Adam steps, bf16 1e-2.
    for (CpuPrecision prec : {CpuPrecision::fp32, CpuPrecision::automatic}) {
        const TrajectoryErrors e = trajectory_errors(fast_cpu(prec));
        CHECK(e.worst <= (prec == CpuPrecision::automatic && automatic_is_bf16() ? 1e-2 : 1e-4));
        CHECK(e.last < e.first); // it learns
    }
}

TEST_CASE("fast cpu is deterministic at a fixed thread count", "[lm]") {
    for (int threads : {1, 2}) {
        const Threads scope(threads);
        INFO(threads << " threads");
        for (CpuPrecision prec : {CpuPrecision::automatic, CpuPrecision::fp32}) {
            const Determinism d = determinism(fast_cpu(prec));
            CHECK(d.losses);
            CHECK(d.params);
            CHECK(d.ewa);
            CHECK(d.grads);
        }
    }
}

TEST_CASE("backend = cpu is the fast backend, backend = reference the oracle", "[lm]") {
    const ModelConfig c = small_config(Parameterization::sp);
    CHECK(dynamic_cast<FastCpuBackend*>(make_backend("cpu", c, {}).get()) != nullptr);
    CHECK(dynamic_cast<ReferenceBackend*>(make_backend("reference", c, {}).get()) != nullptr);
    CHECK(make_backend("reference", c, {})->name() == "reference");
    CHECK_THROWS_AS(make_backend("tpu", c, {}), cbs::UserError);
}

#else

TEST_CASE("without oneDNN, backend = cpu runs the reference", "[lm]") {
    const ModelConfig c = small_config(Parameterization::sp);
    CHECK(make_backend("cpu", c, {})->name() == "reference");
}

#endif
