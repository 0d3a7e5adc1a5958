#include "cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

namespace {

template <class T>
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                 int64_t ldb, T beta, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

std::atomic<std::vector<GemmCall>*> recording{nullptr};
std::mutex recording_mutex;

template <class T>
void record(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, T beta, int64_t ldc) {
  std::vector<GemmCall>* log = recording.load(std::memory_order_acquire);
  if (!log) return;
  std::lock_guard<std::mutex> lock(recording_mutex);
  log->push_back({ta, tb, m, n, k, lda, ldb, ldc, beta != T(0), std::is_same_v<T, float> ? DType::Float32 : DType::Float64});
}

}  // namespace

void record_gemm_calls(std::vector<GemmCall>* log) { recording.store(log, std::memory_order_release); }

// C's rows are divided among the threads when C is taller than wide, else its columns.
// Each block is a plain BLAS call on a sub-matrix; no data is copied.
template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  record(ta, tb, m, n, k, lda, ldb, beta, ldc);
  constexpr int64_t kMinFlopsPerThread = 1 << 21;  // below this, threads cost more than they save
  const int64_t grain_rows = std::max<int64_t>(8, kMinFlopsPerThread / std::max<int64_t>(n * k, 1));
  const int64_t grain_cols = std::max<int64_t>(16, kMinFlopsPerThread / std::max<int64_t>(m * k, 1));
  if (m >= n) {
    parallel_for(m, grain_rows, [&](int64_t r0, int64_t r1) {
      const T* a0 = ta ? a + r0 : a + r0 * lda;
      gemm_serial<T>(ta, tb, r1 - r0, n, k, alpha, a0, lda, b, ldb, beta, c + r0 * ldc, ldc);
    });
  } else {
    parallel_for(n, grain_cols, [&](int64_t c0, int64_t c1) {
      const T* b0 = tb ? b + c0 * ldb : b + c0;
      gemm_serial<T>(ta, tb, m, c1 - c0, k, alpha, a, lda, b0, ldb, beta, c + c0, ldc);
    });
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

// The table's entry: one GEMM per batch entry, each split across the pool as above.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, int64_t stride_a,
          const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c, int64_t batch,
          DType dtype) {
  dispatch_floating(dtype, "matmul", [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* pc = static_cast<T*>(c);
    for (int64_t i = 0; i < batch; ++i)
      gemm<T>(trans_a, trans_b, m, n, k, T(1), pa + i * stride_a, lda, pb + i * stride_b, ldb, T(0), pc + i * stride_c,
              ldc);
  });
}

}  // namespace sg::cpu
