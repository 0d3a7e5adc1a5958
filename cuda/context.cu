// The CUDA device: errors, the stream, cuBLAS, and a caching allocator.
//
// The allocator keeps freed blocks keyed by their (rounded) size and hands them out
// again (core/block_cache.h): a training loop reaches a steady state with no
// cudaMalloc/cudaFree per op. When cudaMalloc fails, the cache is released and the
// allocation retried once. It also records steps as CUDA graphs (core/captured_step.h),
// each with its own memory pool.
#include <mutex>

#include "core/block_cache.h"

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
  // A workspace of its own, made here: cuBLAS then never allocates one while a step is
  // being recorded as a graph (core/captured_step.h), where it must not.
  constexpr std::size_t kWorkspaceBytes = 32u << 20;
  struct Handle {
    cublasHandle_t h = nullptr;
    void* workspace = nullptr;
    Handle() {
      check_cublas(cublas_library().create(&h), "cublas");
      check_cublas(cublas_library().set_stream(h, stream()), "cublas");
      check(cudaMalloc(&workspace, kWorkspaceBytes), "cublas workspace");
      check_cublas(cublas_library().set_workspace(h, workspace, kWorkspaceBytes), "cublas workspace");
    }
    ~Handle() {
      cublas_library().destroy(h);
      cudaFree(workspace);
    }
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

// cudaGraphExec_t and the private memory pool of one recorded step.
struct RecordedGraph {
  cudaGraphExec_t exec;
  int pool;
};

class CachingAllocator final : public DeviceInterface {
 public:
  ~CachingAllocator() override {  // at exit: hand the cached blocks back to the driver
    for (void* p : cache_.drain_all()) cudaFree(p);
  }
  void* allocate(std::size_t nbytes, int index) override {
    std::lock_guard<std::mutex> lock(mutex_);
    select(index);
    std::size_t size = round(nbytes);
    if (void* cached = cache_.take(size)) return cached;
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation && !cache_.recording()) {  // give the cache back, try once more
      cudaGetLastError();
      release_cache();
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      detail::throw_error("cuda allocation of ", nbytes, " bytes: CUDA error: ", cudaGetErrorString(status));
    }
    cache_.adopt(p);
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes, int) override {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.give_back(ptr, round(nbytes));  // kept for reuse; work queued on the stream stays ordered
  }

  void copy_from_host(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream()), "copy to cuda");
    synchronize(index);
  }
  void copy_to_host(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream()), "copy from cuda");
    synchronize(index);
  }
  void copy_within(void* dst, const void* src, std::size_t n, int index) override {
    select(index);
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream()), "copy on cuda");
  }
  void synchronize(int index) override {
    select(index);
    check(cudaStreamSynchronize(stream()), "cuda synchronize");
    raise_deferred_errors();
  }

  // ---- recorded steps (core/captured_step.h) ----------------------------------------------
  // Relaxed mode: the recording thread may still call cudaMalloc (a block for the graph's
  // pool); nothing in a step synchronises (core/ refuses it while a step is captured).
  bool can_capture() const override { return true; }
  void begin_capture(int index) override {
    select(index);
    synchronize(index);  // errors of earlier work surface here, not inside the recording
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cache_.begin_recording();
    }
    const cudaError_t began = cudaStreamBeginCapture(stream(), cudaStreamCaptureModeRelaxed);
    if (began != cudaSuccess) {  // the allocator must not stay in recording mode
      cudaGetLastError();
      release_graph_pool(stop_recording());
      check(began, "CapturedStep: begin capture");
    }
  }
  void* end_capture(int index) override {
    select(index);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
    const int pool = stop_recording();
    if (ended != cudaSuccess) {
      release_graph_pool(pool);
      check(ended, "CapturedStep: end capture");
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (made != cudaSuccess) {
      release_graph_pool(pool);
      check(made, "CapturedStep: instantiate the graph");
    }
    return new RecordedGraph{exec, pool};
  }
  void abort_capture(int index) override {
    select(index);
    cudaGraph_t graph = nullptr;
    if (cudaStreamEndCapture(stream(), &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    release_graph_pool(stop_recording());
  }
  void replay(void* graph, int index) override {
    select(index);
    check(cudaGraphLaunch(static_cast<RecordedGraph*>(graph)->exec, stream()), "CapturedStep: replay");
  }
  void destroy_graph(void* graph, int index) override {
    select(index);
    auto* recorded = static_cast<RecordedGraph*>(graph);
    cudaStreamSynchronize(stream());  // a replay may still be running
    cudaGraphExecDestroy(recorded->exec);
    release_graph_pool(recorded->pool);
    delete recorded;
  }

 private:
  static std::size_t round(std::size_t n) { return n < 512 ? 512 : (n + 511) / 512 * 512; }
  static void select(int index) {
    SG_CHECK(index == 0, "cuda:", index, ": only device cuda:0 is supported");
  }
  void release_cache() {
    cudaStreamSynchronize(stream());
    for (void* p : cache_.drain_shared()) cudaFree(p);
  }
  int stop_recording() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cache_.end_recording();
  }
  void release_graph_pool(int pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.release_pool(pool);
  }
  BlockCache cache_;
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

const FastKernels* fast_kernels() {
  static const FastKernels table = [] {
    spectral_norm_counters();  // allocated now, never inside a captured step
    FastKernels fast{};        // null entries: those ops take their textbook computation here
    fast.power_iteration = power_iteration;
    fast.sn_backward_rank_one = sn_backward_rank_one;
    return fast;
  }();
  return available() ? &table : nullptr;
}

}  // namespace sg::cuda
