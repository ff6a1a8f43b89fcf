// Row-major GEMMs through oneDNN's matmul primitive: C (+)= alpha op(A) op(B), with fp32 or bf16
// operands and fp32 accumulation and output. Primitives are created once per shape and cached,
// so a training step creates none after its first call.
//
// Threading: oneDNN runs each call on the calling thread's OpenMP team (Debian's libdnnl uses
// the GNU OpenMP runtime, like the rest of cbs). Results are deterministic for a fixed thread
// count. Not thread-safe: one Gemms object per model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

namespace cbs::lm::cpu {

enum class OperandType { f32, bf16 };

/// True when oneDNN reports an ISA with native bf16 dot products on this CPU (AVX512_BF16 or
/// AMX); read once from the running CPU, never from the build host.
bool cpu_has_bf16();
/// oneDNN's name for the ISA it dispatches to on this CPU, e.g. "avx512_core_amx".
const char* onednn_isa_name();

/// One GEMM's shape: C (m, n) = alpha op(A) (m, k) op(B) (k, n) [+ C when accumulate].
/// A is (m, k) row-major with leading dimension lda, or (k, m) when trans_a; B likewise (k, n)
/// or (n, k) when trans_b. C is fp32 row-major with leading dimension ldc. With batch > 1, that
/// many such products, matrix i at element offsets i * stride_a, i * stride_b, i * stride_c.
struct GemmShape {
    std::int64_t m = 0, n = 0, k = 0;
    bool trans_a = false, trans_b = false;
    std::int64_t lda = 0, ldb = 0, ldc = 0;
    OperandType type = OperandType::f32;
    bool accumulate = false;
    float alpha = 1.0f;
    std::int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;

    auto key() const {
        return std::tuple(m, n, k, trans_a, trans_b, lda, ldb, ldc, type, accumulate, alpha, batch,
                          stride_a, stride_b, stride_c);
    }
    bool operator<(const GemmShape& o) const { return key() < o.key(); }
};

class Gemms {
public:
    Gemms();
    ~Gemms();
    Gemms(const Gemms&) = delete;
    Gemms& operator=(const Gemms&) = delete;

    /// Runs the GEMM `shape` on A, B (element type shape.type) into C (fp32). Preconditions:
    /// m, n, k >= 1; buffers large enough for their leading dimensions.
    void run(const GemmShape& shape, const void* a, const void* b, float* c);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace cbs::lm::cpu
