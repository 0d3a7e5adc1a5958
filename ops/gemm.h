#pragma once
// The CPU GEMM every matrix-product op goes through (matmul, linear, conv):
//   C = alpha op(A) op(B) + beta C,   row-major, op(X) = X or X^T,
// as plain OpenBLAS calls on blocks of C split across sigmagrad's thread pool
// (OpenBLAS itself runs single-threaded, see core/parallel.cpp).
#include <cstdint>

#include "core/tensor.h"

namespace sg {

// How BLAS reads the last two dims of a tensor: transposed or not, and the leading dim.
struct BlasOperand {
  bool transposed = false;
  int64_t ld = 0;
};

// `t` itself when BLAS can read its last two dims as they are, else a contiguous copy;
// `layout` says how to read the result.
Tensor blas_ready(const Tensor& t, BlasOperand* layout);

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace sg
