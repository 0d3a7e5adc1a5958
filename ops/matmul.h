#pragma once
// Matrix product through BLAS GEMM: (m,k)@(k,n), batched (B,m,k)@(B,k,n), and a 2-D
// operand broadcast over the other's batch. Transposed views are passed to BLAS as
// transpose flags, never copied. Forward and backward: ops/matmul.cpp.
#include "core/tensor.h"

namespace sg {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace sg
