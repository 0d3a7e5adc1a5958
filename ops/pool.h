#pragma once
// 2-D pooling over (N, C, H, W) with a square kernel. Forward and backward: ops/pool.cpp.
#include "core/tensor.h"

namespace sg {

// Padding counts as -infinity; the gradient goes to the maximum (the first one on ties).
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = -1, int64_t padding = 0);
// Padding counts as zeros and is included in the divisor (PyTorch's default).
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = -1, int64_t padding = 0);

}  // namespace sg
