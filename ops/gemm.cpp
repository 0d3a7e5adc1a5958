#include "ops/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <type_traits>

#include "core/parallel.h"

namespace sg {

namespace {

// Returns false when the layout is neither row- nor column-major (then copy first).
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, BlasOperand* out) {
  if (cs == 1 && (rows == 1 || rs >= cols)) {
    *out = {false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
    return true;
  }
  if (rs == 1 && (cols == 1 || cs >= rows)) {
    *out = {true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
    return true;
  }
  return false;
}

template <class T>
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                 int64_t ldb, T beta, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

}  // namespace

Tensor blas_ready(const Tensor& t, BlasOperand* layout) {
  const int64_t nd = t.dim();
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  if (blas_layout(rows, cols, t.strides()[nd - 2], t.strides()[nd - 1], layout)) return t;
  Tensor c = t.contiguous();
  blas_layout(rows, cols, c.strides()[nd - 2], c.strides()[nd - 1], layout);
  return c;
}

// C's rows are divided among the threads when C is taller than wide, else its columns.
// Each block is a plain BLAS call on a sub-matrix; no data is copied.
template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
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

}  // namespace sg
