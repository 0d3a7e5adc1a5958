// GEMM through cuBLAS: the CUDA side of cpu/gemm.cpp (the gemm entry behind ops/matmul.cpp).
//
// cuBLAS is column-major and our tensors are row-major. A row-major (m x n) matrix C is
// the column-major (n x m) matrix C^T, so C = op(A) op(B) is computed as
// C^T = op(B)^T op(A)^T: the operands swap places and keep their transpose flags.
#include "cuda/backend.h"
#include "cuda/context.cuh"
#include "cuda/cublas_library.cuh"

namespace sg::cuda {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, int64_t stride_a,
          const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c, int64_t batch,
          DType dtype) {
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  if (dtype == DType::Float32) {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublas_library().sgemm_strided_batched(cublas(), op_b, op_a, ni, mi, ki, &one, static_cast<const float*>(b),
                                           static_cast<int>(ldb), stride_b, static_cast<const float*>(a),
                                           static_cast<int>(lda), stride_a, &zero, static_cast<float*>(c),
                                           static_cast<int>(ldc), stride_c, static_cast<int>(batch)),
                 "matmul");
  } else {
    SG_CHECK(dtype == DType::Float64, "matmul: expected float32 or float64 on cuda, got ", dtype_name(dtype));
    const double one = 1.0, zero = 0.0;
    check_cublas(cublas_library().dgemm_strided_batched(cublas(), op_b, op_a, ni, mi, ki, &one, static_cast<const double*>(b),
                                           static_cast<int>(ldb), stride_b, static_cast<const double*>(a),
                                           static_cast<int>(lda), stride_a, &zero, static_cast<double*>(c),
                                           static_cast<int>(ldc), stride_c, static_cast<int>(batch)),
                 "matmul");
  }
}

}  // namespace sg::cuda
