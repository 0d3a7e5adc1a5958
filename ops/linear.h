#pragma once
// linear: y = x W^T + b for x (N, in), W (out, in), b (out) or undefined.
// One op rather than matmul + transpose + add: one GEMM writes y on top of the bias,
// and the backward is three direct products. Forward and backward: ops/linear.cpp.
#include "core/tensor.h"

namespace sg {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// linear's argument checks, for ops that compute a linear of their own (sn_linear).
void check_linear_args(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace sg
