// Private to gpu/*.cu: the error-checking wrapper for every CUDA and cuBLAS call, the check after
// every kernel launch, and move-only RAII owners for device buffers, streams and cuBLAS handles.
// Never include this from a .cpp or .hpp: CUDA types stay behind the wall (STYLE.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace cbs::lm::cuda {

/// A failed CUDA runtime or cuBLAS call (library channel, STYLE.md): file, line, the call, the
/// library's error name and message.
class CudaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline const char* cublas_status_name(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS:
        return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
        return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
        return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
        return "CUBLAS_STATUS_(other)";
    }
}

[[noreturn]] inline void cuda_failed(const char* file, int line, const char* call,
                                     const std::string& error) {
    std::ostringstream os;
    os << file << ":" << line << ": " << call << " failed: " << error;
    throw CudaError(os.str());
}

inline void check_cuda(cudaError_t e, const char* file, int line, const char* call) {
    if (e != cudaSuccess)
        cuda_failed(file, line, call,
                    std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")");
}

inline void check_cublas(cublasStatus_t s, const char* file, int line, const char* call) {
    if (s != CUBLAS_STATUS_SUCCESS)
        cuda_failed(file, line, call,
                    std::string(cublas_status_name(s)) + " (" + cublasGetStatusString(s) + ")");
}

} // namespace cbs::lm::cuda

/// Every CUDA runtime call goes through this: throws CudaError naming file, line, call, error.
#define CBS_CUDA(call) ::cbs::lm::cuda::check_cuda((call), __FILE__, __LINE__, #call)
/// Every cuBLAS call goes through this.
#define CBS_CUBLAS(call) ::cbs::lm::cuda::check_cublas((call), __FILE__, __LINE__, #call)
/// After every kernel launch: launch-configuration errors now, execution errors at the next
/// synchronising call (or at once when CBS_CUDA_SYNC_CHECK is defined, for debugging).
#ifdef CBS_CUDA_SYNC_CHECK
#define CBS_CUDA_LAUNCHED(name)                                                                    \
    do {                                                                                           \
        ::cbs::lm::cuda::check_cuda(cudaGetLastError(), __FILE__, __LINE__, name);                 \
        ::cbs::lm::cuda::check_cuda(cudaDeviceSynchronize(), __FILE__, __LINE__, name);            \
    } while (0)
#else
#define CBS_CUDA_LAUNCHED(name)                                                                    \
    ::cbs::lm::cuda::check_cuda(cudaGetLastError(), __FILE__, __LINE__, name)
#endif

namespace cbs::lm::cuda {

/// Move-only owner of `count` elements of T in device memory (cudaMalloc; never managed memory).
template <typename T>
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t count) { resize(count); }
    ~DeviceBuffer() { release(); }
    DeviceBuffer(DeviceBuffer&& o) noexcept
        : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = std::exchange(o.ptr_, nullptr);
            count_ = std::exchange(o.count_, 0);
        }
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    /// Reallocates (contents lost) when `count` differs from the current size.
    void resize(std::size_t count) {
        if (count == count_) return;
        release();
        if (count > 0) CBS_CUDA(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
        count_ = count;
    }
    void zero(cudaStream_t s) {
        if (count_ > 0) CBS_CUDA(cudaMemsetAsync(ptr_, 0, count_ * sizeof(T), s));
    }
    T* get() const { return ptr_; }
    std::size_t size() const { return count_; }

private:
    void release() noexcept {
        if (ptr_) {
            const cudaError_t e = cudaFree(ptr_);
            if (e != cudaSuccess) // destructors never throw: report and go on
                std::fprintf(stderr, "cbs: cudaFree failed: %s\n", cudaGetErrorString(e));
        }
        ptr_ = nullptr;
        count_ = 0;
    }
    T* ptr_ = nullptr;
    std::size_t count_ = 0;
};

/// Move-only owner of a non-blocking CUDA stream.
class Stream {
public:
    Stream() { CBS_CUDA(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
    ~Stream() {
        if (s_) {
            const cudaError_t e = cudaStreamDestroy(s_);
            if (e != cudaSuccess)
                std::fprintf(stderr, "cbs: cudaStreamDestroy failed: %s\n", cudaGetErrorString(e));
        }
    }
    Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Stream& operator=(Stream&&) = delete;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return s_; }
    void synchronize() const { CBS_CUDA(cudaStreamSynchronize(s_)); }

private:
    cudaStream_t s_ = nullptr;
};

/// Move-only owner of a cuBLAS handle bound to one stream. Pointer mode host (alpha, beta on the
/// host); atomics not allowed (the default), so results are bitwise reproducible on one device.
class CublasHandle {
public:
    explicit CublasHandle(cudaStream_t stream) {
        CBS_CUBLAS(cublasCreate(&h_));
        CBS_CUBLAS(cublasSetStream(h_, stream));
        CBS_CUBLAS(cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST));
        CBS_CUBLAS(cublasSetAtomicsMode(h_, CUBLAS_ATOMICS_NOT_ALLOWED));
    }
    ~CublasHandle() {
        if (h_) {
            const cublasStatus_t s = cublasDestroy(h_);
            if (s != CUBLAS_STATUS_SUCCESS)
                std::fprintf(stderr, "cbs: cublasDestroy failed: %s\n", cublas_status_name(s));
        }
    }
    CublasHandle(CublasHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    CublasHandle& operator=(CublasHandle&&) = delete;
    CublasHandle(const CublasHandle&) = delete;
    CublasHandle& operator=(const CublasHandle&) = delete;
    cublasHandle_t get() const { return h_; }

private:
    cublasHandle_t h_ = nullptr;
};

/// Host <-> device copies on a stream, synchronous for the host (the host buffer may be reused
/// at once): used only at initialisation, checkpoints, per-step token upload and scalar reads.
template <typename T>
void copy_to_device(T* dst, const T* src, std::size_t count, cudaStream_t s) {
    if (count == 0) return;
    CBS_CUDA(cudaMemcpyAsync(dst, src, count * sizeof(T), cudaMemcpyHostToDevice, s));
    CBS_CUDA(cudaStreamSynchronize(s));
}
template <typename T>
void copy_to_host(T* dst, const T* src, std::size_t count, cudaStream_t s) {
    if (count == 0) return;
    CBS_CUDA(cudaMemcpyAsync(dst, src, count * sizeof(T), cudaMemcpyDeviceToHost, s));
    CBS_CUDA(cudaStreamSynchronize(s));
}

} // namespace cbs::lm::cuda
