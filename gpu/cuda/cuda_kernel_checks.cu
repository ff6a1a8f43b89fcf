// Host wrappers of single kernels for tests/gpu (see cuda_kernel_checks.hpp).
#include "gpu/cuda/cuda_kernel_checks.hpp"
#include "gpu/cuda/cuda_kernels.cuh"

#include <type_traits>

namespace cbs::lm::cuda_checks {

namespace {

using cuda::DeviceBuffer;
using cuda::Index;

// A fresh stream per call; uploads and downloads are synchronous for the host.
struct Ctx {
    cuda::Stream stream;
    cudaStream_t s() const { return stream.get(); }
};

template <typename T>
DeviceBuffer<T> upload(const std::vector<T>& host, cudaStream_t s) {
    DeviceBuffer<T> d(host.size());
    cuda::copy_to_device(d.get(), host.data(), host.size(), s);
    return d;
}

Vec download(const DeviceBuffer<float>& d, cudaStream_t s) {
    Vec host(d.size());
    cuda::copy_to_host(host.data(), d.get(), host.size(), s);
    return host;
}

Vec download(const DeviceBuffer<__nv_bfloat16>& d, cudaStream_t s) {
    std::vector<__nv_bfloat16> raw(d.size());
    cuda::copy_to_host(raw.data(), d.get(), raw.size(), s);
    Vec host(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i)
        host[i] = __bfloat162float(raw[i]);
    return host;
}

// Runs f.template operator()<Act>() with Act = bf16 or float.
template <typename F>
auto with_act(bool bf16, F&& f) {
    if (bf16) return f.template operator()<__nv_bfloat16>();
    return f.template operator()<float>();
}

} // namespace

LayerNormForward layernorm_forward(const Vec& x, const Vec& g, std::int64_t n, std::int64_t c,
                                   bool bf16) {
    Ctx ctx;
    auto dx = upload(x, ctx.s()), dg = upload(g, ctx.s());
    DeviceBuffer<float> mean(static_cast<std::size_t>(n)), rstd(static_cast<std::size_t>(n));
    LayerNormForward r;
    r.y = with_act(bf16, [&]<typename Act>() {
        DeviceBuffer<Act> y(static_cast<std::size_t>(n * c));
        cuda::layernorm_forward(dx.get(), c, dg.get(), y.get(), mean.get(), rstd.get(), n, c,
                                ctx.s());
        return download(y, ctx.s());
    });
    r.mean = download(mean, ctx.s());
    r.rstd = download(rstd, ctx.s());
    return r;
}

LayerNormBackward layernorm_backward(const Vec& dy, const Vec& x, const Vec& mean, const Vec& rstd,
                                     const Vec& g, const Vec& dg_in, std::int64_t n,
                                     std::int64_t c) {
    Ctx ctx;
    auto ddy = upload(dy, ctx.s()), dxin = upload(x, ctx.s()), dmean = upload(mean, ctx.s());
    auto drstd = upload(rstd, ctx.s()), dg = upload(g, ctx.s()), ddg = upload(dg_in, ctx.s());
    DeviceBuffer<float> dx(static_cast<std::size_t>(n * c));
    DeviceBuffer<float> scratch(static_cast<std::size_t>(cuda::kGainChunks * c));
    cuda::layernorm_backward_dx(ddy.get(), c, dxin.get(), c, dmean.get(), drstd.get(), dg.get(),
                                dx.get(), c, false, n, c, ctx.s());
    cuda::layernorm_backward_gain(ddy.get(), c, dxin.get(), c, dmean.get(), drstd.get(), ddg.get(),
                                  scratch.get(), n, c, ctx.s());
    return {download(dx, ctx.s()), download(ddg, ctx.s())};
}

Vec attention_softmax_forward(const Vec& scores, std::int64_t rows, std::int64_t t, bool bf16) {
    Ctx ctx;
    auto ds = upload(scores, ctx.s());
    return with_act(bf16, [&]<typename Act>() {
        DeviceBuffer<Act> p(static_cast<std::size_t>(rows * t));
        cuda::attention_softmax_forward(ds.get(), p.get(), rows, t, ctx.s());
        return download(p, ctx.s());
    });
}

Vec attention_softmax_backward(const Vec& probs, const Vec& dprobs, std::int64_t rows,
                               std::int64_t t, float scale) {
    Ctx ctx;
    auto dp = upload(probs, ctx.s()), ddp = upload(dprobs, ctx.s());
    DeviceBuffer<float> ds(static_cast<std::size_t>(rows * t));
    cuda::attention_softmax_backward(dp.get(), ddp.get(), ds.get(), rows, t, scale, ctx.s());
    return download(ds, ctx.s());
}

Vec gelu_forward(const Vec& pre, bool bf16) {
    Ctx ctx;
    auto dpre = upload(pre, ctx.s());
    const auto n = static_cast<Index>(pre.size());
    return with_act(bf16, [&]<typename Act>() {
        DeviceBuffer<Act> act(pre.size());
        cuda::gelu_forward(dpre.get(), act.get(), n, ctx.s());
        return download(act, ctx.s());
    });
}

Vec gelu_backward(const Vec& dact, const Vec& pre) {
    Ctx ctx;
    auto dd = upload(dact, ctx.s()), dpre = upload(pre, ctx.s());
    DeviceBuffer<float> out(pre.size());
    cuda::gelu_backward(dd.get(), dpre.get(), out.get(), static_cast<Index>(pre.size()), ctx.s());
    return download(out, ctx.s());
}

CrossEntropy cross_entropy(const Vec& logits, const std::vector<std::int32_t>& targets,
                           std::int64_t n, std::int64_t v, float row_scale) {
    Ctx ctx;
    auto dl = upload(logits, ctx.s());
    auto dt = upload(targets, ctx.s());
    DeviceBuffer<float> loss(static_cast<std::size_t>(n)), dz(static_cast<std::size_t>(n * v));
    DeviceBuffer<double> sum(1);
    cuda::cross_entropy(dl.get(), dt.get(), loss.get(), dz.get(), n, v, row_scale, ctx.s());
    cuda::sum_double(loss.get(), n, sum.get(), ctx.s());
    CrossEntropy r;
    r.row_loss = download(loss, ctx.s());
    r.dlogits = download(dz, ctx.s());
    cuda::copy_to_host(&r.sum, sum.get(), 1, ctx.s());
    return r;
}

Vec gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
         const Vec& a, const Vec& b, float beta, const Vec& c, bool bf16) {
    Ctx ctx;
    cuda::CublasHandle blas(ctx.s());
    auto dc = upload(c, ctx.s());
    const Index lda = trans_a ? m : k, ldb = trans_b ? k : n;
    with_act(bf16, [&]<typename Act>() {
        auto da32 = upload(a, ctx.s()), db32 = upload(b, ctx.s());
        DeviceBuffer<Act> da(a.size()), db(b.size());
        cuda::convert(da32.get(), da.get(), static_cast<Index>(a.size()), ctx.s());
        cuda::convert(db32.get(), db.get(), static_cast<Index>(b.size()), ctx.s());
        cuda::gemm(blas.get(), trans_a, trans_b, m, n, k, alpha, da.get(), cuda::data_type<Act>(),
                   lda, db.get(), cuda::data_type<Act>(), ldb, beta, dc.get(), CUDA_R_32F, n);
        ctx.stream.synchronize();
        return 0;
    });
    return download(dc, ctx.s());
}

} // namespace cbs::lm::cuda_checks
