#pragma once
// The CPU GEMM every matrix product goes through (the table's gemm entry, and the fast
// linear and conv kernels):
//   C = alpha op(A) op(B) + beta C,   row-major, op(X) = X or X^T,
// as plain OpenBLAS calls on blocks of C split across sigmagrad's thread pool
// (OpenBLAS itself runs single-threaded, see core/parallel.cpp).
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sg::cpu {

// One call as cpu::gemm received it: what bench/gan_step --gemm-bound replays to time an
// iteration's GEMMs alone.
struct GemmCall {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  bool accumulate;  // beta != 0
  DType dtype;
};
// While `log` is set, every cpu::gemm call is appended to it (from any thread, in the order
// the calls start); nullptr stops the recording. Off, it costs one atomic load per call.
void record_gemm_calls(std::vector<GemmCall>* log);

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace sg::cpu
