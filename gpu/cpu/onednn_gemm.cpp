#include "gpu/cpu/onednn_gemm.hpp"

#include "theory/check.hpp"

#include <cstddef>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

namespace cbs::lm::cpu {

namespace {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

dt to_dnnl(OperandType t) {
    return t == OperandType::bf16 ? dt::bf16 : dt::f32;
}

unsigned isa_bits() {
    static const unsigned bits = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    return bits;
}

} // namespace

bool cpu_has_bf16() {
    const unsigned bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (isa_bits() & bf16) == bf16;
}

const char* onednn_isa_name() {
    const auto isa = static_cast<dnnl::cpu_isa>(isa_bits());
    switch (isa) {
    case dnnl::cpu_isa::avx512_core_amx:
        return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core:
        return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni:
        return "avx2_vnni";
    case dnnl::cpu_isa::avx2:
        return "avx2";
    default:
        return "other";
    }
}

struct Gemms::Impl {
    // A primitive and its three memory objects, created once; each call only swaps the data
    // handles, so a GEMM allocates nothing after its shape's first call.
    // Scratchpads are ours (scratchpad_mode::user), one buffer as large as the largest: oneDNN
    // would otherwise allocate and free one per call.
    struct Entry {
        dnnl::matmul prim;
        dnnl::memory a, b, c, scratch;
    };
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    std::map<GemmShape, Entry> cache;
    std::vector<std::byte> scratchpad;

    Entry& entry(const GemmShape& s) {
        auto it = cache.find(s);
        if (it != cache.end()) return it->second;
        const dt t = to_dnnl(s.type);
        // Logical A (m, k) and B (k, n); a transposed operand is the same memory read with
        // swapped strides.
        dnnl::memory::desc a, b, c;
        if (s.batch == 1) {
            a = dnnl::memory::desc({s.m, s.k}, t, s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});
            b = dnnl::memory::desc({s.k, s.n}, t, s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});
            c = dnnl::memory::desc({s.m, s.n}, dt::f32, dims{s.ldc, 1});
        } else {
            a = dnnl::memory::desc({s.batch, s.m, s.k}, t,
                                   s.trans_a ? dims{s.stride_a, 1, s.lda}
                                             : dims{s.stride_a, s.lda, 1});
            b = dnnl::memory::desc({s.batch, s.k, s.n}, t,
                                   s.trans_b ? dims{s.stride_b, 1, s.ldb}
                                             : dims{s.stride_b, s.ldb, 1});
            c = dnnl::memory::desc({s.batch, s.m, s.n}, dt::f32, dims{s.stride_c, s.ldc, 1});
        }
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (s.alpha != 1.0f) attr.set_output_scales(0, {s.alpha});
        if (s.accumulate) {
            dnnl::post_ops ops;
            ops.append_sum(1.0f);
            attr.set_post_ops(ops);
        }
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine);
        const dnnl::memory::desc scratch = pd.scratchpad_desc();
        if (scratch.get_size() > scratchpad.size()) scratchpad.resize(scratch.get_size());
        return cache
            .emplace(s, Entry{dnnl::matmul(pd), dnnl::memory(a, engine, nullptr),
                              dnnl::memory(b, engine, nullptr), dnnl::memory(c, engine, nullptr),
                              dnnl::memory(scratch, engine, nullptr)})
            .first->second;
    }
};

Gemms::Gemms() : impl_(std::make_unique<Impl>()) {}
Gemms::~Gemms() = default;

void Gemms::run(const GemmShape& s, const void* a, const void* b, float* c) {
    CBS_CHECK(s.m >= 1 && s.n >= 1 && s.k >= 1 && s.batch >= 1, "gemm ", s.batch, " x ", s.m, "x",
              s.n, "x", s.k);
    Impl::Entry& e = impl_->entry(s);
    e.a.set_data_handle(const_cast<void*>(a));
    e.b.set_data_handle(const_cast<void*>(b));
    e.c.set_data_handle(c);
    e.scratch.set_data_handle(impl_->scratchpad.data());
    // The C API takes the arguments as an array: no map is built per call.
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e.a.get()},
                               {DNNL_ARG_WEIGHTS, e.b.get()},
                               {DNNL_ARG_DST, e.c.get()},
                               {DNNL_ARG_SCRATCHPAD, e.scratch.get()}};
    const dnnl_status_t status = dnnl_primitive_execute(e.prim.get(), impl_->stream.get(), 4, args);
    CBS_CHECK(status == dnnl_success, "oneDNN matmul failed with status ",
              static_cast<int>(status));
    impl_->stream.wait();
}

} // namespace cbs::lm::cpu
