// The CUDA backend's kernels: straightforward, correct, deterministic (no atomics; every
// reduction has a fixed shape and order), each checked against the CPU reference in tests/gpu.
//
// Where a fused version would pay (for the MFU goal; measure first, METHOD.md):
//  - attention: scores and probabilities are materialised (B, H, T, T) and the causal upper half
//    is computed and thrown away; a flash-attention kernel (online softmax, tiles in shared
//    memory, wgmma on sm_90a) removes that traffic and half the FLOPs;
//  - GELU and its backward could be cuBLASLt epilogues, except that ours is the erf form
//    (cuBLASLt's GELU epilogue is the tanh form): a custom epilogue or a tanh model change;
//  - the logits (N, V) round trip through fp32: a fused (chunked) matmul + cross-entropy;
//  - LayerNorm forward/backward read rows twice; a warp-per-row register version halves that.
#include "gpu/cuda/cuda_kernels.cuh"

#include <cmath>
#include <type_traits>

namespace cbs::lm::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(Index n, int threads = kThreads) {
    const Index b = (n + threads - 1) / threads;
    return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 64 ? 65535 * 64 : b));
}

template <typename T>
__device__ __forceinline__ T to_act(float x);
template <>
__device__ __forceinline__ float to_act<float>(float x) {
    return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 to_act<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}
__device__ __forceinline__ float to_float(float x) {
    return x;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 x) {
    return __bfloat162float(x);
}

template <typename T>
__device__ __forceinline__ T warp_sum(T x) {
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
// Fixed tree: deterministic. `shared` holds 32 T; synchronises before returning.
template <typename T>
__device__ T block_sum(T x, T* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    x = warp_sum(x);
    __syncthreads(); // shared may still be read by a previous call
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    const int warps = static_cast<int>(blockDim.x >> 5);
    T r = lane < warps ? shared[lane] : T(0);
    r = warp_sum(r);
    return r;
}
__device__ float block_max(float x, float* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    const int warps = static_cast<int>(blockDim.x >> 5);
    float r = lane < warps ? shared[lane] : -INFINITY;
    return warp_max(r);
}

// ---- elementwise -------------------------------------------------------------------------

template <typename Act>
__global__ void convert_kernel(const float* x, Act* y, Index n) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < n;
         i += Index{gridDim.x} * blockDim.x)
        y[i] = to_act<Act>(x[i]);
}

__global__ void scale_copy_kernel(const float* x, float factor, float* y, Index n) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < n;
         i += Index{gridDim.x} * blockDim.x)
        y[i] = __fmul_rn(x[i], factor);
}

__global__ void embed_forward_kernel(const std::int32_t* tokens, const float* wte, float* x,
                                     Index c) {
    const Index r = blockIdx.x;
    const float* src = wte + Index{tokens[r]} * c;
    for (Index i = threadIdx.x; i < c; i += blockDim.x)
        x[r * c + i] = src[i];
}

__global__ void embed_backward_kernel(const std::int32_t* rows, const std::int32_t* seg_token,
                                      const std::int32_t* seg_start, const float* dx, float* dwte,
                                      Index c) {
    const Index seg = blockIdx.x;
    const Index col = blockIdx.y * Index{blockDim.x} + threadIdx.x;
    if (col >= c) return;
    float* out = dwte + Index{seg_token[seg]} * c + col;
    float acc = *out;
    for (std::int32_t k = seg_start[seg]; k < seg_start[seg + 1]; ++k)
        acc = __fadd_rn(acc, dx[Index{rows[k]} * c + col]);
    *out = acc;
}

// ---- LayerNorm ---------------------------------------------------------------------------

// Mean and 1/sqrt(var + eps) of one row of c floats (two passes, as the CPU reference), for a
// block of threads; every thread gets both. `shared` holds 32 floats (block_sum's scratch).
__device__ void row_mean_rstd(const float* xr, Index c, float* shared, float& mean, float& rstd) {
    float s = 0;
    for (Index i = threadIdx.x; i < c; i += blockDim.x)
        s += xr[i];
    mean = block_sum(s, shared) / static_cast<float>(c);
    float q = 0;
    for (Index i = threadIdx.x; i < c; i += blockDim.x) {
        const float d = xr[i] - mean;
        q += d * d;
    }
    const float var = block_sum(q, shared) / static_cast<float>(c);
    rstd = 1.0f / sqrtf(var + kLayerNormEps);
}

template <typename Act>
__global__ void layernorm_forward_kernel(const float* x, Index sx, const float* g, Act* y,
                                         float* mean_out, float* rstd_out, Index c) {
    __shared__ float shared[32];
    const Index r = blockIdx.x;
    const float* xr = x + r * sx;
    float mean, rstd;
    row_mean_rstd(xr, c, shared, mean, rstd);
    for (Index i = threadIdx.x; i < c; i += blockDim.x)
        y[r * c + i] = to_act<Act>((xr[i] - mean) * rstd * g[i]);
    if (threadIdx.x == 0) {
        mean_out[r] = mean;
        rstd_out[r] = rstd;
    }
}

template <typename OutT>
__global__ void layernorm_backward_dx_kernel(const float* dy, Index sdy, const float* x, Index sx,
                                             const float* mean_in, const float* rstd_in,
                                             const float* g, OutT* dx, Index sdx, bool accumulate,
                                             Index c) {
    __shared__ float shared[32];
    const Index r = blockIdx.x;
    const float* dyr = dy + r * sdy;
    const float* xr = x + r * sx;
    const float mean = mean_in[r], rstd = rstd_in[r];
    float s1 = 0, s2 = 0;
    for (Index i = threadIdx.x; i < c; i += blockDim.x) {
        const float dh = dyr[i] * g[i];
        s1 += dh;
        s2 += dh * (xr[i] - mean) * rstd;
    }
    const float m1 = block_sum(s1, shared) / static_cast<float>(c);
    const float m2 = block_sum(s2, shared) / static_cast<float>(c);
    OutT* dxr = dx + r * sdx;
    for (Index i = threadIdx.x; i < c; i += blockDim.x) {
        const float hat = (xr[i] - mean) * rstd;
        const float v = rstd * (dyr[i] * g[i] - m1 - hat * m2);
        if constexpr (std::is_same_v<OutT, float>)
            dxr[i] = accumulate ? dxr[i] + v : v;
        else
            dxr[i] = to_act<OutT>(v);
    }
}

__global__ void layernorm_gain_partial_kernel(const float* dy, Index sdy, const float* x, Index sx,
                                              const float* mean, const float* rstd, float* scratch,
                                              Index n, Index c) {
    const Index col = blockIdx.x * Index{blockDim.x} + threadIdx.x;
    const Index chunk = blockIdx.y;
    if (col >= c) return;
    const Index lo = n * chunk / kGainChunks, hi = n * (chunk + 1) / kGainChunks;
    float acc = 0;
    for (Index r = lo; r < hi; ++r)
        acc += dy[r * sdy + col] * ((x[r * sx + col] - mean[r]) * rstd[r]);
    scratch[chunk * c + col] = acc;
}

__global__ void layernorm_gain_final_kernel(const float* scratch, float* dg, Index c) {
    const Index col = blockIdx.x * Index{blockDim.x} + threadIdx.x;
    if (col >= c) return;
    float acc = 0;
    for (int k = 0; k < kGainChunks; ++k)
        acc += scratch[k * c + col];
    dg[col] += acc;
}

// ---- q/k norms and RoPE --------------------------------------------------------------------

template <typename Act>
__device__ void norm_rope_part(const float* xr, const float* g, const float* cos_r,
                               const float* sin_r, Act* out, float* mean_out, float* rstd_out,
                               Index r, Index c, Index heads_t_d, Index t_d, Index d,
                               float* shared) {
    // out points at (b, h = 0, t, 0) of a bhtd tensor; head h is at out + h * heads_t_d.
    float mean, rstd;
    row_mean_rstd(xr, c, shared, mean, rstd);
    const Index half = d / 2;
    for (Index j = threadIdx.x; j < c / 2; j += blockDim.x) {
        const Index h = j / half, i = j % half;
        const Index ca = h * d + i, cb = ca + half;
        const float ya = (xr[ca] - mean) * rstd * g[ca];
        const float yb = (xr[cb] - mean) * rstd * g[cb];
        const float co = cos_r[i], si = sin_r[i];
        Act* o = out + h * heads_t_d;
        o[i] = to_act<Act>(ya * co - yb * si);
        o[i + half] = to_act<Act>(ya * si + yb * co);
    }
    if (threadIdx.x == 0) {
        mean_out[r] = mean;
        rstd_out[r] = rstd;
    }
    (void)t_d;
}

template <typename Act>
__global__ void qkv_norm_rope_kernel(const float* qkv, const float* gq, const float* gk,
                                     const float* cos_t, const float* sin_t, Act* q, Act* k, Act* v,
                                     float* q_mean, float* q_rstd, float* k_mean, float* k_rstd,
                                     Index t_len, Index heads, Index d) {
    __shared__ float shared[32];
    const Index r = blockIdx.x, b = r / t_len, t = r % t_len;
    const Index c = heads * d, half = d / 2;
    const float* xr = qkv + r * 3 * c;
    const Index base = (b * heads * t_len + t) * d; // (b, 0, t, 0)
    const Index head_stride = t_len * d;
    norm_rope_part(xr, gq, cos_t + t * half, sin_t + t * half, q + base, q_mean, q_rstd, r, c,
                   head_stride, d, d, shared);
    norm_rope_part(xr + c, gk, cos_t + t * half, sin_t + t * half, k + base, k_mean, k_rstd, r, c,
                   head_stride, d, d, shared);
    for (Index i = threadIdx.x; i < c; i += blockDim.x)
        v[base + (i / d) * head_stride + i % d] = to_act<Act>(xr[2 * c + i]);
}

__global__ void rope_backward_kernel(const float* d_bhtd, const float* cos_t, const float* sin_t,
                                     float* dy_rows, Index t_len, Index heads, Index d) {
    const Index r = blockIdx.x, b = r / t_len, t = r % t_len;
    const Index c = heads * d, half = d / 2;
    for (Index j = threadIdx.x; j < c / 2; j += blockDim.x) {
        const Index h = j / half, i = j % half;
        const float* src = d_bhtd + ((b * heads + h) * t_len + t) * d;
        const float a = src[i], bb = src[i + half];
        const float co = cos_t[t * half + i], si = sin_t[t * half + i];
        dy_rows[r * c + h * d + i] = a * co + bb * si;
        dy_rows[r * c + h * d + i + half] = -a * si + bb * co;
    }
}

template <typename Act>
__global__ void bhtd_to_rows_kernel(const float* src, Act* dst, Index ld, Index col0, Index t_len,
                                    Index heads, Index d) {
    const Index r = blockIdx.x, b = r / t_len, t = r % t_len, c = heads * d;
    for (Index i = threadIdx.x; i < c; i += blockDim.x) {
        const Index h = i / d, j = i % d;
        dst[r * ld + col0 + i] = to_act<Act>(src[((b * heads + h) * t_len + t) * d + j]);
    }
}

template <typename Act>
__global__ void rows_to_bhtd_kernel(const float* src, Index ld, Act* dst, Index t_len, Index heads,
                                    Index d) {
    const Index r = blockIdx.x, b = r / t_len, t = r % t_len, c = heads * d;
    for (Index i = threadIdx.x; i < c; i += blockDim.x) {
        const Index h = i / d, j = i % d;
        dst[((b * heads + h) * t_len + t) * d + j] = to_act<Act>(src[r * ld + i]);
    }
}

// ---- attention softmax: one warp per row ---------------------------------------------------

template <typename Act>
__global__ void attention_softmax_forward_kernel(const float* scores, Act* probs, Index rows,
                                                 Index t_len) {
    const Index row = blockIdx.x * Index{blockDim.x / 32} + threadIdx.x / 32;
    if (row >= rows) return;
    const int lane = threadIdx.x & 31;
    const Index i = row % t_len;
    const float* s = scores + row * t_len;
    Act* p = probs + row * t_len;
    float mx = -INFINITY;
    for (Index j = lane; j <= i; j += 32)
        mx = fmaxf(mx, s[j]);
    mx = warp_max(mx);
    float sum = 0;
    for (Index j = lane; j <= i; j += 32)
        sum += expf(s[j] - mx);
    sum = warp_sum(sum);
    const float inv = 1.0f / sum;
    for (Index j = lane; j < t_len; j += 32)
        p[j] = to_act<Act>(j <= i ? expf(s[j] - mx) * inv : 0.0f);
}

template <typename Act>
__global__ void attention_softmax_backward_kernel(const Act* probs, const float* dprobs,
                                                  Act* dscores, Index rows, Index t_len,
                                                  float scale) {
    const Index row = blockIdx.x * Index{blockDim.x / 32} + threadIdx.x / 32;
    if (row >= rows) return;
    const int lane = threadIdx.x & 31;
    const Index i = row % t_len;
    const Act* p = probs + row * t_len;
    const float* dp = dprobs + row * t_len;
    Act* ds = dscores + row * t_len;
    float dot = 0;
    for (Index j = lane; j <= i; j += 32)
        dot += to_float(p[j]) * dp[j];
    dot = warp_sum(dot);
    for (Index j = lane; j < t_len; j += 32)
        ds[j] = to_act<Act>(j <= i ? to_float(p[j]) * (dp[j] - dot) * scale : 0.0f);
}

// ---- GELU ----------------------------------------------------------------------------------

__device__ __forceinline__ float gelu_f(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
__device__ __forceinline__ float gelu_grad_f(float x) {
    const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    const float pdf = expf(-0.5f * x * x) * 0.39894228040143268f; // 1/sqrt(2 pi)
    return cdf + x * pdf;
}

template <typename Act>
__global__ void gelu_forward_kernel(const float* pre, Act* act, Index n) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < n;
         i += Index{gridDim.x} * blockDim.x)
        act[i] = to_act<Act>(gelu_f(pre[i]));
}

template <typename Act>
__global__ void gelu_backward_kernel(const float* dact, const float* pre, Act* dpre, Index n) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < n;
         i += Index{gridDim.x} * blockDim.x)
        dpre[i] = to_act<Act>(dact[i] * gelu_grad_f(pre[i]));
}

// ---- softmax + cross-entropy: one block per row --------------------------------------------

template <typename Act>
__global__ void cross_entropy_kernel(const float* logits, const std::int32_t* targets,
                                     float* row_loss, Act* dlogits, Index v, float row_scale) {
    __shared__ float shared[32];
    const Index r = blockIdx.x;
    const float* z = logits + r * v;
    float mx = -INFINITY;
    for (Index i = threadIdx.x; i < v; i += blockDim.x)
        mx = fmaxf(mx, z[i]);
    mx = block_max(mx, shared);
    float s = 0;
    for (Index i = threadIdx.x; i < v; i += blockDim.x)
        s += expf(z[i] - mx);
    const float sum = block_sum(s, shared);
    const Index t = targets[r];
    if (threadIdx.x == 0) row_loss[r] = logf(sum) + mx - z[t];
    if (dlogits == nullptr) return;
    const float inv = 1.0f / sum;
    Act* dz = dlogits + r * v;
    for (Index i = threadIdx.x; i < v; i += blockDim.x) {
        const float p = expf(z[i] - mx) * inv;
        dz[i] = to_act<Act>((p - (i == t ? 1.0f : 0.0f)) * row_scale);
    }
}

__global__ void sum_double_kernel(const float* x, Index n, double* out) {
    __shared__ double shared[32];
    double s = 0;
    for (Index i = threadIdx.x; i < n; i += blockDim.x)
        s += static_cast<double>(x[i]);
    s = block_sum(s, shared);
    if (threadIdx.x == 0) out[0] = s;
}

// ---- optimizer -------------------------------------------------------------------------------

__global__ void adamw_ewa_kernel(float* p, const float* g, float* m, float* v,
                                 const std::int32_t* chunk_tensor, const float* tensor_lr,
                                 const float* tensor_decay, AdamScalars sc, EwaSet ewa,
                                 Index total) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < total;
         i += Index{gridDim.x} * blockDim.x) {
        const std::int32_t t = chunk_tensor[i / kChunk];
        const float lr = tensor_lr[t], decay = tensor_decay[t];
        // The same operations in the same order as optimizer.cpp, each rounded on its own (the
        // _rn intrinsics forbid FMA contraction), so the update matches the CPU bit for bit.
        const float gi = __fmul_rn(g[i], sc.grad_scale);
        const float mi = __fadd_rn(__fmul_rn(sc.beta1, m[i]), __fmul_rn(sc.one_minus_beta1, gi));
        const float vi =
            __fadd_rn(__fmul_rn(sc.beta2, v[i]), __fmul_rn(__fmul_rn(sc.one_minus_beta2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        const float mhat = __fmul_rn(mi, sc.inv_c1), vhat = __fmul_rn(vi, sc.inv_c2);
        const float step = __fdiv_rn(__fmul_rn(lr, mhat), __fadd_rn(__fsqrt_rn(vhat), sc.eps));
        const float pi = __fsub_rn(__fmul_rn(p[i], decay), step);
        p[i] = pi;
        for (int k = 0; k < ewa.count; ++k)
            ewa.buf[k][i] = __fadd_rn(__fmul_rn(ewa.a[k], ewa.buf[k][i]), __fmul_rn(ewa.b[k], pi));
    }
}

__global__ void ewa_only_kernel(const float* p, EwaSet ewa, Index total) {
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < total;
         i += Index{gridDim.x} * blockDim.x)
        for (int k = 0; k < ewa.count; ++k)
            ewa.buf[k][i] =
                __fadd_rn(__fmul_rn(ewa.a[k], ewa.buf[k][i]), __fmul_rn(ewa.b[k], p[i]));
}

__global__ void squared_norm_partial_kernel(const float* g, Index n, double* partial) {
    __shared__ double shared[32];
    double s = 0;
    for (Index i = blockIdx.x * Index{blockDim.x} + threadIdx.x; i < n;
         i += Index{gridDim.x} * blockDim.x) {
        const double x = g[i];
        s += x * x;
    }
    s = block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void squared_norm_final_kernel(const double* partial, double* out) {
    __shared__ double shared[32];
    double s = 0;
    for (int i = threadIdx.x; i < kNormBlocks; i += blockDim.x)
        s += partial[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) out[0] = s;
}

int threads_for_row(Index c) {
    // One block per row: enough threads to cover the row in a few passes, a multiple of 32.
    if (c >= 1024) return 256;
    if (c >= 256) return 128;
    return 64;
}

} // namespace

// ---- launchers ---------------------------------------------------------------------------------

void gemm(cublasHandle_t h, bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
          const void* a, cudaDataType_t at, Index lda, const void* b, cudaDataType_t bt, Index ldb,
          float beta, void* c, cudaDataType_t ct, Index ldc, Index batch, Index sa, Index sb,
          Index sc) {
    constexpr Index kMaxInt = 2147483647;
    if (m > kMaxInt || n > kMaxInt || k > kMaxInt || lda > kMaxInt || ldb > kMaxInt ||
        ldc > kMaxInt || batch > kMaxInt)
        cuda_failed(__FILE__, __LINE__, "gemm", "dimension exceeds int range");
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands and
    // keep each one's transpose flag (a row-major matrix is its column-major transpose).
    const cublasOperation_t oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1) {
        CBS_CUBLAS(cublasGemmEx(h, ob, oa, static_cast<int>(n), static_cast<int>(m),
                                static_cast<int>(k), &alpha, b, bt, static_cast<int>(ldb), a, at,
                                static_cast<int>(lda), &beta, c, ct, static_cast<int>(ldc),
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else {
        CBS_CUBLAS(cublasGemmStridedBatchedEx(
            h, ob, oa, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b, bt,
            static_cast<int>(ldb), sb, a, at, static_cast<int>(lda), sa, &beta, c, ct,
            static_cast<int>(ldc), sc, static_cast<int>(batch), CUBLAS_COMPUTE_32F,
            CUBLAS_GEMM_DEFAULT));
    }
}

template <typename Act>
void convert(const float* x, Act* y, Index n, cudaStream_t s) {
    if (n == 0) return;
    convert_kernel<Act><<<blocks_for(n), kThreads, 0, s>>>(x, y, n);
    CBS_CUDA_LAUNCHED("convert_kernel");
}

void scale_copy(const float* x, float factor, float* y, Index n, cudaStream_t s) {
    if (n == 0) return;
    scale_copy_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, factor, y, n);
    CBS_CUDA_LAUNCHED("scale_copy_kernel");
}

void embed_forward(const std::int32_t* tokens, const float* wte, float* x, Index n, Index c,
                   cudaStream_t s) {
    embed_forward_kernel<<<static_cast<unsigned>(n), threads_for_row(c), 0, s>>>(tokens, wte, x, c);
    CBS_CUDA_LAUNCHED("embed_forward_kernel");
}

void embed_backward(const std::int32_t* rows, const std::int32_t* seg_token,
                    const std::int32_t* seg_start, Index segments, const float* dx, float* dwte,
                    Index c, cudaStream_t s) {
    if (segments == 0) return;
    const dim3 grid(static_cast<unsigned>(segments), static_cast<unsigned>((c + 127) / 128));
    embed_backward_kernel<<<grid, 128, 0, s>>>(rows, seg_token, seg_start, dx, dwte, c);
    CBS_CUDA_LAUNCHED("embed_backward_kernel");
}

template <typename Act>
void layernorm_forward(const float* x, Index sx, const float* g, Act* y, float* mean, float* rstd,
                       Index n, Index c, cudaStream_t s) {
    layernorm_forward_kernel<Act>
        <<<static_cast<unsigned>(n), threads_for_row(c), 0, s>>>(x, sx, g, y, mean, rstd, c);
    CBS_CUDA_LAUNCHED("layernorm_forward_kernel");
}

template <typename OutT>
void layernorm_backward_dx(const float* dy, Index sdy, const float* x, Index sx, const float* mean,
                           const float* rstd, const float* g, OutT* dx, Index sdx, bool accumulate,
                           Index n, Index c, cudaStream_t s) {
    // The kernel adds to dx only for a float output; a bf16 output with accumulate would be
    // silently overwritten instead.
    if (accumulate && !std::is_same_v<OutT, float>)
        cuda_failed(__FILE__, __LINE__, "layernorm_backward_dx", "accumulate needs a float dx");
    layernorm_backward_dx_kernel<OutT><<<static_cast<unsigned>(n), threads_for_row(c), 0, s>>>(
        dy, sdy, x, sx, mean, rstd, g, dx, sdx, accumulate, c);
    CBS_CUDA_LAUNCHED("layernorm_backward_dx_kernel");
}

void layernorm_backward_gain(const float* dy, Index sdy, const float* x, Index sx,
                             const float* mean, const float* rstd, float* dg, float* scratch,
                             Index n, Index c, cudaStream_t s) {
    const unsigned col_blocks = static_cast<unsigned>((c + 127) / 128);
    layernorm_gain_partial_kernel<<<dim3(col_blocks, kGainChunks), 128, 0, s>>>(
        dy, sdy, x, sx, mean, rstd, scratch, n, c);
    CBS_CUDA_LAUNCHED("layernorm_gain_partial_kernel");
    layernorm_gain_final_kernel<<<col_blocks, 128, 0, s>>>(scratch, dg, c);
    CBS_CUDA_LAUNCHED("layernorm_gain_final_kernel");
}

template <typename Act>
void qkv_norm_rope(const float* qkv, const float* gq, const float* gk, const float* cos_t,
                   const float* sin_t, Act* q, Act* k, Act* v, float* q_mean, float* q_rstd,
                   float* k_mean, float* k_rstd, Index batch, Index t_len, Index heads, Index d,
                   cudaStream_t s) {
    qkv_norm_rope_kernel<Act>
        <<<static_cast<unsigned>(batch * t_len), threads_for_row(heads * d), 0, s>>>(
            qkv, gq, gk, cos_t, sin_t, q, k, v, q_mean, q_rstd, k_mean, k_rstd, t_len, heads, d);
    CBS_CUDA_LAUNCHED("qkv_norm_rope_kernel");
}

void rope_backward(const float* d_bhtd, const float* cos_t, const float* sin_t, float* dy_rows,
                   Index batch, Index t_len, Index heads, Index d, cudaStream_t s) {
    rope_backward_kernel<<<static_cast<unsigned>(batch * t_len), threads_for_row(heads * d), 0,
                           s>>>(d_bhtd, cos_t, sin_t, dy_rows, t_len, heads, d);
    CBS_CUDA_LAUNCHED("rope_backward_kernel");
}

template <typename Act>
void bhtd_to_rows(const float* src, Act* dst, Index ld, Index col0, Index batch, Index t_len,
                  Index heads, Index d, cudaStream_t s) {
    bhtd_to_rows_kernel<Act>
        <<<static_cast<unsigned>(batch * t_len), threads_for_row(heads * d), 0, s>>>(
            src, dst, ld, col0, t_len, heads, d);
    CBS_CUDA_LAUNCHED("bhtd_to_rows_kernel");
}

template <typename Act>
void rows_to_bhtd(const float* src, Index ld, Act* dst, Index batch, Index t_len, Index heads,
                  Index d, cudaStream_t s) {
    rows_to_bhtd_kernel<Act>
        <<<static_cast<unsigned>(batch * t_len), threads_for_row(heads * d), 0, s>>>(
            src, ld, dst, t_len, heads, d);
    CBS_CUDA_LAUNCHED("rows_to_bhtd_kernel");
}

template <typename Act>
void attention_softmax_forward(const float* scores, Act* probs, Index rows, Index t_len,
                               cudaStream_t s) {
    constexpr int kWarps = 8;
    const unsigned grid = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
    attention_softmax_forward_kernel<Act><<<grid, kWarps * 32, 0, s>>>(scores, probs, rows, t_len);
    CBS_CUDA_LAUNCHED("attention_softmax_forward_kernel");
}

template <typename Act>
void attention_softmax_backward(const Act* probs, const float* dprobs, Act* dscores, Index rows,
                                Index t_len, float scale, cudaStream_t s) {
    constexpr int kWarps = 8;
    const unsigned grid = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
    attention_softmax_backward_kernel<Act>
        <<<grid, kWarps * 32, 0, s>>>(probs, dprobs, dscores, rows, t_len, scale);
    CBS_CUDA_LAUNCHED("attention_softmax_backward_kernel");
}

template <typename Act>
void gelu_forward(const float* pre, Act* act, Index n, cudaStream_t s) {
    gelu_forward_kernel<Act><<<blocks_for(n), kThreads, 0, s>>>(pre, act, n);
    CBS_CUDA_LAUNCHED("gelu_forward_kernel");
}

template <typename Act>
void gelu_backward(const float* dact, const float* pre, Act* dpre, Index n, cudaStream_t s) {
    gelu_backward_kernel<Act><<<blocks_for(n), kThreads, 0, s>>>(dact, pre, dpre, n);
    CBS_CUDA_LAUNCHED("gelu_backward_kernel");
}

template <typename Act>
void cross_entropy(const float* logits, const std::int32_t* targets, float* row_loss, Act* dlogits,
                   Index n, Index v, float row_scale, cudaStream_t s) {
    cross_entropy_kernel<Act><<<static_cast<unsigned>(n), v >= 4096 ? 512 : 128, 0, s>>>(
        logits, targets, row_loss, dlogits, v, row_scale);
    CBS_CUDA_LAUNCHED("cross_entropy_kernel");
}

void sum_double(const float* x, Index n, double* out, cudaStream_t s) {
    sum_double_kernel<<<1, 1024, 0, s>>>(x, n, out);
    CBS_CUDA_LAUNCHED("sum_double_kernel");
}

void adamw_ewa(float* p, const float* g, float* m, float* v, const std::int32_t* chunk_tensor,
               const float* tensor_lr, const float* tensor_decay, AdamScalars sc, EwaSet ewa,
               Index total, cudaStream_t s) {
    adamw_ewa_kernel<<<blocks_for(total), kThreads, 0, s>>>(p, g, m, v, chunk_tensor, tensor_lr,
                                                            tensor_decay, sc, ewa, total);
    CBS_CUDA_LAUNCHED("adamw_ewa_kernel");
}

void ewa_only(const float* p, EwaSet ewa, Index total, cudaStream_t s) {
    ewa_only_kernel<<<blocks_for(total), kThreads, 0, s>>>(p, ewa, total);
    CBS_CUDA_LAUNCHED("ewa_only_kernel");
}

void squared_norm(const float* g, Index n, double* partial, double* out, cudaStream_t s) {
    squared_norm_partial_kernel<<<kNormBlocks, kThreads, 0, s>>>(g, n, partial);
    CBS_CUDA_LAUNCHED("squared_norm_partial_kernel");
    squared_norm_final_kernel<<<1, kThreads, 0, s>>>(partial, out);
    CBS_CUDA_LAUNCHED("squared_norm_final_kernel");
}

// Explicit instantiations: the two activation types.
#define CBS_INSTANTIATE(Act)                                                                       \
    template void convert<Act>(const float*, Act*, Index, cudaStream_t);                           \
    template void layernorm_forward<Act>(const float*, Index, const float*, Act*, float*, float*,  \
                                         Index, Index, cudaStream_t);                              \
    template void layernorm_backward_dx<Act>(const float*, Index, const float*, Index,             \
                                             const float*, const float*, const float*, Act*,       \
                                             Index, bool, Index, Index, cudaStream_t);             \
    template void qkv_norm_rope<Act>(const float*, const float*, const float*, const float*,       \
                                     const float*, Act*, Act*, Act*, float*, float*, float*,       \
                                     float*, Index, Index, Index, Index, cudaStream_t);            \
    template void bhtd_to_rows<Act>(const float*, Act*, Index, Index, Index, Index, Index, Index,  \
                                    cudaStream_t);                                                 \
    template void rows_to_bhtd<Act>(const float*, Index, Act*, Index, Index, Index, Index,         \
                                    cudaStream_t);                                                 \
    template void attention_softmax_forward<Act>(const float*, Act*, Index, Index, cudaStream_t);  \
    template void attention_softmax_backward<Act>(const Act*, const float*, Act*, Index, Index,    \
                                                  float, cudaStream_t);                            \
    template void gelu_forward<Act>(const float*, Act*, Index, cudaStream_t);                      \
    template void gelu_backward<Act>(const float*, const float*, Act*, Index, cudaStream_t);       \
    template void cross_entropy<Act>(const float*, const std::int32_t*, float*, Act*, Index,       \
                                     Index, float, cudaStream_t);
CBS_INSTANTIATE(float)
CBS_INSTANTIATE(__nv_bfloat16)
#undef CBS_INSTANTIATE

} // namespace cbs::lm::cuda
