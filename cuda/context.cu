// The CUDA device: errors, the stream, cuBLAS, and a caching allocator.
//
// The allocator keeps freed blocks in a pool keyed by their (rounded) size and hands
// them out again: a training loop reaches a steady state with no cudaMalloc/cudaFree
// per op. When cudaMalloc fails, the pool is released and the allocation retried once.
#include <map>
#include <mutex>

#include "cuda/backend.h"
#include "cuda/context.cuh"
#include "cuda/cublas_library.cuh"

namespace sg::cuda {

void check(cudaError_t status, const char* op) {
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky non-fatal error state
    detail::throw_error(op, ": CUDA error: ", cudaGetErrorString(status));
  }
}

void check_cublas(cublasStatus_t status, const char* op) {
  if (status != CUBLAS_STATUS_SUCCESS)
    detail::throw_error(op, ": cuBLAS error: ", cublas_library().status_string(status));
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created;
    check(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking), "cuda stream");
    return created;
  }();
  return s;
}

cublasHandle_t cublas() {
  // Destroyed at exit, so that the handle's workspace goes back to the driver.
  struct Handle {
    cublasHandle_t h = nullptr;
    Handle() {
      check_cublas(cublas_library().create(&h), "cublas");
      check_cublas(cublas_library().set_stream(h, stream()), "cublas");
    }
    ~Handle() { cublas_library().destroy(h); }
  };
  static Handle handle;
  return handle.h;
}

Geometry make_geometry(const Shape& shape, const Shape* strides[], int operands, const char* op) {
  SG_CHECK(shape.size() <= kMaxDims, op, ": CUDA kernels support up to ", kMaxDims, " dims, got shape ",
           shape_str(shape));
  Geometry g;
  g.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < g.ndim; ++d) {
    g.shape[d] = shape[static_cast<std::size_t>(d)];
    for (int k = 0; k < operands; ++k) g.strides[k][d] = (*strides[k])[static_cast<std::size_t>(d)];
  }
  return g;
}

namespace {

class CachingAllocator final : public DeviceInterface {
 public:
  ~CachingAllocator() override {  // at exit: hand the pooled blocks back to the driver
    for (auto& [size, p] : pool_) cudaFree(p);
  }
  void* allocate(std::size_t nbytes, int index) override {
    std::lock_guard<std::mutex> lock(mutex_);
    select(index);
    std::size_t size = round(nbytes);
    auto it = pool_.find(size);
    if (it != pool_.end()) {
      void* p = it->second;
      pool_.erase(it);
      return p;
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {  // give the pool back and try once more
      cudaGetLastError();
      release_pool();
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      detail::throw_error("cuda allocation of ", nbytes, " bytes: CUDA error: ", cudaGetErrorString(status));
    }
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes, int) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_.emplace(round(nbytes), ptr);  // kept for reuse; work queued on the stream stays ordered
  }

  void copy_from_host(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream()), "copy to cuda");
    check(cudaStreamSynchronize(stream()), "copy to cuda");
  }
  void copy_to_host(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream()), "copy from cuda");
    check(cudaStreamSynchronize(stream()), "copy from cuda");
  }
  void copy_within(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream()), "copy on cuda");
  }

 private:
  static std::size_t round(std::size_t n) { return n < 512 ? 512 : (n + 511) / 512 * 512; }
  static void select(int index) {
    SG_CHECK(index == 0, "cuda:", index, ": only device cuda:0 is supported");
  }
  void release_pool() {
    cudaStreamSynchronize(stream());
    for (auto& [size, p] : pool_) cudaFree(p);
    pool_.clear();
  }
  std::multimap<std::size_t, void*> pool_;
  std::mutex mutex_;
};

}  // namespace

bool available() {
  static const bool found = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      cudaGetLastError();
      return false;
    }
    static CachingAllocator allocator;
    register_device_interface(DeviceType::CUDA, &allocator);
    return true;
  }();
  return found;
}

const Kernels* kernels() {
  // The CUDA row of the dispatch table: the functions of cuda/backend.h, by the names
  // kernels/kernels.h lists.
  static const Kernels table = make_table<Kernels>(SG_KERNELS);
  return available() ? &table : nullptr;
}

}  // namespace sg::cuda
